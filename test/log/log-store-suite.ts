import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecords, encodeRecords, verifyBatch } from '../../src/log/record-batch.js';
import { TOPIC_DEFAULTS } from '../../src/log/topic-config.js';
import type { LogStore, TopicConfig } from '../../src/log/types.js';
import { ManualClock, expectCode, readAll, text, values } from './helpers/log-test-kit.js';
import { producerTests } from './log-store-suite-producers.js';
import { retentionTests } from './log-store-suite-retention.js';

export interface StoreHarness {
  readonly store: LogStore;
  /** Closes the store and opens a new one on the same data; absent for backends that keep nothing. */
  readonly reopen?: () => Promise<LogStore>;
  readonly cleanup: () => Promise<void>;
}

/**
 * A harness for a backend that keeps its data: `make` opens a store on it (again after a reopen),
 * `remove` deletes the data once the current store is closed.
 */
export async function reopenableHarness(make: () => Promise<LogStore>, remove: () => Promise<void>): Promise<StoreHarness> {
  const opened = async (): Promise<LogStore> => {
    const store = await make();
    await store.open();
    return store;
  };
  let current = await opened();
  return {
    get store() {
      return current;
    },
    reopen: async () => {
      await current.close();
      current = await opened();
      return current;
    },
    cleanup: async () => {
      await current.close();
      await remove();
    },
  };
}

export type HarnessFactory = (options: { clock: ManualClock; defaults?: Partial<TopicConfig> }) => Promise<StoreHarness>;

export interface SuiteContext {
  readonly harness: () => StoreHarness;
  readonly store: () => LogStore;
  readonly clock: () => ManualClock;
}

/** The behaviour every LogStore backend must have; each backend's test file runs it. */
export function logStoreSuite(name: string, factory: HarnessFactory): void {
  describe(`LogStore contract: ${name}`, () => {
    let harness: StoreHarness;
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock();
      harness = await factory({ clock });
    });
    afterEach(async () => {
      await harness.cleanup();
    });
    const context: SuiteContext = { harness: () => harness, store: () => harness.store, clock: () => clock };

    topicTests(context);
    appendReadTests(context);
    waitTests(context);
    producerTests(context);
    offsetTests(context);
    retentionTests(context, factory);
  });
}

