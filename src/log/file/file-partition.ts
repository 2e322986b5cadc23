import { SealbusError } from '../../errors/index.js';
import { OffsetWaiters } from '../offset-waiters.js';
import { ProducerSequences } from '../producer-sequences.js';
import { segmentsToDelete } from '../retention-policy.js';
import type { AppendRequest, AppendResult, PartitionState, ReadOptions, ReadResult, RecoveryProblem, TopicConfig } from '../types.js';
import { AppendPipeline, type PipelineHost } from './append-pipeline.js';
import type { PartitionCheckpoint } from './checkpoint.js';
import { errorCode, type LogFileSystem } from './fs-seam.js';
import { LogSegment } from './log-segment.js';
import { findOffsetForTimestamp, readBatches, type ReadView } from './partition-reader.js';
import { recoverPartition, type PartitionProblem } from './partition-recovery.js';
import type { Quarantine } from './quarantine.js';
import { scanSegment } from './segment-scan.js';
import type { StoreWal } from './store-wal.js';

export interface PartitionOptions {
  readonly fileSystem: LogFileSystem;
  readonly directory: string;
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly config: TopicConfig;
  readonly clock: () => number;
  readonly checkpoint: PartitionCheckpoint | null;
  readonly onProblem: (problem: RecoveryProblem) => void;
  /** A segment rolled: the store refreshes its checkpoint so that the next recovery scans less. */
  readonly onRoll: () => void;
  /** Each group-commit fdatasync's duration in seconds (the store's owner turns it into a metric). */
  readonly onFsync?: ((seconds: number) => void) | undefined;
  /** The store's write-ahead log, shared by its partitions; null to fdatasync each group in its segment. */
  readonly wal: StoreWal | null;
}

interface SyncedPoint {
  readonly segment: number;
  readonly position: number;
  readonly nextOffset: number;
}

