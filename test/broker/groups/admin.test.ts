import { describe, expect, it } from 'vitest';
import { encodeRecords } from '../../../src/log/index.js';
import { codeOf } from '../../helpers/error-code.js';
import { harness, type Harness } from './helpers/harness.js';

async function produce(h: Harness, topic: string, partition: number, count: number): Promise<void> {
  const records = encodeRecords(Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`r${i}`) })));
  await h.store.append(topic, partition, { records });
}

describe('group administration', () => {
  it('describes members, ownership, committed offsets and lag per partition', async () => {
    const h = await harness({ orders: 2, audit: 1 }, {}, { sequentialIds: true });
    await produce(h, 'orders', 0, 10);
    await produce(h, 'orders', 1, 4);
    await produce(h, 'audit', 0, 3);
    // An offset on a topic the current members do not read still shows.
    await h.coordinator.resetOffsets('g', { kind: 'latest' }, ['audit']);
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 6 }]);
    h.time.advance(1_234);
    a.ack();
    const described = await h.coordinator.describe('g');
    expect(described).toEqual({
      group: 'g',
      state: 'stable',
      generation: 1,
      strategy: 'range',
      members: [
        {
          memberId: 'm001',
          principal: 'alice',
          clientAddress: '127.0.0.1',
          topics: ['orders'],
          assigned: [
            { topic: 'orders', partition: 0 },
            { topic: 'orders', partition: 1 },
          ],
          pendingRevocation: [],
          generation: 1,
          joinedAt: h.time.now - 1_234,
          lastHeartbeatAt: h.time.now,
        },
      ],
      partitions: [
        { topic: 'audit', partition: 0, committedOffset: 3, highWatermark: 3, lag: 0, owner: null },
        { topic: 'orders', partition: 0, committedOffset: 6, highWatermark: 10, lag: 4, owner: 'm001' },
        { topic: 'orders', partition: 1, committedOffset: null, highWatermark: 4, lag: null, owner: 'm001' },
      ],
    });
  });

  it('describes an empty group with offsets, and refuses an unknown one', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 0 }]);
    a.leave();
    expect(await h.coordinator.describe('g')).toMatchObject({ state: 'empty', members: [], strategy: null, generation: 0 });
    const err = await h.coordinator.describe('nobody').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEALBUS_ERR_GROUP_NOT_FOUND', status: 404 });
  });

  it('lists active groups and groups with committed offsets', async () => {
    const h = await harness({ orders: 2 });
    const a = await h.join('active', ['orders']);
    await h.join('active', ['orders']);
    await h.coordinator.resetOffsets('parked', { kind: 'earliest' }, ['orders']);
    expect(await h.coordinator.list()).toEqual([
      { group: 'active', state: 'rebalancing', members: 2, generation: 2 },
      { group: 'parked', state: 'empty', members: 0, generation: 0 },
    ]);
    a.ack();
    expect((await h.coordinator.list())[0]!.state).toBe('stable');
  });

  it('resets an inactive group to earliest, latest or a timestamp', async () => {
    const h = await harness({ orders: 2 });
    const start = h.time.now;
    await produce(h, 'orders', 0, 5);
    h.time.advance(1_000);
    await produce(h, 'orders', 0, 5);
    await produce(h, 'orders', 1, 2);
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 7 }]);
    a.leave();

    expect(await h.coordinator.resetOffsets('g', { kind: 'latest' })).toEqual([{ topic: 'orders', partition: 0, offset: 10 }, { topic: 'orders', partition: 1, offset: 2 }]);
    expect(await h.coordinator.resetOffsets('g', { kind: 'earliest' })).toEqual([{ topic: 'orders', partition: 0, offset: 0 }, { topic: 'orders', partition: 1, offset: 0 }]);
    expect(await h.coordinator.resetOffsets('g', { kind: 'timestamp', timestamp: start + 500 })).toEqual([
      { topic: 'orders', partition: 0, offset: 5 },
      { topic: 'orders', partition: 1, offset: 0 },
    ]);
    const stored = await h.store.fetchOffsets('g');
    expect(stored.map((o) => [o.partition, o.offset]).sort()).toEqual([[0, 5], [1, 0]]);
    // The next member starts from the reset position.
    const b = await h.join('g', ['orders']);
    expect(b.latest.partitions.map((p) => p.committedOffset)).toEqual([5, 0]);
  });

  it('refuses to reset or delete a group with members, and an unknown group', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 1 }]);
    const err = await h.coordinator.resetOffsets('g', { kind: 'earliest' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SEALBUS_ERR_GROUP_NOT_EMPTY', status: 409 });
    expect((err as Error).message).toBe('Group "g" has 1 active member(s); stop its consumers before changing or deleting it');
    expect(await codeOf(h.coordinator.deleteGroup('g'))).toBe('SEALBUS_ERR_GROUP_NOT_EMPTY');
    expect((await h.store.fetchOffsets('g'))[0]!.offset).toBe(1);
    expect(await codeOf(h.coordinator.resetOffsets('unknown', { kind: 'earliest' }))).toBe('SEALBUS_ERR_GROUP_NOT_FOUND');
    expect(await codeOf(h.coordinator.deleteGroup('unknown'))).toBe('SEALBUS_ERR_GROUP_NOT_FOUND');
    expect(await codeOf(h.coordinator.resetOffsets('g2', { kind: 'timestamp', timestamp: -1 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(h.coordinator.resetOffsets('g2', { kind: 'latest' }, ['missing']))).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
  });

  it('serializes a reset with a join: the join waits and starts from the reset offsets', async () => {
    const h = await harness({ orders: 1 });
    await produce(h, 'orders', 0, 9);
    const reset = h.coordinator.resetOffsets('g', { kind: 'latest' }, ['orders']);
    const joining = h.join('g', ['orders']);
    await reset;
    const a = await joining;
    expect(a.latest.partitions).toEqual([{ topic: 'orders', partition: 0, committedOffset: 9 }]);
  });

  it('deletes the offsets of an inactive group', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 3 }]);
    a.leave();
    await h.coordinator.deleteGroup('g');
    expect(await h.store.fetchOffsets('g')).toEqual([]);
    expect(await h.coordinator.list()).toEqual([]);
    expect(await codeOf(h.coordinator.describe('g'))).toBe('SEALBUS_ERR_GROUP_NOT_FOUND');
  });
});
