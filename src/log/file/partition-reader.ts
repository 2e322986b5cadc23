import { SealbusError } from '../../errors/index.js';
import { BATCH_HEADER_BYTES, BATCH_MAGIC, decodeBatchHeader, verifyBatch, type BatchHeader } from '../record-batch.js';
import type { ReadOptions, ReadResult } from '../types.js';
import { readAt, type LogFileSystem } from './fs-seam.js';
import { RetiredSegmentError, type LogSegment } from './log-segment.js';
import { corruptedError, type Quarantine } from './quarantine.js';

const MIN_CHUNK_BYTES = 64 * 1024;
/** A larger batch is still read whole, by itself; this only bounds read-ahead. */
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
const MIN_BATCH_BYTES = BATCH_HEADER_BYTES + 15;

/** What the reader needs of a partition. */
export interface ReadView {
  readonly topic: string;
  readonly partition: number;
  readonly fileSystem: LogFileSystem;
  readonly segments: readonly LogSegment[];
  readonly quarantine: Quarantine;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Verifies a whole segment after a read found damage: quarantines what fails, rebuilds its index. */
  verifySegment(segment: LogSegment): Promise<void>;
}

/** A batch failed verification during a read: the segment must be verified before anything is served. */
export class SegmentDamage extends Error {
  constructor(readonly segment: LogSegment) {
    super(`damaged data in ${segment.logPath}`);
  }
}

/** Called for each verified batch at or after the start; returns true to stop. */
type Visitor = (batch: Buffer, header: BatchHeader) => boolean;

interface VisitOptions {
  /** Bytes worth reading at once. */
  readonly chunkHint: number;
  /** Walk past quarantined ranges instead of raising SEALBUS_ERR_RECORDS_CORRUPTED. */
  readonly skipQuarantined: boolean;
}

function segmentIndexFor(segments: readonly LogSegment[], offset: number): number {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

/**
 * Visits the verified batches of one segment from the index entry at or before `offset`, skipping
 * quarantined bytes. Stored bytes are untrusted: a length, offset or CRC that does not check out
 * throws SegmentDamage, and nothing of that batch reaches the visitor.
 */
async function visitSegment(view: ReadView, segment: LogSegment, offset: number, options: VisitOptions, visit: Visitor): Promise<boolean> {
  let fd: number;
  try {
    fd = await segment.acquire();
  } catch (err) {
    if (err instanceof RetiredSegmentError) throw outOfRange(view, offset, view.highWatermark);
    throw err;
  }
  try {
    const limit = segment.readableSize;
    const start = segment.offsetIndex.floor(Math.max(0, offset - segment.baseOffset));
    let position = start.position;
    let expected = segment.baseOffset + start.relativeOffset;
    while (position < limit) {
      const skipped = view.quarantine.startingAt(segment.baseOffset, position);
      if (skipped !== undefined) {
        if (offset <= skipped.toOffset && !options.skipQuarantined) throw corruptedError(view.topic, view.partition, skipped);
        position += skipped.bytes;
        expected = skipped.toOffset + 1;
        continue;
      }
      let chunk = await readAt(view.fileSystem, fd, position, Math.min(limit - position, Math.min(MAX_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, options.chunkHint))));
      let at = 0;
      while (at + BATCH_HEADER_BYTES <= chunk.length && view.quarantine.startingAt(segment.baseOffset, position + at) === undefined) {
        const header = decodeBatchHeader(chunk, at)!;
        const total = header.totalBytes;
        if (header.baseOffset !== expected || header.magic !== BATCH_MAGIC || total < MIN_BATCH_BYTES || total > limit - position - at) {
          throw new SegmentDamage(segment);
        }
        if (at + total > chunk.length) {
          if (at > 0) break;
          chunk = await readAt(view.fileSystem, fd, position, total);
          if (chunk.length < total) throw new SegmentDamage(segment);
        }
        const batch = chunk.subarray(at, at + total);
        if (!verifyBatch(batch)) throw new SegmentDamage(segment);
        expected = header.baseOffset + header.recordCount;
        at += total;
        if (expected > offset && visit(batch, header)) return true;
      }
      if (at === 0 && view.quarantine.startingAt(segment.baseOffset, position) === undefined) throw new SegmentDamage(segment);
      position += at;
    }
    return false;
  } finally {
    segment.release();
  }
}

