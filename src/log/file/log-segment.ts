import { join } from 'node:path';
import { segmentFileName } from './paths.js';
import { INDEX_INTERVAL_BYTES, OffsetIndex, TimeIndex } from './segment-indexes.js';
import { writeFileAtomic, type LogFileSystem } from './fs-seam.js';

/** The segment was deleted by retention (or its partition closed) while a read was starting. */
export class RetiredSegmentError extends Error {
  constructor(path: string) {
    super(`segment ${path} is no longer part of the log`);
  }
}

/**
 * One segment file of a partition and its in-memory sparse indexes. The file holds whole batches
 * back to back; `readableSize` is how much of it readers may see (the acknowledged part).
 */
export class LogSegment {
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  /** Bytes written, acknowledged or not. */
  size = 0;
  /** Bytes readers may see: everything in a sealed segment, the acknowledged prefix of the active one. */
  readableSize = 0;
  /** Offset after the last batch written. */
  nextOffset: number;
  /** Base offset of the last batch written, -1 when empty. */
  lastBatchOffset = -1;
  /** Timestamp of the newest batch (timestamps never decrease within a partition), -1 when empty. */
  maxTimestamp = -1;
  offsetIndex = new OffsetIndex();
  timeIndex = new TimeIndex();
  private fd: number | null = null;
  private opening: Promise<number> | null = null;
  private users = 0;
  private removed = false;

  constructor(
    private readonly fileSystem: LogFileSystem,
    readonly directory: string,
    readonly baseOffset: number,
  ) {
    this.logPath = join(directory, segmentFileName(baseOffset, 'log'));
    this.indexPath = join(directory, segmentFileName(baseOffset, 'index'));
    this.timeIndexPath = join(directory, segmentFileName(baseOffset, 'timeindex'));
    this.nextOffset = baseOffset;
  }

  get name(): string {
    return segmentFileName(this.baseOffset, 'log');
  }

  /** Forgets everything learned about the content, before a rebuild from the file. */
  resetContent(): void {
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.size = 0;
    this.readableSize = 0;
    this.nextOffset = this.baseOffset;
    this.lastBatchOffset = -1;
    this.maxTimestamp = -1;
  }

  /** Adopts an fd opened by recovery or creation. */
  attach(fd: number): void {
    this.fd = fd;
  }

  /** The open fd for writing; only the active segment has one attached. */
  get writeFd(): number {
    if (this.fd === null) throw new Error(`segment ${this.logPath} is not open`);
    return this.fd;
  }

  /**
   * Opens the file for reading on first use and pins it until `release`, so that retention cannot
   * close an fd (whose number the OS could hand out again) under a read in progress.
   */
  async acquire(): Promise<number> {
    if (this.removed) throw new RetiredSegmentError(this.logPath);
    this.users++;
    try {
      if (this.fd !== null) return this.fd;
      this.opening ??= this.fileSystem.open(this.logPath, 'r');
      this.fd = await this.opening;
      return this.fd;
    } catch (err) {
      this.opening = null;
      this.users--;
      throw err;
    }
  }

  release(): void {
    this.users--;
    if (this.removed && this.users === 0) void this.closeFd();
  }

  /** Updates indexes and counters for a batch just written (or found by a scan) at `position`. */
  noteBatch(baseOffset: number, count: number, timestamp: number, position: number, totalBytes: number): void {
    const relativeOffset = baseOffset - this.baseOffset;
    if (position >= this.offsetIndex.lastPosition + INDEX_INTERVAL_BYTES) {
      this.offsetIndex.add(relativeOffset, position);
      this.timeIndex.add(timestamp, relativeOffset);
    }
    this.size = position + totalBytes;
    this.nextOffset = baseOffset + count;
    this.lastBatchOffset = baseOffset;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  /** Records the newest timestamp as the last time-index entry, so a reopen knows it without a scan. */
  finishTimeIndex(): void {
    if (this.lastBatchOffset >= 0) this.timeIndex.add(this.maxTimestamp, this.lastBatchOffset - this.baseOffset);
  }

  async writeIndexes(): Promise<void> {
    this.finishTimeIndex();
    await writeFileAtomic(this.fileSystem, this.indexPath, this.directory, this.offsetIndex.serialize());
    await writeFileAtomic(this.fileSystem, this.timeIndexPath, this.directory, this.timeIndex.serialize());
  }

  /** Closes the fd now, or once the last reader lets go. */
  retire(): void {
    this.removed = true;
    if (this.users === 0) void this.closeFd();
  }

  async closeFd(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    this.opening = null;
    if (fd !== null) await this.fileSystem.close(fd).catch(() => undefined);
  }
}
