import { describe, expect, it } from 'vitest';
import { harness, heldBy } from './helpers/harness.js';

describe('partition-count changes', () => {
  it('assigns the partitions of a topic created after the members joined', async () => {
    const h = await harness({}, {}, { sequentialIds: true });
    const a = await h.join('g', ['later']);
    const b = await h.join('g', ['later']);
    a.ack();
    expect(a.partitions).toEqual([]);
    await h.store.createTopic('later', { partitions: 3 });
    h.coordinator.topicChanged('later');
    expect(a.generation).toBe(3);
    expect(a.partitions).toEqual(['later/0', 'later/1']);
    expect(b.partitions).toEqual(['later/2']);
  });

  it('leaves groups alone when another topic changes or the count is the same', async () => {
    const h = await harness({ orders: 2, other: 1 });
    const a = await h.join('g', ['orders']);
    const pushes = a.received.length;
    await h.store.createTopic('unrelated', { partitions: 1 });
    h.coordinator.topicChanged('unrelated');
    h.coordinator.topicChanged('orders');
    expect(a.received.length).toBe(pushes);
  });

  it('revokes the partitions of a deleted topic and spreads the recreated, larger one', async () => {
    const h = await harness({ orders: 2, keep: 1 }, {}, { sequentialIds: true });
    const a = await h.join('g', ['keep', 'orders']);
    const b = await h.join('g', ['orders']);
    a.ack();
    expect(heldBy([a, b]).size).toBe(3);
    await h.store.deleteTopic('orders');
    h.coordinator.topicChanged('orders');
    expect(a.partitions).toEqual(['keep/0']);
    expect(b.partitions).toEqual([]);
    const described = await h.coordinator.describe('g');
    expect(described.members.find((m) => m.memberId === a.memberId)!.pendingRevocation).toEqual([{ topic: 'orders', partition: 0 }]);
    a.ack();
    b.ack();
    await h.store.createTopic('orders', { partitions: 4 });
    h.coordinator.topicChanged('orders');
    expect(a.partitions).toEqual(['keep/0', 'orders/0', 'orders/1']);
    expect(b.partitions).toEqual(['orders/2', 'orders/3']);
    heldBy([a, b]);
  });

  it('does not hand a recreated topic the offsets committed on the deleted one', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 40 }]);
    await h.store.deleteTopic('orders');
    h.coordinator.topicChanged('orders');
    a.ack();
    await h.store.createTopic('orders', { partitions: 1 });
    h.coordinator.topicChanged('orders');
    expect(a.latest.partitions).toEqual([{ topic: 'orders', partition: 0, committedOffset: null }]);
  });

  it('drops the cached offsets of a topic whose partition count changed, even unannounced in between', async () => {
    const h = await harness({ orders: 1 });
    const a = await h.join('g', ['orders']);
    await a.commit([{ topic: 'orders', partition: 0, offset: 40 }]);
    await h.store.deleteTopic('orders');
    await h.store.createTopic('orders', { partitions: 2 });
    h.coordinator.topicChanged('orders');
    expect(a.latest.partitions).toEqual([
      { topic: 'orders', partition: 0, committedOffset: null },
      { topic: 'orders', partition: 1, committedOffset: null },
    ]);
  });

  it('notices a count change on heartbeats, at most once a second per group', async () => {
    const h = await harness({}, {}, { sequentialIds: true });
    const a = await h.join('g', ['later']);
    await h.store.createTopic('later', { partitions: 2 });
    h.time.advance(500);
    a.ack();
    expect(a.partitions).toEqual([]);
    h.time.advance(500);
    a.ack();
    expect(a.partitions).toEqual(['later/0', 'later/1']);
    expect(a.generation).toBe(2);
  });
});