/** Visits batches from `offset` across segments; after damage, verifies the segment and retries once. */
async function visitFrom(view: ReadView, offset: number, options: VisitOptions, visit: Visitor): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      // A copy: a roll or a retention delete may change the list while this read waits on the disk.
      const segments = view.segments.slice();
      for (let i = segmentIndexFor(segments, offset); i < segments.length; i++) {
        if (await visitSegment(view, segments[i]!, offset, options, visit)) return;
      }
      return;
    } catch (err) {
      if (!(err instanceof SegmentDamage)) throw err;
      if (attempt > 0) {
        throw new SealbusError('SEALBUS_ERR_STORAGE_IO', {
          topic: view.topic,
          partition: view.partition,
          reason: `segment ${err.segment.name} does not read back consistently`,
        });
      }
      await view.verifySegment(err.segment);
    }
  }
}

function outOfRange(view: ReadView, offset: number, highWatermark: number): SealbusError {
  return new SealbusError('SEALBUS_ERR_OFFSET_OUT_OF_RANGE', {
    offset,
    logStartOffset: view.logStartOffset,
    highWatermark,
    topic: view.topic,
    partition: view.partition,
  });
}

export async function readBatches(view: ReadView, offset: number, options: ReadOptions): Promise<ReadResult> {
  const highWatermark = view.highWatermark;
  if (offset < view.logStartOffset || offset > highWatermark) throw outOfRange(view, offset, highWatermark);
  const batches: Buffer[] = [];
  let nextOffset = offset;
  const quarantined = view.quarantine.containing(offset);
  if (quarantined !== undefined) throw corruptedError(view.topic, view.partition, quarantined);
  if (offset < highWatermark) {
    let bytes = 0;
    let records = 0;
    const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    try {
      await visitFrom(view, offset, { chunkHint: options.maxBytes, skipQuarantined: false }, (batch, header) => {
        if (header.baseOffset >= highWatermark) return true;
        if (batches.length > 0 && (bytes + batch.length > options.maxBytes || records >= maxRecords)) return true;
        batches.push(batch);
        bytes += batch.length;
        const end = header.baseOffset + header.recordCount;
        records += end - Math.max(offset, header.baseOffset);
        nextOffset = end;
        return false;
      });
    } catch (err) {
      // Serve what was read before the damage; the next read, at the damage, gets the error.
      if (batches.length === 0) throw err;
    }
    // Nothing at or after the offset below the high watermark: the offsets were lost (see
    // offset-gap in recovery). Moving past them keeps a consumer from spinning on an empty read.
    if (batches.length === 0) nextOffset = highWatermark;
  }
  return { batches, highWatermark, logStartOffset: view.logStartOffset, nextOffset };
}

/** The first offset whose batch timestamp is >= `timestamp` (timestamps never decrease in a partition). */
export async function findOffsetForTimestamp(view: ReadView, timestamp: number): Promise<number> {
  const highWatermark = view.highWatermark;
  const segment = view.segments.find((candidate) => candidate.maxTimestamp >= timestamp);
  if (segment === undefined) return highWatermark;
  const before = segment.timeIndex.lastBefore(timestamp);
  const start = before === null ? segment.baseOffset : segment.baseOffset + before;
  let found = highWatermark;
  await visitFrom(view, Math.max(start, view.logStartOffset), { chunkHint: 0, skipQuarantined: true }, (_batch, header) => {
    if (header.baseOffset >= highWatermark) return true;
    if (header.timestamp < timestamp) return false;
    found = header.baseOffset;
    return true;
  });
  return Math.max(found, view.logStartOffset);
}
