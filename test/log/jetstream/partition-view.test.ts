/**
 * The pure parts of the JetStream backend, without NATS: the batch header every message carries,
 * the checks on what is read back, the view's rules for applying messages, and the index that
 * finds the message holding an offset.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSealbusError } from '../../../src/errors/index.js';
import { BatchIndex } from '../../../src/log/jetstream/batch-index.js';
import { encodeBatchMeta, parseBatchMeta, verifiedBatch, type BatchMeta } from '../../../src/log/jetstream/batch-message.js';
import { PartitionView } from '../../../src/log/jetstream/partition-view.js';
import { encodeBatch } from '../../../src/log/record-batch.js';
import { values } from '../helpers/log-test-kit.js';

const where = { topic: 't', partition: 0 };

function code(work: () => unknown): string {
  try {
    work();
    return 'accepted';
  } catch (err) {
    if (isSealbusError(err)) return err.code;
    throw err;
  }
}

/** A message as sealbus would write it at `seq`, continuing `view`. */
function next(view: PartitionView, seq: number, count: number, bytes = 100, now = 1000): BatchMeta {
  return { ...view.plan(count, bytes, now, 1024, null), seq };
}

describe('the batch header of a JetStream message', () => {
  it('round-trips, with and without a producer stamp', () => {
    const plain = { baseOffset: 12, count: 3, timestamp: 1_700_000_000_000, position: 4096, bytes: 180, segment: 2, segmentStart: 2048, producer: null };
    expect(parseBatchMeta(where, 7, encodeBatchMeta(plain))).toEqual({ ...plain, seq: 7 });
    const stamped = { ...plain, producer: { producerId: 9, epoch: 1, baseSequence: 40 } };
    expect(parseBatchMeta(where, 8, encodeBatchMeta(stamped))).toEqual({ ...stamped, seq: 8 });
  });

  it('refuses a header sealbus did not write', () => {
    for (const header of [undefined, '', '2 0 1 0 0 46 0 0', '1 0 1 0 0 46 0', '1 00 1 0 0 46 0 0', '1 0 0 0 0 46 0 0', '1 0 1 0 10 46 0 20', '1 -1 1 0 0 46 0 0', '1 0 1 0 0 46 0 0 1 2', `1 ${2 ** 53} 1 0 0 46 0 0`]) {
      expect(code(() => parseBatchMeta(where, 1, header)), String(header)).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    }
  });

  it('serves a batch only when its bytes match its header and its checksum', () => {
    const records = values('v', 2);
    const batch = encodeBatch({ baseOffset: 5, timestamp: 99, producerId: 3, producerEpoch: 0, baseSequence: 4 }, records);
    const meta: BatchMeta = { seq: 1, baseOffset: 5, count: 2, timestamp: 99, position: 0, bytes: batch.length, segment: 0, segmentStart: 0, producer: { producerId: 3, epoch: 0, baseSequence: 4 } };
    expect(verifiedBatch(where, meta, batch)).toEqual(batch);
    const flipped = Buffer.from(batch);
    flipped[flipped.length - 3]! ^= 0x10;
    expect(code(() => verifiedBatch(where, meta, flipped))).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    for (const wrong of [{ baseOffset: 6 }, { count: 3 }, { timestamp: 98 }, { bytes: batch.length + 1 }, { producer: null }, { producer: { producerId: 3, epoch: 1, baseSequence: 4 } }]) {
      expect(code(() => verifiedBatch(where, { ...meta, ...wrong }, batch)), JSON.stringify(wrong)).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    }
  });
});

describe('a partition view', () => {
  it('applies messages that continue it, and rolls segments at segmentBytes', () => {
    const view = new PartitionView(where);
    for (let seq = 1; seq <= 30; seq++) view.apply(next(view, seq, 2, 100));
    expect(view.describe(0)).toEqual({ partition: 0, logStartOffset: 0, highWatermark: 60, sizeBytes: 3000, segments: 3, readOnly: false });
    // 1024-byte segments of 100-byte batches: ten batches each, the eleventh starts the next.
    expect(view.segmentStart).toBe(2000);
  });

  it('refuses a gap, an overlap, a skipped message, time going back and a segment out of order', () => {
    const view = new PartitionView(where);
    view.apply(next(view, 1, 2, 100, 1000));
    const good = next(view, 2, 1, 100, 1000);
    const broken: Partial<BatchMeta>[] = [{ seq: 3 }, { baseOffset: 3 }, { baseOffset: 1 }, { position: 50 }, { timestamp: 999 }, { segment: 2, segmentStart: 100 }, { segment: 1, segmentStart: 0 }];
    for (const change of broken) expect(code(() => view.apply({ ...good, ...change })), JSON.stringify(change)).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    view.apply(good);
    expect(view.nextOffset).toBe(3);
  });

  it('never lets an append plan a timestamp older than the last batch', () => {
    const view = new PartitionView(where);
    view.apply(next(view, 1, 1, 100, 5000));
    expect(view.plan(1, 100, 10, 1024, null).timestamp).toBe(5000);
  });
});

describe('the batch index', () => {
  it('locates the message holding any offset, exactly or within a range that holds it, however thinned', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 2, max: 64 }), fc.nat(), (counts, capacity, pick) => {
        const index = new BatchIndex(capacity);
        const bases: number[] = [];
        let offset = 0;
        counts.forEach((count, i) => {
          bases.push(offset);
          index.add({ seq: i + 1, baseOffset: offset, count, timestamp: i, position: 0, bytes: 46, segment: 0, segmentStart: 0, producer: null });
          offset += count;
        });
        expect(index.size).toBeLessThanOrEqual(capacity);
        const target = pick % offset;
        const holder = bases.findLastIndex((base) => base <= target) + 1;
        const location = index.locate(target, 1, counts.length);
        if (location.kind === 'exact') expect(location.seq).toBe(holder);
        else expect(location.low <= holder && holder <= location.high).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('bounds a time search by the known batches around it', () => {
    const index = new BatchIndex();
    for (let seq = 1; seq <= 10; seq++) index.add({ seq, baseOffset: seq * 10, count: 10, timestamp: seq * 100, position: 0, bytes: 46, segment: 0, segmentStart: 0, producer: null });
    expect(index.timeRange(450, 1, 10)).toEqual({ low: 5, high: 5 });
    expect(index.timeRange(500, 1, 10)).toEqual({ low: 5, high: 5 });
    expect(index.timeRange(5000, 1, 10)).toEqual({ low: 11, high: 11 });
    index.dropBelow(6);
    expect(index.timeRange(0, 6, 10)).toEqual({ low: 6, high: 6 });
  });
});
