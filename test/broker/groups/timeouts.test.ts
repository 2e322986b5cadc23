import { describe, expect, it } from 'vitest';
import { harness, heldBy } from './helpers/harness.js';

describe('liveness and revocation deadlines', () => {
  it('removes a member that misses its heartbeats, tells it why, and rebalances its partitions', async () => {
    const h = await harness({ orders: 2 }, {}, { sequentialIds: true });
    const a = await h.join('g', ['orders'], { sessionTimeoutMs: 10_000 });
    const b = await h.join('g', ['orders'], { sessionTimeoutMs: 60_000 });
    a.ack();
    expect(b.partitions).toEqual(['orders/1']);
    h.time.advance(9_999);
    expect(a.removedWith).toBeNull();
    h.time.advance(1);
    expect(a.removedWith).toMatchObject({ code: 'SEALBUS_ERR_GROUP_SESSION_TIMEOUT', retriable: true });
    expect(a.removedWith?.message).toBe(`Member m001 of group "g" sent no heartbeat for 10000 ms and was removed; join the group again`);
    expect(h.coordinator.hasMember('g', a.memberId, a.owner)).toBe(false);
    expect(b.generation).toBe(3);
    expect(b.partitions).toEqual(['orders/0', 'orders/1']);
  });

  it('keeps a member that heartbeats in time, however long it lives', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders'], { sessionTimeoutMs: 10_000 });
    for (let i = 0; i < 20; i++) {
      h.time.advance(9_000);
      a.ack();
    }
    expect(a.removedWith).toBeNull();
    expect(h.coordinator.hasMember('g', a.memberId, a.owner)).toBe(true);
  });

  it('removes a member that keeps heartbeating but never acknowledges its revocation', async () => {
    const h = await harness({ orders: 2 }, {}, { sequentialIds: true });
    const a = await h.join('g', ['orders'], { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000 });
    const b = await h.join('g', ['orders'], { sessionTimeoutMs: 60_000 });
    const told = a.generation;
    for (let elapsed = 0; elapsed < 18_000; elapsed += 6_000) {
      h.time.advance(6_000);
      h.coordinator.heartbeat('g', a.memberId, a.owner, told - 1);
    }
    expect(a.removedWith).toBeNull();
    expect(b.partitions).toEqual([]);
    h.time.advance(2_000);
    expect(a.removedWith).toMatchObject({ code: 'SEALBUS_ERR_GROUP_REBALANCE_TIMEOUT', retriable: true });
    expect(a.removedWith?.message).toContain('20000 ms');
    expect(b.partitions).toEqual(['orders/0', 'orders/1']);
  });

  it('needs no acknowledgement from a member that lost nothing', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders'], { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000 });
    a.ack();
    const b = await h.join('g', ['orders'], { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000 });
    a.ack();
    // b was pushed nothing to give up: heartbeating with its join generation is enough.
    for (let i = 0; i < 4; i++) {
      h.time.advance(4_000);
      h.coordinator.heartbeat('g', b.memberId, b.owner, 1);
      a.ack();
    }
    expect(b.removedWith).toBeNull();
    heldBy([a, b]);
  });

  it('clears the revocation deadline once the member acknowledges', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders'], { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000 });
    await h.join('g', ['orders'], { sessionTimeoutMs: 60_000 });
    h.time.advance(4_000);
    a.ack();
    for (let i = 0; i < 5; i++) {
      h.time.advance(4_000);
      a.ack();
    }
    expect(a.removedWith).toBeNull();
  });
});