function topicTests({ store }: SuiteContext): void {
  it('creates, describes and lists topics with the defaults filled in', async () => {
    const created = await store().createTopic('orders', { partitions: 3 });
    expect(created.config).toEqual({ ...TOPIC_DEFAULTS, partitions: 3 });
    expect(created.partitions.map((p) => [p.partition, p.logStartOffset, p.highWatermark, p.readOnly])).toEqual([
      [0, 0, 0, false],
      [1, 0, 0, false],
      [2, 0, 0, false],
    ]);
    await store().createTopic('audit.events', { partitions: 1, retentionMs: 60_000 });
    expect((await store().listTopics()).map((t) => t.name)).toEqual(['audit.events', 'orders']);
    expect(store().topicConfig('audit.events').retentionMs).toBe(60_000);
    expect((await store().describeTopic('orders')).partitions).toHaveLength(3);
  });

  it('validates topic names at creation and at every access', async () => {
    for (const bad of ['', '../etc', 'a/b', '.hidden', 'a..b', 'x'.repeat(201), 'with space']) {
      await expectCode(store().createTopic(bad, { partitions: 1 }), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
    }
    await expectCode(store().append('../x', 0, { records: values('v', 1) }), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
    await expectCode(store().read('a/b', 0, 0, { maxBytes: 10 }), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
    await expectCode(store().describeTopic('..'), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
    await expectCode(store().waitForData('a b', 0, 0, new AbortController().signal), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
    await expectCode(() => store().topicConfig('a/../b'), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
    await expectCode(store().deleteTopic('/abs'), 'SEALBUS_ERR_TOPIC_NAME_INVALID');
  });

  it('rejects invalid settings, naming the key', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ partitions: 0 }, 'partitions'],
      [{ partitions: 1, segmentByte: 10 }, 'segmentByte'],
      [{ partitions: 1, segmentBytes: 10 }, 'segmentBytes'],
      [{ partitions: 1, retentionMs: -1 }, 'retentionMs'],
      [{ partitions: 1, maxRecordBytes: 2048, maxBatchBytes: 2048 }, 'maxRecordBytes'],
      [{ partitions: 1, fsync: { mode: 'interval' } }, 'fsync.intervalMs'],
      [{ partitions: 1, fsync: { mode: 'sometimes' } }, 'fsync.mode'],
      [{ partitions: 1, attributes: { schema: 7 } }, 'attributes.schema'],
    ];
    for (const [config, key] of cases) {
      const err = await expectCode(store().createTopic('t', config as never), 'SEALBUS_ERR_TOPIC_CONFIG_INVALID');
      expect(err.details).toMatchObject({ key });
    }
    await expectCode(store().describeTopic('t'), 'SEALBUS_ERR_TOPIC_NOT_FOUND');
  });

  it('refuses duplicates, unknown topics and unknown partitions', async () => {
    await store().createTopic('t', { partitions: 2 });
    await expectCode(store().createTopic('t', { partitions: 1 }), 'SEALBUS_ERR_TOPIC_EXISTS');
    await expectCode(store().append('nope', 0, { records: values('v', 1) }), 'SEALBUS_ERR_TOPIC_NOT_FOUND');
    for (const partition of [2, -1, 0.5]) {
      await expectCode(store().append('t', partition, { records: values('v', 1) }), 'SEALBUS_ERR_PARTITION_NOT_FOUND');
    }
    await expectCode(store().read('t', 7, 0, { maxBytes: 100 }), 'SEALBUS_ERR_PARTITION_NOT_FOUND');
  });

  it('deletes a topic; a new one of the same name starts empty, without the old committed offsets', async () => {
    await store().createTopic('t', { partitions: 1 });
    await store().append('t', 0, { records: values('old', 5) });
    await store().commitOffsets('g', [{ topic: 't', partition: 0, offset: 5, metadata: '' }]);
    await store().deleteTopic('t');
    await expectCode(store().describeTopic('t'), 'SEALBUS_ERR_TOPIC_NOT_FOUND');
    await expectCode(store().deleteTopic('t'), 'SEALBUS_ERR_TOPIC_NOT_FOUND');
    await store().createTopic('t', { partitions: 1 });
    expect((await store().append('t', 0, { records: values('new', 1) })).baseOffset).toBe(0);
    expect([...(await readAll(store(), 't', 0)).values()]).toEqual(['new-0']);
    expect(await store().fetchOffsets('g')).toEqual([]);
  });
}

function appendReadTests({ store, clock }: SuiteContext): void {
  it('appends in order and reads back whole verified batches', async () => {
    await store().createTopic('t', { partitions: 1 });
    const first = await store().append('t', 0, { records: values('a', 3) });
    clock().advance(5);
    const second = await store().append('t', 0, { records: values('b', 2) });
    expect(first).toEqual({ baseOffset: 0, count: 3, timestamp: clock().now - 5, duplicate: false });
    expect(second).toEqual({ baseOffset: 3, count: 2, timestamp: clock().now, duplicate: false });
    const result = await store().read('t', 0, 0, { maxBytes: 1 << 20 });
    expect(result).toMatchObject({ highWatermark: 5, logStartOffset: 0, nextOffset: 5 });
    expect(result.batches).toHaveLength(2);
    expect(result.batches.every((batch) => verifyBatch(batch))).toBe(true);
    const records = result.batches.flatMap((batch) => decodeRecords(batch));
    expect(records.map((r) => [r.offset, text(r.value)])).toEqual([
      [0, 'a-0'],
      [1, 'a-1'],
      [2, 'a-2'],
      [3, 'b-0'],
      [4, 'b-1'],
    ]);
    expect(records[4]!.timestamp).toBe(clock().now);
  });

  it('keeps keys, null values and headers intact', async () => {
    await store().createTopic('t', { partitions: 1 });
    const records = encodeRecords([
      { key: Buffer.from('k1'), value: null, headers: [{ name: 'trace', value: Buffer.from('abc') }] },
      { key: null, value: Buffer.alloc(0), headers: [{ name: 'empty', value: null }] },
    ]);
    await store().append('t', 0, { records });
    const [batch] = (await store().read('t', 0, 0, { maxBytes: 100 })).batches;
    const [one, two] = decodeRecords(batch!);
    expect(one).toMatchObject({ key: Buffer.from('k1'), value: null, headers: [{ name: 'trace', value: Buffer.from('abc') }] });
    expect(two).toMatchObject({ key: null, value: Buffer.alloc(0), headers: [{ name: 'empty', value: null }] });
  });

  it('honours maxBytes and maxRecords, returns at least one batch, and starts at the batch holding the offset', async () => {
    await store().createTopic('t', { partitions: 1 });
    for (let i = 0; i < 10; i++) await store().append('t', 0, { records: values(`b${i}`, 4, 100) });
    const batchBytes = (await store().read('t', 0, 0, { maxBytes: 1 })).batches[0]!.length;
    expect(batchBytes).toBeGreaterThan(400);
    const one = await store().read('t', 0, 0, { maxBytes: 1 });
    expect([one.batches.length, one.nextOffset]).toEqual([1, 4]);
    const three = await store().read('t', 0, 0, { maxBytes: batchBytes * 3 });
    expect([three.batches.length, three.nextOffset]).toEqual([3, 12]);
    const byRecords = await store().read('t', 0, 0, { maxBytes: 1 << 20, maxRecords: 5 });
    expect([byRecords.batches.length, byRecords.nextOffset]).toEqual([2, 8]);
    const middle = await store().read('t', 0, 6, { maxBytes: 1 });
    expect(decodeRecords(middle.batches[0]!)[0]!.offset).toBe(4);
    expect(middle.nextOffset).toBe(8);
  });

  it('returns nothing at the high watermark and refuses offsets outside the log', async () => {
    await store().createTopic('t', { partitions: 1 });
    await store().append('t', 0, { records: values('a', 2) });
    expect(await store().read('t', 0, 2, { maxBytes: 100 })).toEqual({ batches: [], highWatermark: 2, logStartOffset: 0, nextOffset: 2 });
    const err = await expectCode(store().read('t', 0, 3, { maxBytes: 100 }), 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE');
    expect(err.message).toContain('[0, 2]');
    await expectCode(store().read('t', 0, -1, { maxBytes: 100 }), 'SEALBUS_ERR_REQUEST_INVALID');
  });

  it('gives concurrent appenders distinct offsets in arrival order, acknowledged in that order', async () => {
    await store().createTopic('t', { partitions: 2 });
    const acks: number[] = [];
    const pending = Array.from({ length: 200 }, (_, i) =>
      store()
        .append('t', i % 2, { records: values(`n${i}`, 1 + (i % 3)) })
        .then((result) => {
          if (i % 2 === 0) acks.push(result.baseOffset);
          return result;
        }),
    );
    const results = await Promise.all(pending);
    const even = results.filter((_, i) => i % 2 === 0);
    let expected = 0;
    for (const result of even) {
      expect(result.baseOffset).toBe(expected);
      expected += result.count;
    }
    expect(acks).toEqual(even.map((r) => r.baseOffset));
    const stored = await readAll(store(), 't', 0);
    expect(stored.size).toBe(expected);
    expect(stored.get(even[7]!.baseOffset)).toBe('n14-0');
  });

  it('enforces record and batch limits and stores nothing of a refused batch', async () => {
    await store().createTopic('t', { partitions: 1, maxRecordBytes: 100, maxBatchBytes: 1024 });
    const tooBig = await expectCode(store().append('t', 0, { records: values('x', 1, 120) }), 'SEALBUS_ERR_RECORD_TOO_LARGE');
    expect(tooBig.message).toContain('accepts at most 100');
    await expectCode(store().append('t', 0, { records: values('x', 20, 60) }), 'SEALBUS_ERR_BATCH_TOO_LARGE');
    const good = values('ok', 2);
    await expectCode(store().append('t', 0, { records: { count: 3, bytes: good.bytes } }), 'SEALBUS_ERR_BATCH_INVALID');
    await expectCode(store().append('t', 0, { records: { count: 2, bytes: Buffer.concat([good.bytes, Buffer.from([1])]) } }), 'SEALBUS_ERR_BATCH_INVALID');
    expect((await store().describeTopic('t')).partitions[0]!.highWatermark).toBe(0);
    expect((await store().append('t', 0, { records: good })).baseOffset).toBe(0);
  });

  it('never lets timestamps go backwards and finds offsets by timestamp', async () => {
    await store().createTopic('t', { partitions: 1, segmentBytes: 1024 });
    const start = clock().now;
    for (let i = 0; i < 30; i++) {
      await store().append('t', 0, { records: values(`t${i}`, 2, 60) });
      clock().advance(10);
    }
    expect(await store().offsetForTimestamp('t', 0, 0)).toBe(0);
    expect(await store().offsetForTimestamp('t', 0, start + 95)).toBe(20);
    expect(await store().offsetForTimestamp('t', 0, start + 100)).toBe(20);
    expect(await store().offsetForTimestamp('t', 0, start + 290)).toBe(58);
    expect(await store().offsetForTimestamp('t', 0, start + 10_000)).toBe(60);
    clock().advance(-1_000);
    const late = await store().append('t', 0, { records: values('late', 1) });
    expect(late.timestamp).toBe(start + 290);
  });
}

function waitTests({ store }: SuiteContext): void {
  it('wakes a waiter when data arrives past its offset, without polling', async () => {
    await store().createTopic('t', { partitions: 1 });
    const controller = new AbortController();
    let woke: number | null = null;
    const waiting = store()
      .waitForData('t', 0, 0, controller.signal)
      .then((hw) => (woke = hw));
    await Promise.resolve();
    expect(woke).toBeNull();
    await store().append('t', 0, { records: values('a', 3) });
    expect(await waiting).toBe(3);
    expect(await store().waitForData('t', 0, 2, controller.signal)).toBe(3);
  });

  it('ends a wait with the abort reason, or with TOPIC_NOT_FOUND when the topic goes', async () => {
    await store().createTopic('t', { partitions: 1 });
    const controller = new AbortController();
    const aborted = expect(store().waitForData('t', 0, 0, controller.signal)).rejects.toThrow('client left');
    controller.abort(new Error('client left'));
    await aborted;
    const orphaned = expectCode(store().waitForData('t', 0, 0, new AbortController().signal), 'SEALBUS_ERR_TOPIC_NOT_FOUND');
    await store().deleteTopic('t');
    await orphaned;
  });

  it('rejects appends and pending waits once closed', async () => {
    await store().createTopic('t', { partitions: 1 });
    const pending = expectCode(store().waitForData('t', 0, 0, new AbortController().signal), 'SEALBUS_ERR_STORE_CLOSED');
    await store().close();
    await pending;
    await expectCode(store().append('t', 0, { records: values('a', 1) }), 'SEALBUS_ERR_STORE_CLOSED');
    await expectCode(store().listTopics(), 'SEALBUS_ERR_STORE_CLOSED');
  });
}

function offsetTests({ store, harness }: SuiteContext): void {
  it('stores committed offsets per group; the latest wins; a bad entry stores nothing', async () => {
    await store().createTopic('t', { partitions: 2 });
    await store().commitOffsets('g1', [
      { topic: 't', partition: 0, offset: 3, metadata: 'm' },
      { topic: 't', partition: 1, offset: 7, metadata: '' },
    ]);
    await store().commitOffsets('g1', [{ topic: 't', partition: 0, offset: 5, metadata: 'later' }]);
    await store().commitOffsets('g2', [{ topic: 't', partition: 1, offset: 1, metadata: '' }]);
    const g1 = [...(await store().fetchOffsets('g1'))].sort((a, b) => a.partition - b.partition);
    expect(g1.map((o) => [o.partition, o.offset, o.metadata])).toEqual([
      [0, 5, 'later'],
      [1, 7, ''],
    ]);
    expect(await store().listGroups()).toEqual(['g1', 'g2']);
    await expectCode(store().commitOffsets('g3', [{ topic: 'nope', partition: 0, offset: 1, metadata: '' }]), 'SEALBUS_ERR_TOPIC_NOT_FOUND');
    await expectCode(
      store().commitOffsets('g3', [
        { topic: 't', partition: 0, offset: 1, metadata: '' },
        { topic: 't', partition: 2, offset: 1, metadata: '' },
      ]),
      'SEALBUS_ERR_PARTITION_NOT_FOUND',
    );
    await expectCode(store().commitOffsets('', [{ topic: 't', partition: 0, offset: 1, metadata: '' }]), 'SEALBUS_ERR_REQUEST_INVALID');
    await expectCode(store().commitOffsets('g3', [{ topic: 't', partition: 0, offset: -2, metadata: '' }]), 'SEALBUS_ERR_REQUEST_INVALID');
    expect(await store().fetchOffsets('g3')).toEqual([]);
    await store().deleteGroup('g1');
    expect(await store().listGroups()).toEqual(['g2']);
    const reopen = harness().reopen;
    if (reopen === undefined) return;
    const again = await reopen();
    expect((await again.fetchOffsets('g2')).map((o) => [o.partition, o.offset])).toEqual([[1, 1]]);
    expect(await again.fetchOffsets('g1')).toEqual([]);
  });
}
