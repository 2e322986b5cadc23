import { SealbusError } from '../../errors/index.js';
import type { ProducerSequences } from '../producer-sequences.js';
import { BATCH_HEADER_BYTES, encodeBatchHeader } from '../record-batch.js';
import type { AppendRequest, AppendResult, TopicConfig } from '../types.js';
import { errorCode, type LogFileSystem } from './fs-seam.js';
import type { LogSegment } from './log-segment.js';
import { PartitionWal } from './partition-wal.js';
import type { StoreWal } from './store-wal.js';

/** One writev carries at most this many appends (IOV_MAX is 1024 buffers, two per batch). */
const MAX_GROUP_APPENDS = 512;
const MAX_GROUP_BYTES = 32 * 1024 * 1024;

interface Pending {
  readonly request: AppendRequest;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
  /** Retries of this batch that arrived while it was in flight: answered with it. */
  followers?: Pending[];
}

interface Placed {
  readonly pending: Pending;
  readonly result: AppendResult;
  readonly position: number;
  readonly totalBytes: number;
  readonly undo: (() => void) | null;
}

interface Written {
  readonly placed: readonly Placed[];
  readonly segment: LogSegment;
  /** Where the group starts in the segment, and its bytes as written (for the store's WAL). */
  readonly position: number;
  readonly buffers: readonly Buffer[];
  readonly endPosition: number;
  readonly endOffset: number;
  /** Interval policy: acknowledged at write time, before the fsync. */
  readonly acked: boolean;
}

/** The partition as the pipeline sees it. */
export interface PipelineHost {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly fileSystem: LogFileSystem;
  /** The store's write-ahead log (small groups become durable through it), or null. */
  readonly wal: StoreWal | null;
  readonly config: TopicConfig;
  readonly clock: () => number;
  readonly sequences: ProducerSequences;
  readonly active: LogSegment;
  nextOffset: number;
  lastTimestamp: number;
  /** Set once an fsync failed: the partition is read-only from then on. */
  readonly failure: SealbusError | null;
  /** Makes written bytes visible to readers and waiters. */
  publish(segment: LogSegment, endPosition: number, endOffset: number): void;
  /** Records the durable point used by checkpoints. */
  markSynced(segment: LogSegment, endPosition: number, endOffset: number): void;
  fail(reason: string, cause: unknown): void;
  /** How long a group-commit fdatasync took, succeeded or not (metrics: a slow disk delays every ack). */
  observeFsync(seconds: number): void;
  /** Starts a new active segment at nextOffset; called with everything written already durable. */
  roll(): Promise<void>;
}

/**
 * The append path of one partition: appends queue in arrival order, take their offsets in that
 * order, and go to disk in groups, one writev each. Under the `always` policy a group is
 * acknowledged after the fdatasync that follows it; writes continue while an fdatasync runs, and
 * everything written meanwhile shares the next one (group commit). A small group's fdatasync is
 * the store WAL's, shared with the other partitions; the segment's own comes later (flushToFile).
 */
export class AppendPipeline {
  private readonly queue: Pending[] = [];
  private unsynced: Written[] = [];
  private writing = false;
  /** Syncs started and not yet handled; more than one only while each goes through the WAL. */
  private syncsInFlight = 0;
  private segmentSyncInFlight = false;
  /** The handling of the last sync started: each waits for the one before, so acks keep their order. */
  private syncTail: Promise<void> = Promise.resolve();
  /** Set when a sync failed: the syncs after it, already on their way, are refused, never acknowledged. */
  private syncFailed = false;
  private readonly inFlight = new Map<number, Pending>();
  private quietWaiters: (() => void)[] = [];
  private syncWaiters: (() => void)[] = [];
  /** The small groups' way to durability, through the store's WAL. */
  private readonly wal: PartitionWal;

  constructor(private readonly host: PipelineHost) {
    this.wal = new PartitionWal(host);
  }

  /** See PartitionWal.flushToFile. */
  flushToFile(): Promise<void> {
    return this.wal.flushToFile();
  }

  submit(request: AppendRequest): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  /** Rejects everything not yet written (topic deleted, partition failed). */
  abandonQueued(error: SealbusError): void {
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }

  /** Resolves once nothing is queued, being written or waiting for an fsync. */
  whenQuiet(): Promise<void> {
    this.sync();
    if (this.isQuiet()) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  /** Flushes what the interval policy acknowledged but did not fsync yet. */
  flush(): void {
    this.sync();
  }

  private isQuiet(): boolean {
    return this.queue.length === 0 && !this.writing && this.syncsInFlight === 0 && this.unsynced.length === 0;
  }

  private checkQuiet(): void {
    if (this.quietWaiters.length === 0 || !this.isQuiet()) return;
    for (const resolve of this.quietWaiters.splice(0)) resolve();
  }

  private pump(): void {
    if (this.writing || this.queue.length === 0) return this.checkQuiet();
    this.writing = true;
    this.writeNext()
      .catch((err: unknown) => this.host.fail('unexpected error on the append path', err))
      .finally(() => {
        this.writing = false;
        this.pump();
      });
  }

  private async writeNext(): Promise<void> {
    const host = this.host;
    if (host.failure !== null) return this.abandonQueued(this.readOnlyError());
    const active = host.active;
    const firstBytes = BATCH_HEADER_BYTES + this.queue[0]!.request.records.bytes.length;
    if (active.size > 0 && active.size + firstBytes > host.config.segmentBytes) {
      await this.whenSynced();
      if (host.failure !== null) return;
      try {
        await this.flushToFile();
        await host.roll();
      } catch (err) {
        this.queue.shift()?.reject(this.writeError(err, 'cannot start a new segment'));
      }
      return;
    }
    const savedTimestamp = host.lastTimestamp;
    const position = active.size;
    const placed = this.placeGroup(active);
    if (placed.length === 0) return;
    const buffers: Buffer[] = [];
    let bytes = 0;
    for (const item of placed) {
      buffers.push(item.header, item.placed.pending.request.records.bytes);
      bytes += item.placed.totalBytes;
    }
    try {
      await host.fileSystem.writev(active.writeFd, buffers, position);
    } catch (err) {
      await this.undoFailedWrite(placed.map((item) => item.placed), position, savedTimestamp, err);
      return;
    }
    const group = placed.map((item) => item.placed);
    if (host.failure !== null) return this.rejectGroup(group, host.failure);
    for (const item of group) {
      active.noteBatch(item.result.baseOffset, item.result.count, item.result.timestamp, item.position, item.totalBytes);
    }
    const last = group.at(-1)!;
    host.nextOffset = last.result.baseOffset + last.result.count;
    const acked = host.config.fsync.mode === 'interval';
    const written: Written = { placed: group, segment: active, position, buffers, endPosition: position + bytes, endOffset: host.nextOffset, acked };
    this.unsynced.push(written);
    // The fsync is on its way before the callers' own work starts, so that both overlap.
    if (!acked) this.sync();
    this.notifyPlaced(group);
    if (acked) this.ack(written);
  }

  /**
   * Tells each append of a written group its offsets (AppendRequest.onPlaced). They are final from
   * here on: a later failure is an fsync error, after which the partition is read-only and never
   * gives them out again. Duplicates never get here.
   */
  private notifyPlaced(group: readonly Placed[]): void {
    for (const item of group) {
      const onPlaced = item.pending.request.onPlaced;
      if (onPlaced === undefined) continue;
      const { baseOffset, count, timestamp } = item.result;
      try {
        onPlaced({ baseOffset, count, timestamp });
      } catch {
        // The hook must not throw; if it does, that is the caller's, not the log's, failure.
      }
    }
  }

  /** Takes queued appends into one group: checks sequences, assigns offsets and timestamps, builds headers. */
  private placeGroup(active: LogSegment): { placed: Placed; header: Buffer }[] {
    const host = this.host;
    const out: { placed: Placed; header: Buffer }[] = [];
    let offset = host.nextOffset;
    let bytes = 0;
    while (this.queue.length > 0 && out.length < MAX_GROUP_APPENDS && bytes < MAX_GROUP_BYTES) {
      const pending = this.queue[0]!;
      const records = pending.request.records;
      const totalBytes = BATCH_HEADER_BYTES + records.bytes.length;
      if (out.length > 0 && active.size + bytes + totalBytes > host.config.segmentBytes) break;
      this.queue.shift();
      const stamp = pending.request.producer;
      if (stamp !== undefined) {
        let check;
        try {
          check = host.sequences.check(stamp, records.count);
        } catch (err) {
          pending.reject(err);
          continue;
        }
        if (check.kind === 'duplicate') {
          const { baseOffset, count, timestamp } = check.batch;
          const original = this.inFlight.get(baseOffset);
          if (original !== undefined) (original.followers ??= []).push(pending);
          else pending.resolve({ baseOffset, count, timestamp, duplicate: true });
          continue;
        }
      }
      if (offset + records.count > Number.MAX_SAFE_INTEGER) {
        pending.reject(this.ioError('offsets exhausted (2^53)'));
        continue;
      }
      const timestamp = Math.max(host.clock(), host.lastTimestamp);
      host.lastTimestamp = timestamp;
      const header = encodeBatchHeader(
        stamp === undefined
          ? { baseOffset: offset, timestamp }
          : { baseOffset: offset, timestamp, producerId: stamp.producerId, producerEpoch: stamp.epoch, baseSequence: stamp.baseSequence },
        records,
      );
      const undo = stamp === undefined ? null : host.sequences.record(stamp, { baseSequence: stamp.baseSequence, count: records.count, baseOffset: offset, timestamp });
      if (stamp !== undefined) this.inFlight.set(offset, pending);
      const result: AppendResult = { baseOffset: offset, count: records.count, timestamp, duplicate: false };
      out.push({ placed: { pending, result, position: active.size + bytes, totalBytes, undo }, header });
      offset += records.count;
      bytes += totalBytes;
    }
    return out;
  }

  /** A failed writev: forget the group, cut whatever part of it reached the file, fail its appends. */
  private async undoFailedWrite(group: readonly Placed[], position: number, savedTimestamp: number, cause: unknown): Promise<void> {
    const host = this.host;
    for (let i = group.length - 1; i >= 0; i--) group[i]!.undo?.();
    host.lastTimestamp = savedTimestamp;
    const error = this.writeError(cause, 'write failed');
    try {
      await host.fileSystem.ftruncate(host.active.writeFd, position);
    } catch (truncateError) {
      // Unknown bytes past the log end would be scanned at the next open: stop appending instead.
      host.fail('cannot cut a failed write', truncateError);
    }
    this.rejectGroup(group, error);
  }

  private ack(written: Written): void {
    this.host.publish(written.segment, written.endPosition, written.endOffset);
    for (const item of written.placed) {
      this.inFlight.delete(item.result.baseOffset);
      item.pending.resolve(item.result);
      for (const follower of item.pending.followers ?? []) follower.resolve({ baseOffset: item.result.baseOffset, count: item.result.count, timestamp: item.result.timestamp, duplicate: true });
    }
  }

  private rejectGroup(group: readonly Placed[], error: unknown): void {
    for (const item of group) {
      this.inFlight.delete(item.result.baseOffset);
      item.pending.reject(error);
      for (const follower of item.pending.followers ?? []) follower.reject(error);
    }
  }

  /**
   * Starts making the unsynced groups durable. A group that goes through the WAL does not wait for
   * the partition's previous frame to be durable: it joins the WAL's next fdatasync, which may be
   * the same one (a produce's audit event, written a few microtasks after the last, no longer waits
   * a whole fdatasync for the event before it). A segment's own fdatasync covers everything
   * written before it, so it starts only when no other sync of the partition runs, as before.
   * Whichever finishes first, groups are acknowledged (or refused) in the order they were written.
   */
  private sync(): void {
    if (this.unsynced.length === 0) return this.checkQuiet();
    if (this.syncsInFlight > 0 && (this.segmentSyncInFlight || !this.wal.takes(this.unsynced))) return;
    const group = this.unsynced;
    this.unsynced = [];
    const last = group.at(-1)!;
    const started = performance.now();
    const viaWal = this.wal.write(group);
    const segmentSync = viaWal === null;
    this.syncsInFlight += 1;
    if (segmentSync) this.segmentSyncInFlight = true;
    const observed = (): void => this.host.observeFsync((performance.now() - started) / 1000);
    const outcome = (viaWal ?? this.host.fileSystem.fdatasync(last.segment.writeFd)).then(
      () => (observed(), null),
      (err: unknown) => (observed(), err ?? new Error('fsync failed')),
    );
    const handled = Promise.all([this.syncTail, outcome])
      .then(([, failed]) => {
        if (failed === null && !this.syncFailed) {
          this.host.markSynced(last.segment, last.endPosition, last.endOffset);
          for (const written of group) if (!written.acked) this.ack(written);
          return;
        }
        // Never retry an fsync and then acknowledge: the kernel may have dropped the dirty pages.
        this.syncFailed = true;
        if (failed !== null) this.host.fail('fsync failed', failed);
        const error = this.host.failure ?? this.ioError('fsync failed');
        for (const written of [...group, ...this.unsynced.splice(0)]) if (!written.acked) this.rejectGroup(written.placed, error);
      })
      .finally(() => {
        this.syncsInFlight -= 1;
        if (segmentSync) this.segmentSyncInFlight = false;
        this.sync();
        this.resolveSyncWaiters();
      });
    // Never a rejection here, or every later sync would wait on it and none would be handled.
    this.syncTail = handled.catch((err: unknown) => this.host.fail('unexpected error on the append path', err));
  }

  private resolveSyncWaiters(): void {
    if (this.syncsInFlight > 0 || this.unsynced.length > 0) return;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  /** Resolves once everything written so far is durable (or failed). */
  private whenSynced(): Promise<void> {
    this.sync();
    if (this.syncsInFlight === 0 && this.unsynced.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private ioError(reason: string): SealbusError {
    return new SealbusError('SEALBUS_ERR_STORAGE_IO', { topic: this.host.topic, partition: this.host.partition, reason });
  }

  private readOnlyError(): SealbusError {
    return new SealbusError('SEALBUS_ERR_PARTITION_READ_ONLY', { topic: this.host.topic, partition: this.host.partition });
  }

  private writeError(cause: unknown, what: string): SealbusError {
    const code = errorCode(cause);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new SealbusError('SEALBUS_ERR_STORAGE_FULL', { topic: this.host.topic, partition: this.host.partition }, { cause });
    }
    return new SealbusError(
      'SEALBUS_ERR_STORAGE_IO',
      { topic: this.host.topic, partition: this.host.partition, reason: `${what}: ${code ?? String(cause)}` },
      { cause },
    );
  }
}
