import { describe, expect, it } from 'vitest';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import type { PlacedBatch } from '../../src/log/types.js';
import { logStoreSuite } from './log-store-suite.js';
import { values } from './helpers/log-test-kit.js';

logStoreSuite('memory', async ({ clock, defaults }) => {
  const store = new MemoryLogStore({ clock: clock.read, ...(defaults && { defaults }) });
  await store.open();
  return { store, cleanup: () => store.close() };
});

describe('memory store onPlaced', () => {
  it('tells each new batch its offsets once, before the append resolves; never a duplicate', async () => {
    const store = new MemoryLogStore();
    await store.open();
    await store.createTopic('t', { partitions: 1 });
    const producer = await store.initProducer('p');
    const placed: PlacedBatch[] = [];
    const request = { records: values('a', 2), producer: { ...producer, baseSequence: 0 }, onPlaced: (batch: PlacedBatch) => void placed.push(batch) };
    const first = store.append('t', 0, request);
    const retry = store.append('t', 0, request);
    const [result, duplicate] = await Promise.all([first, retry]);
    expect(placed).toEqual([{ baseOffset: 0, count: 2, timestamp: result.timestamp }]);
    expect(duplicate.duplicate).toBe(true);
    await store.close();
  });
});
