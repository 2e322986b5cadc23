import { SealbusError } from '../../errors/index.js';
import { encodeBatch } from '../record-batch.js';
import { OffsetWaiters } from '../offset-waiters.js';
import { ProducerSequences } from '../producer-sequences.js';
import { segmentsToDelete } from '../retention-policy.js';
import type { AppendRequest, AppendResult, PartitionState, ReadOptions, ReadResult, TopicConfig } from '../types.js';

interface MemorySegment {
  readonly baseOffset: number;
  readonly batches: Buffer[];
  /** Base offset and record count of each batch, parallel to `batches`. */
  readonly bases: number[];
  readonly counts: number[];
  readonly timestamps: number[];
  sizeBytes: number;
  maxTimestamp: number;
}

function newSegment(baseOffset: number): MemorySegment {
  return { baseOffset, batches: [], bases: [], counts: [], timestamps: [], sizeBytes: 0, maxTimestamp: -1 };
}

/** Index of the last element of a sorted array that is <= value (0 when none is). */
function floorIndex(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  let found = 0;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! <= value) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

/**
 * One partition held in memory, with the same segment boundaries as the file backend so that
 * retention behaves the same; used by the unit tests of the layers above.
 */
export class MemoryPartition {
  private readonly segments: MemorySegment[] = [newSegment(0)];
  private nextOffset = 0;
  private lastTimestamp = 0;
  readonly waiters = new OffsetWaiters();
  private readonly sequences: ProducerSequences;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly config: TopicConfig,
  ) {
    this.sequences = new ProducerSequences({ topic, partition });
  }

  get highWatermark(): number {
    return this.nextOffset;
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  append(request: AppendRequest, now: number): AppendResult {
    const records = request.records;
    const stamp = request.producer;
    if (stamp !== undefined) {
      const check = this.sequences.check(stamp, records.count);
      if (check.kind === 'duplicate') {
        const { baseOffset, count, timestamp } = check.batch;
        return { baseOffset, count, timestamp, duplicate: true };
      }
    }
    if (this.nextOffset + records.count > Number.MAX_SAFE_INTEGER) {
      throw new SealbusError('SEALBUS_ERR_STORAGE_IO', { topic: this.topic, partition: this.partition, reason: 'offsets exhausted' });
    }
    const timestamp = Math.max(now, this.lastTimestamp);
    const baseOffset = this.nextOffset;
    const batch = encodeBatch(
      stamp === undefined
        ? { baseOffset, timestamp }
        : { baseOffset, timestamp, producerId: stamp.producerId, producerEpoch: stamp.epoch, baseSequence: stamp.baseSequence },
      records,
    );
    let active = this.segments.at(-1)!;
    if (active.sizeBytes > 0 && active.sizeBytes + batch.length > this.config.segmentBytes) {
      active = newSegment(baseOffset);
      this.segments.push(active);
    }
    active.batches.push(batch);
    active.bases.push(baseOffset);
    active.counts.push(records.count);
    active.timestamps.push(timestamp);
    active.sizeBytes += batch.length;
    active.maxTimestamp = timestamp;
    if (stamp !== undefined) this.sequences.record(stamp, { baseSequence: stamp.baseSequence, count: records.count, baseOffset, timestamp });
    this.nextOffset += records.count;
    this.lastTimestamp = timestamp;
    this.waiters.notify(this.nextOffset);
    try {
      request.onPlaced?.({ baseOffset, count: records.count, timestamp });
    } catch {
      // The hook must not throw (AppendRequest.onPlaced); the batch is stored whatever it did.
    }
    return { baseOffset, count: records.count, timestamp, duplicate: false };
  }

  read(offset: number, options: ReadOptions): ReadResult {
    const highWatermark = this.nextOffset;
    const logStartOffset = this.logStartOffset;
    if (offset < logStartOffset || offset > highWatermark) {
      throw new SealbusError('SEALBUS_ERR_OFFSET_OUT_OF_RANGE', {
        offset,
        logStartOffset,
        highWatermark,
        topic: this.topic,
        partition: this.partition,
      });
    }
    const batches: Buffer[] = [];
    let nextOffset = offset;
    let bytes = 0;
    let records = 0;
    const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    let segmentIndex = this.segments.length - 1;
    while (segmentIndex > 0 && this.segments[segmentIndex]!.baseOffset > offset) segmentIndex--;
    outer: for (; segmentIndex < this.segments.length; segmentIndex++) {
      const segment = this.segments[segmentIndex]!;
      for (let i = floorIndex(segment.bases, offset); i < segment.batches.length; i++) {
        const end = segment.bases[i]! + segment.counts[i]!;
        if (end <= offset) continue;
        const batch = segment.batches[i]!;
        if (batches.length > 0 && (bytes + batch.length > options.maxBytes || records >= maxRecords)) break outer;
        batches.push(batch);
        bytes += batch.length;
        records += end - Math.max(offset, segment.bases[i]!);
        nextOffset = end;
      }
    }
    return { batches, highWatermark, logStartOffset, nextOffset };
  }

  offsetForTimestamp(timestamp: number): number {
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestamp) continue;
      for (let i = 0; i < segment.timestamps.length; i++) {
        if (segment.timestamps[i]! >= timestamp) return segment.bases[i]!;
      }
    }
    return this.nextOffset;
  }

  enforceRetention(now: number): { deletedSegments: number; deletedBytes: number } {
    const count = segmentsToDelete(this.segments, this.config, now);
    let deletedBytes = 0;
    for (const segment of this.segments.splice(0, count)) deletedBytes += segment.sizeBytes;
    return { deletedSegments: count, deletedBytes };
  }

  state(): PartitionState {
    let sizeBytes = 0;
    for (const segment of this.segments) sizeBytes += segment.sizeBytes;
    return {
      partition: this.partition,
      logStartOffset: this.logStartOffset,
      highWatermark: this.nextOffset,
      sizeBytes,
      segments: this.segments.length,
      readOnly: false,
    };
  }
}
