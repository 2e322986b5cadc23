/**
 * One partition's use of the store's write-ahead log (store-wal.ts): which of its small groups go
 * through the WAL, the frame each becomes, and the segment catching up with what only the WAL holds
 * (an fdatasync of the segment in the background every WAL_FLUSH_BYTES, before a roll, at close,
 * and when the WAL recycles a file).
 */
import type { LogFileSystem } from './fs-seam.js';
import type { LogSegment } from './log-segment.js';
import { type StoreWal, WAL_FLUSH_BYTES, WAL_MAX_PAYLOAD, type WalTarget } from './store-wal.js';

/** A group of appends as written to its segment, waiting to be made durable. */
export interface WalGroup {
  readonly segment: LogSegment;
  /** Where the group starts in the segment, and its bytes as written. */
  readonly position: number;
  readonly buffers: readonly Buffer[];
  readonly endPosition: number;
  /** Interval policy: acknowledged at write time, before the fsync. */
  readonly acked: boolean;
}

/** The partition as the WAL side of its pipeline sees it. */
export interface PartitionWalHost {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly fileSystem: LogFileSystem;
  readonly wal: StoreWal | null;
  fail(reason: string, cause: unknown): void;
}

export class PartitionWal {
  /** The segment whose newest bytes are durable only through the WAL so far. */
  #walOnly: LogSegment | null = null;
  /** Bytes made durable through the WAL since the segment's last fdatasync. */
  #walBytes = 0;
  /** Set once flushing to the segment failed: from then on the WAL must keep its frames. */
  #flushFailure: unknown = null;
  /** Flushes run one after another; the next caller waits for the one running. */
  #flushTail: Promise<void> = Promise.resolve();
  readonly #target: WalTarget = { flushToFile: () => this.flushToFile() };

  constructor(private readonly host: PartitionWalHost) {}

  /**
   * Makes durable in the segment itself what is durable only through the WAL: before a roll,
   * at close, and when the WAL recycles a file. A failure fails the partition, and every later
   * call fails too, so that the WAL never forgets frames an fdatasync retry only seemed to cover.
   */
  flushToFile(): Promise<void> {
    const flushed = this.#flushTail.then(() => this.#flushNow());
    this.#flushTail = flushed.catch(() => undefined);
    return flushed;
  }

  async #flushNow(): Promise<void> {
    if (this.#flushFailure !== null) throw this.#flushFailure;
    const segment = this.#walOnly;
    if (segment === null) return;
    this.#walOnly = null;
    this.#walBytes = 0;
    try {
      await this.host.fileSystem.fdatasync(segment.writeFd);
    } catch (err) {
      this.#flushFailure = err;
      this.host.fail('fsync failed', err);
      throw err;
    }
  }

  /** Whether `write` would hand `groups` to the WAL (which may still refuse them: then the segment's fdatasync covers them). */
  takes(groups: readonly WalGroup[]): boolean {
    if (this.host.wal === null || this.#flushFailure !== null) return false;
    const first = groups[0]!;
    let position = first.position;
    for (const group of groups) {
      // Interval-policy groups are acknowledged already; a roll never falls inside a sync.
      if (group.acked || group.segment !== first.segment || group.position !== position) return false;
      position = group.endPosition;
    }
    return position - first.position <= WAL_MAX_PAYLOAD;
  }

  /**
   * Makes small groups, one after another in one segment, durable with one frame in the store's
   * WAL; null when the WAL does not take them. A frame the WAL fails to make durable falls back to
   * the segment's own fdatasync.
   */
  write(groups: readonly WalGroup[]): Promise<void> | null {
    const wal = this.host.wal;
    if (wal === null || !this.takes(groups)) return null;
    const first = groups[0]!;
    const segment = first.segment;
    const buffers: Buffer[] = [];
    for (const group of groups) for (const buffer of group.buffers) buffers.push(buffer);
    const bytes = groups.at(-1)!.endPosition - first.position;
    const place = { topic: this.host.topic, topicId: this.host.topicId, partition: this.host.partition, segmentBase: segment.baseOffset, position: first.position };
    const durable = wal.write(this.#target, place, buffers, bytes);
    if (durable === null) return null;
    this.#walOnly = segment;
    // The segment catches up in the background, a little at a time, so that recycling a WAL file
    // (which waits for every segment it covers) never has much to flush at once.
    this.#walBytes += bytes;
    if (this.#walBytes >= WAL_FLUSH_BYTES) {
      this.#walBytes = 0;
      this.flushToFile().catch(() => undefined);
    }
    return durable.catch(() => this.host.fileSystem.fdatasync(segment.writeFd));
  }
}
