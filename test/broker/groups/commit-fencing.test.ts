import { describe, expect, it } from 'vitest';
import { codeOf } from '../../helpers/error-code.js';
import { harness } from './helpers/harness.js';

describe('commit fencing', () => {
  it('accepts a commit from the owner at its current generation and stores it', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 1, offset: 5 }]);
    expect(await h.store.fetchOffsets('g')).toEqual([expect.objectContaining({ topic: 'orders', partition: 1, offset: 5, metadata: '' })]);
  });

  it('rejects a commit from a stale generation with a message naming both', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    await h.join('g', ['orders']);
    expect(a.generation).toBe(2);
    const err = await a.commit([{ topic: 'orders', partition: 0, offset: 1 }], 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEALBUS_ERR_GROUP_STALE_GENERATION', status: 409, retriable: true });
    expect((err as Error).message).toBe(
      'Generation 1 of group "g" is stale: the member is at generation 2; apply the latest assignment and retry with generation 2',
    );
    expect(await h.store.fetchOffsets('g')).toEqual([]);
  });

  it('rejects a commit on a partition the member does not own, and the whole commit with it', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    a.ack();
    const mine = a.latest.partitions[0]!.partition;
    const theirs = b.latest.partitions[0]!.partition;
    expect(mine).not.toBe(theirs);
    const err = await a
      .commit([
        { topic: 'orders', partition: mine, offset: 3 },
        { topic: 'orders', partition: theirs, offset: 3 },
      ])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEALBUS_ERR_GROUP_NOT_ASSIGNED', details: { topic: 'orders', partition: theirs } });
    expect((err as Error).message).toContain(`orders/${theirs}`);
    expect(await h.store.fetchOffsets('g')).toEqual([]);
    await b.commit([{ topic: 'orders', partition: theirs, offset: 3 }]);
  });

  it('rejects a commit on a partition the member is only about to receive', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    // The partition a no longer has is targeted to b, but a owns it until it acknowledges.
    const coming = a.latest.partitions[0]!.partition === 0 ? 1 : 0;
    expect(await codeOf(b.commit([{ topic: 'orders', partition: coming, offset: 1 }]))).toBe('SEALBUS_ERR_GROUP_NOT_ASSIGNED');
  });

  it('accepts a commit on a pending revocation before the ack, and rejects it after', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['orders']);
    expect(a.partitions).toHaveLength(1);
    const revoked = a.latest.partitions[0]!.partition === 0 ? 1 : 0;
    await a.commit([{ topic: 'orders', partition: revoked, offset: 7 }]);
    a.ack();
    expect(await codeOf(a.commit([{ topic: 'orders', partition: revoked, offset: 8 }]))).toBe('SEALBUS_ERR_GROUP_NOT_ASSIGNED');
    // The new owner starts where the old one committed: nothing skipped.
    expect(b.latest.partitions).toEqual([{ topic: 'orders', partition: revoked, committedOffset: 7 }]);
  });

  it('rejects a commit with the member id of another session', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    expect(await codeOf(h.coordinator.commit('g', a.memberId, {}, a.generation, [{ topic: 'orders', partition: 0, offset: 1 }]))).toBe(
      'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER',
    );
    expect(await codeOf(h.coordinator.commit('g', 'guessed-id', a.owner, a.generation, [{ topic: 'orders', partition: 0, offset: 1 }]))).toBe(
      'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER',
    );
    expect(await h.store.fetchOffsets('g')).toEqual([]);
  });

  it('rejects a commit after the member left or was removed', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders'], { sessionTimeoutMs: 1_000 });
    const b = await h.join('g', ['orders'], { sessionTimeoutMs: 5_000 });
    h.time.advance(1_000);
    expect(a.removedWith?.code).toBe('SEALBUS_ERR_GROUP_SESSION_TIMEOUT');
    expect(await codeOf(a.commit([{ topic: 'orders', partition: 0, offset: 1 }]))).toBe('SEALBUS_ERR_GROUP_UNKNOWN_MEMBER');
    b.leave();
    expect(await codeOf(b.commit([{ topic: 'orders', partition: 0, offset: 1 }]))).toBe('SEALBUS_ERR_GROUP_UNKNOWN_MEMBER');
  });

  it('validates offsets and metadata before storing anything', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('g', ['orders']);
    expect(await codeOf(a.commit([{ topic: 'orders', partition: 0, offset: -1 }]))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(
      await codeOf(h.coordinator.commit('g', a.memberId, a.owner, a.generation, [{ topic: 'orders', partition: 0, offset: 1, metadata: 'x'.repeat(5000) }])),
    ).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(h.coordinator.commit('g', a.memberId, a.owner, a.generation, 'nope' as never))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(a.commit([{ topic: 'orders', partition: 0, offset: 1 }], -1))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await h.store.fetchOffsets('g')).toEqual([]);
  });

  it('hands the committed offset to the member that next owns the partition', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 12 }]);
    a.leave();
    const b = await h.join('g', ['orders']);
    expect(b.latest.partitions).toEqual([{ topic: 'orders', partition: 0, committedOffset: 12 }]);
    const c = await h.join('g', ['orders'], {});
    await b.commit([{ topic: 'orders', partition: 0, offset: 20 }]);
    b.leave();
    expect(c.latest.partitions).toEqual([{ topic: 'orders', partition: 0, committedOffset: 20 }]);
  });

  it('reads the committed offsets of a topic the group starts reading from the store', async () => {
    const h = await harness({ orders: 1, audit: 1 });
    await h.store.commitOffsets('g', [{ topic: 'audit', partition: 0, offset: 3, metadata: '' }]);
    const a = await h.join('g', ['orders']);
    const b = await h.join('g', ['audit']);
    expect(b.latest.partitions).toEqual([{ topic: 'audit', partition: 0, committedOffset: 3 }]);
    b.leave();
    // Committed while nobody in the group read the topic (by a reset, say): the next reader sees it.
    await h.store.commitOffsets('g', [{ topic: 'audit', partition: 0, offset: 9, metadata: '' }]);
    const c = await h.join('g', ['audit']);
    expect(c.latest.partitions).toEqual([{ topic: 'audit', partition: 0, committedOffset: 9 }]);
    expect(a.partitions).toEqual(['orders/0']);
  });
});