/** One partition of the file store: its segments, its append pipeline, reads, retention. */
export class FilePartition implements PipelineHost, ReadView {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly fileSystem: LogFileSystem;
  readonly wal: StoreWal | null;
  readonly config: TopicConfig;
  readonly clock: () => number;
  readonly waiters = new OffsetWaiters();
  nextOffset = 0;
  highWatermark = 0;
  lastTimestamp = 0;
  failure: SealbusError | null = null;
  private readonly pipeline = new AppendPipeline(this);
  private closed = false;
  private synced: SyncedPoint = { segment: 0, position: 0, nextOffset: 0 };
  private flushTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly options: PartitionOptions,
    readonly sequences: ProducerSequences,
    readonly segments: LogSegment[],
    readonly quarantine: Quarantine,
  ) {
    this.topic = options.topic;
    this.topicId = options.topicId;
    this.wal = options.wal;
    this.partition = options.partition;
    this.fileSystem = options.fileSystem;
    this.config = options.config;
    this.clock = options.clock;
  }

  /** Recovers the partition from disk; problems found go to `options.onProblem`. */
  static async open(options: PartitionOptions): Promise<{ partition: FilePartition; scannedBytes: number }> {
    const { topic, partition: index } = options;
    const sequences = new ProducerSequences({ topic, partition: index });
    const report = (problem: PartitionProblem): void => options.onProblem({ topic, partition: index, ...problem });
    const recovered = await recoverPartition({
      fileSystem: options.fileSystem,
      directory: options.directory,
      checkpoint: options.checkpoint,
      sequences,
      report,
    });
    const partition = new FilePartition(options, sequences, recovered.segments, recovered.quarantine);
    partition.nextOffset = recovered.nextOffset;
    partition.highWatermark = recovered.nextOffset;
    for (const segment of recovered.segments) partition.lastTimestamp = Math.max(partition.lastTimestamp, segment.maxTimestamp);
    const active = partition.active;
    partition.synced = { segment: active.baseOffset, position: active.size, nextOffset: recovered.nextOffset };
    if (options.config.fsync.mode === 'interval') {
      partition.flushTimer = setInterval(() => partition.pipeline.flush(), options.config.fsync.intervalMs);
      partition.flushTimer.unref();
    }
    return { partition, scannedBytes: recovered.scannedBytes };
  }

  observeFsync(seconds: number): void {
    this.options.onFsync?.(seconds);
  }

  get active(): LogSegment {
    return this.segments.at(-1)!;
  }

  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  append(request: AppendRequest): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new SealbusError('SEALBUS_ERR_STORE_CLOSED'));
    if (this.failure !== null) {
      return Promise.reject(new SealbusError('SEALBUS_ERR_PARTITION_READ_ONLY', { topic: this.topic, partition: this.partition }));
    }
    return this.pipeline.submit(request);
  }

  read(offset: number, options: ReadOptions): Promise<ReadResult> {
    return readBatches(this, offset, options);
  }

  offsetForTimestamp(timestamp: number): Promise<number> {
    return findOffsetForTimestamp(this, timestamp);
  }

  waitForData(offset: number, signal: AbortSignal): Promise<number> {
    if (this.closed) return Promise.reject(new SealbusError('SEALBUS_ERR_STORE_CLOSED'));
    return this.waiters.wait(offset, this.highWatermark, signal);
  }

  publish(segment: LogSegment, endPosition: number, endOffset: number): void {
    segment.readableSize = endPosition;
    this.highWatermark = endOffset;
    this.waiters.notify(endOffset);
  }

  markSynced(segment: LogSegment, endPosition: number, endOffset: number): void {
    this.synced = { segment: segment.baseOffset, position: endPosition, nextOffset: endOffset };
  }

  fail(reason: string, cause: unknown): void {
    if (this.failure !== null) return;
    const detail = `${reason}: ${errorCode(cause) ?? (cause instanceof Error ? cause.message : String(cause))}`;
    this.failure = new SealbusError('SEALBUS_ERR_STORAGE_IO', { topic: this.topic, partition: this.partition, reason: detail }, { cause });
    this.pipeline.abandonQueued(new SealbusError('SEALBUS_ERR_PARTITION_READ_ONLY', { topic: this.topic, partition: this.partition }));
  }

  async roll(): Promise<void> {
    const { fileSystem, directory } = this.options;
    const previous = this.active;
    const fresh = new LogSegment(fileSystem, directory, this.nextOffset);
    let fd: number | null = null;
    try {
      fd = await fileSystem.open(fresh.logPath, 'wx+');
      await fileSystem.syncDirectory(directory);
    } catch (err) {
      if (fd !== null) {
        await fileSystem.close(fd).catch(() => undefined);
        await fileSystem.unlink(fresh.logPath).catch(() => undefined);
      }
      throw err;
    }
    fresh.attach(fd);
    this.segments.push(fresh);
    this.synced = { segment: fresh.baseOffset, position: 0, nextOffset: this.nextOffset };
    // A missing index is rebuilt at the next open, so a failure here costs time, not data.
    await previous.writeIndexes().catch(() => undefined);
    this.options.onRoll();
  }

  /** Verifies a whole segment after a read met damage: quarantines what fails, rebuilds the index. */
  async verifySegment(segment: LogSegment): Promise<void> {
    const fd = await segment.acquire();
    try {
      const limit = segment.readableSize;
      const highWatermark = this.highWatermark;
      const following = this.segments[this.segments.indexOf(segment) + 1];
      const rebuilt = new LogSegment(this.fileSystem, this.options.directory, segment.baseOffset);
      const result = await scanSegment({
        fileSystem: this.fileSystem,
        fd,
        size: limit,
        startPosition: 0,
        startOffset: segment.baseOffset,
        onBatch: (header, position) => rebuilt.noteBatch(header.baseOffset, header.recordCount, header.timestamp, position, header.totalBytes),
      });
      for (const damage of result.damage) {
        const toOffset = (damage.resumeOffset ?? following?.baseOffset ?? highWatermark) - 1;
        const range = { segment: segment.baseOffset, position: damage.position, bytes: damage.bytes, fromOffset: damage.fromOffset, toOffset };
        this.quarantine.add(range);
        this.options.onProblem({
          kind: 'corrupt-batch',
          topic: this.topic,
          partition: this.partition,
          segment: segment.name,
          position: damage.position,
          bytes: damage.bytes,
          fromOffset: damage.fromOffset,
          toOffset: toOffset >= damage.fromOffset ? toOffset : null,
          detail: `${damage.reason}; found by a read, ${damage.bytes} bytes quarantined`,
        });
      }
      // Appends may have extended the active segment during the scan: keep their entries.
      for (let i = 0; i < segment.offsetIndex.length; i++) {
        const entry = segment.offsetIndex.entry(i);
        if (entry.position >= limit && entry.position > rebuilt.offsetIndex.lastPosition) rebuilt.offsetIndex.add(entry.relativeOffset, entry.position);
      }
      for (let i = 0; i < segment.timeIndex.length; i++) {
        const entry = segment.timeIndex.entry(i);
        if (entry.relativeOffset > (rebuilt.timeIndex.last()?.relativeOffset ?? -1)) rebuilt.timeIndex.add(entry.timestamp, entry.relativeOffset);
      }
      segment.offsetIndex = rebuilt.offsetIndex;
      segment.timeIndex = rebuilt.timeIndex;
    } finally {
      segment.release();
    }
  }

  state(): PartitionState {
    let sizeBytes = 0;
    for (const segment of this.segments) sizeBytes += segment.size;
    return {
      partition: this.partition,
      logStartOffset: this.logStartOffset,
      highWatermark: this.highWatermark,
      sizeBytes,
      segments: this.segments.length,
      readOnly: this.failure !== null,
    };
  }

  checkpoint(topicId: string): PartitionCheckpoint {
    const { segment, position, nextOffset } = this.synced;
    return {
      topic: this.topic,
      topicId,
      partition: this.partition,
      segment,
      position,
      nextOffset,
      producers: this.sequences.snapshot(nextOffset),
    };
  }

  /** How many sealed segments retention would delete now. */
  retentionDue(now: number): number {
    if (this.closed) return 0;
    return segmentsToDelete(
      this.segments.map((segment) => ({ sizeBytes: segment.size, maxTimestamp: segment.maxTimestamp })),
      this.config,
      now,
    );
  }

  /**
   * Deletes the `count` oldest segments, oldest first. Renaming the .log away is the commit point
   * of each deletion: a crash leaves either the whole segment or a `.deleted` leftover that the
   * next open removes, and never a hole in the middle of the log.
   */
  async deleteOldest(count: number): Promise<{ deletedSegments: number; deletedBytes: number }> {
    const { fileSystem, directory } = this.options;
    let deletedSegments = 0;
    let deletedBytes = 0;
    for (let i = 0; i < count && this.segments.length > 1 && !this.closed; i++) {
      const segment = this.segments.shift()!;
      this.quarantine.dropSegmentsBelow(this.logStartOffset);
      await fileSystem.rename(segment.logPath, `${segment.logPath}.deleted`);
      for (const path of [segment.indexPath, segment.timeIndexPath]) {
        await fileSystem.unlink(path).catch((err: unknown) => {
          if (errorCode(err) !== 'ENOENT') throw err;
        });
      }
      await fileSystem.unlink(`${segment.logPath}.deleted`);
      segment.retire();
      deletedSegments++;
      deletedBytes += segment.size;
    }
    if (deletedSegments > 0) await fileSystem.syncDirectory(directory);
    return { deletedSegments, deletedBytes };
  }

  /** Stops appends, lets what is in flight finish, writes the active index and releases the files. */
  async close(abandon?: SealbusError): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (abandon !== undefined) this.pipeline.abandonQueued(abandon);
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    await this.pipeline.whenQuiet();
    // What only the WAL holds goes into the segment before its fd closes (a failure keeps the WAL's frames).
    await this.pipeline.flushToFile().catch(() => undefined);
    if (this.failure === null) await this.active.writeIndexes().catch(() => undefined);
    for (const segment of this.segments) segment.retire();
    this.waiters.rejectAll(abandon ?? new SealbusError('SEALBUS_ERR_STORE_CLOSED'));
  }
}
