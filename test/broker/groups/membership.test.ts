import { describe, expect, it } from 'vitest';
import { codeOf } from '../../helpers/error-code.js';
import { harness, heldBy, TestMember } from './helpers/harness.js';

describe('group membership and cooperative rebalancing', () => {
  it('gives the first member every partition, with a random member id', async () => {
    const h = await harness({ orders: 3 });
    const a = await h.join('g', ['orders']);
    expect(a.memberId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.latest).toEqual({
      group: 'g',
      memberId: a.memberId,
      generation: 1,
      partitions: [0, 1, 2].map((partition) => ({ topic: 'orders', partition, committedOffset: null })),
    });
    const b = await h.join('g', ['orders']);
    expect(b.memberId).not.toBe(a.memberId);
  });

  it('hands a partition to a new member only after its old owner acknowledges the revocation', async () => {
    const h = await harness({ orders: 4 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    // Range over two members: 2 each. b owns nothing yet, a keeps its targeted share and is told to stop the rest.
    expect(b.generation).toBe(2);
    expect(a.generation).toBe(2);
    expect(b.partitions).toEqual([]);
    expect(a.partitions).toHaveLength(2);
    const described = await h.coordinator.describe('g');
    expect(described.state).toBe('rebalancing');
    const revoking = described.members.find((m) => m.memberId === a.memberId)!.pendingRevocation;
    expect(revoking).toHaveLength(2);
    heldBy([a, b]);

    a.ack();
    expect(b.partitions).toEqual(revoking.map((p) => `${p.topic}/${p.partition}`));
    expect(b.generation).toBe(2);
    heldBy([a, b]);
    expect((await h.coordinator.describe('g')).state).toBe('stable');
  });

  it('does not release on a heartbeat for an older generation', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    h.coordinator.heartbeat('g', a.memberId, a.owner, 1);
    expect(b.partitions).toEqual([]);
    a.ack();
    expect(b.partitions).toHaveLength(1);
  });

  it('pushes every member on every rebalance, and generations only grow', async () => {
    const h = await harness({ orders: 6 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    a.ack();
    const pushesToB = b.received.length;
    const c = await h.join('g', ['orders']);
    expect(b.received.length).toBe(pushesToB + 1);
    expect([a.generation, b.generation, c.generation]).toEqual([3, 3, 3]);
    for (const member of [a, b, c]) {
      const generations = member.received.map((r) => r.generation);
      expect(generations).toEqual([...generations].sort((x, y) => x - y));
    }
  });

  it('frees the partitions of a leaving member at once and rebalances the rest', async () => {
    const h = await harness({ orders: 4 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    a.ack();
    b.leave();
    expect(a.generation).toBe(3);
    expect(a.partitions).toEqual(['orders/0', 'orders/1', 'orders/2', 'orders/3']);
    a.leave();
    expect(await codeOf(h.coordinator.describe('g'))).toBe('SEALBUS_ERR_GROUP_NOT_FOUND');
  });

  it('leaveAll removes every member of the closed session, in every group', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g1', ['orders']);
    const other = await h.join('g1', ['orders']);
    // A second membership on the same session (owner) in another group.
    const sameSession = new TestMember(h.coordinator, 'g2');
    const joined = await h.coordinator.join({
      group: 'g2', topics: ['orders'], strategy: 'range', owner: a.owner, principal: 'alice', clientAddress: null, channel: sameSession,
    });
    h.coordinator.leaveAll(a.owner);
    expect(h.coordinator.hasMember('g1', a.memberId, a.owner)).toBe(false);
    expect(h.coordinator.hasMember('g2', joined.memberId, a.owner)).toBe(false);
    expect(other.partitions).toEqual(['orders/0', 'orders/1']);
    expect(a.removedWith).toBeNull();
    expect((await h.coordinator.list()).map((g) => g.group)).toEqual(['g1']);
  });

  it('rejects heartbeats, leaves and commits for a member id from another session', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    const intruder = {};
    expect(() => h.coordinator.heartbeat('g', a.memberId, intruder, a.generation)).toThrow(
      expect.objectContaining({ code: 'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER' }),
    );
    expect(() => h.coordinator.leave('g', a.memberId, intruder)).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER' }));
    expect(await codeOf(h.coordinator.commit('g', a.memberId, intruder, a.generation, [{ topic: 'orders', partition: 0, offset: 1 }]))).toBe(
      'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER',
    );
    expect(h.coordinator.hasMember('g', a.memberId, intruder)).toBe(false);
    expect(h.coordinator.hasMember('g', a.memberId, a.owner)).toBe(true);
    h.coordinator.leaveAll(intruder);
    expect(h.coordinator.hasMember('g', a.memberId, a.owner)).toBe(true);
  });

  it('rejects a heartbeat claiming a generation the member was never sent', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    expect(() => h.coordinator.heartbeat('g', a.memberId, a.owner, a.generation + 1)).toThrow(
      expect.objectContaining({ code: 'SEALBUS_ERR_REQUEST_INVALID' }),
    );
    expect(b.partitions).toEqual([]);
  });

  it('rejects a join with another strategy than the group uses', async () => {
    const h = await harness({ orders: 1 });
    await h.join('g', ['orders'], { strategy: 'sticky' });
    const err = await h.join('g', ['orders'], { strategy: 'range' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEALBUS_ERR_GROUP_STRATEGY_MISMATCH', status: 409 });
    expect((err as Error).message).toBe('Group "g" uses the sticky assignment strategy, not range; join with sticky or use another group');
  });

  it('holds pushes until the join reply is out, then sends one coalesced push', async () => {
    const h = await harness({ orders: 2 });
    const a = new TestMember(h.coordinator, 'g');
    const b = new TestMember(h.coordinator, 'g');
    const request = { group: 'g', topics: ['orders'], strategy: 'range' as const, principal: 'p', clientAddress: null };
    // Both joins resolve in the same turn: the second one's rebalance must not reach a before it has its id.
    const [ra, rb] = await Promise.all([
      h.coordinator.join({ ...request, owner: a.owner, channel: a }),
      h.coordinator.join({ ...request, owner: b.owner, channel: b }),
    ]);
    a.memberId = ra.memberId;
    a.received.push(ra.assignment);
    b.memberId = rb.memberId;
    b.received.push(rb.assignment);
    expect(a.received).toHaveLength(1);
    expect(a.early + b.early).toBe(0);
    h.time.advance(0);
    expect(a.received).toHaveLength(2);
    expect(a.generation).toBe(2);
    a.ack();
    expect(b.partitions).toHaveLength(1);
    heldBy([a, b]);
  });

  it('validates joins: group name, topics, timeouts and limits', async () => {
    const h = await harness({ orders: 1 }, { maxMembersPerGroup: 2, maxTopicsPerMember: 2, maxGroups: 1 });
    expect(await codeOf(h.join('', ['orders']))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(h.join('g', []))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(h.join('g', ['bad/name']))).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
    expect(await codeOf(h.join('g', ['a', 'b', 'c']))).toBe('SEALBUS_ERR_GROUP_TOO_MANY_TOPICS');
    expect(await codeOf(h.join('g', ['orders'], { sessionTimeoutMs: 999 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(h.join('g', ['orders'], { sessionTimeoutMs: 300_001 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(h.join('g', ['orders'], { rebalanceTimeoutMs: 600_001 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    await h.join('g', ['orders', 'orders']);
    await h.join('g', ['orders']);
    const full = await h.join('g', ['orders']).catch((e: unknown) => e);
    expect(full).toMatchObject({ code: 'SEALBUS_ERR_GROUP_TOO_MANY_MEMBERS', status: 429, retriable: true });
    expect(await codeOf(h.join('other', ['orders']))).toBe('SEALBUS_ERR_GROUP_TOO_MANY_GROUPS');
  });

  it('refuses everything after close and leaves no timer behind', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    expect(h.time.pendingTimers).toBeGreaterThan(0);
    h.coordinator.close();
    expect(h.time.pendingTimers).toBe(0);
    expect(await codeOf(h.join('g', ['orders']))).toBe('SEALBUS_ERR_UNAVAILABLE');
    expect(() => a.ack()).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER' }));
    expect(a.removedWith).toBeNull();
  });
});
