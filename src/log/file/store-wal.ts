import { randomInt } from 'node:crypto';
import type { LogFileSystem } from './fs-seam.js';
import {
  DEFAULT_WAL_FILE_BYTES,
  encodeFrameHeader,
  encodeHeader,
  decodeHeader,
  FRAME_FIXED,
  HEADER_BYTES,
  HEADER_SPACE,
  MAX_POSITION,
  MAX_TOPIC_BYTES,
  replayFrames,
  type SegmentLocator,
  WAL_MAX_PAYLOAD,
  type WalPlace,
  type WalReplay,
  walPath,
} from './wal-format.js';

export { DEFAULT_WAL_FILE_BYTES, WAL_FLUSH_BYTES, WAL_MAX_PAYLOAD, walFilesInUse, type SegmentLocator, type WalPlace, type WalReplay } from './wal-format.js';

/**
 * The store's write-ahead log: one fdatasync makes the small appends of every partition durable
 * together (a produce's batch and its audit event among them), instead of one fdatasync per
 * partition. Frames are physical redo: "these bytes, at this position of this segment file". A
 * partition writes its segment as before, then a frame with the same bytes here, and acknowledges
 * once the frame is durable; its segment file is fdatasync'd later, when the WAL file is recycled,
 * at a roll, and at close. After a power loss, open() writes every durable frame back into its
 * segment before recovery reads the segments. See docs/log-format.md#the-write-ahead-log.
 *
 * Two files, `wal/0.wal` and `wal/1.wal`, take turns. A file in use has a header (generation,
 * random salt); every frame carries the salt, so a frame left from an earlier use of the file is
 * never taken for a current one. A full file is recycled once every partition with frames in it
 * has fdatasync'd its segment: its header is then zeroed. Frames overwrite space that was written
 * (zeros) and made durable beforehand, so that a frame's fdatasync changes no file metadata and
 * needs no journal commit: it costs about half the time and CPU of an fdatasync of a growing file.
 *
 * Anything the WAL cannot take (a large group, both files busy, the WAL broken by an I/O error)
 * is made durable the old way, by an fdatasync of the segment itself: `write` returns null or
 * its promise rejects, and the caller falls back. Nothing is lost either way.
 */

/** Space made ready (written with zeros, fdatasync'd) ahead of the frames, a piece at a time. */
const PREPARE_BYTES = 256 * 1024;
const PREPARE_AHEAD = 128 * 1024;

/** A partition with frames in a WAL file: recycling the file first makes its segment durable. */
export interface WalTarget {
  flushToFile(): Promise<void>;
}

interface Waiter {
  readonly position: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface WalFile {
  readonly index: number;
  readonly fd: number;
  state: 'free' | 'active' | 'recycling';
  salt: number;
  /** Where the next frame goes. */
  end: number;
  /** Bytes written (zeros or frames) and durable, size included: frames below it change no metadata. */
  prepared: number;
  /** The range being prepared now: frames must stay out of it. */
  preparing: Promise<void> | null;
  preparingFrom: number;
  /** The header of the current use written (false: it failed, and the WAL is broken). */
  header: Promise<boolean>;
  readonly targets: Set<WalTarget>;
  /** Frames written and waiting for the next fdatasync. */
  ready: Waiter[];
  syncing: boolean;
  syncScheduled: boolean;
  /** Frames reserved and not yet resolved or rejected. */
  pending: number;
  drained: (() => void)[];
}

export class StoreWal {
  private readonly files: WalFile[];
  private active = 0;
  private broken: { readonly error: unknown; readonly file: number; readonly position: number } | null = null;
  private closed = false;

  private constructor(
    private readonly fileSystem: LogFileSystem,
    fds: readonly { fd: number; size: number }[],
    private generation: number,
    private readonly fileBytes: number,
  ) {
    this.files = fds.map(({ fd, size }, index) => ({
      index,
      fd,
      state: 'free',
      salt: 0,
      end: HEADER_SPACE,
      prepared: Math.min(size, fileBytes),
      preparing: null,
      preparingFrom: 0,
      header: Promise.resolve(true),
      targets: new Set(),
      ready: [],
      syncing: false,
      syncScheduled: false,
      pending: 0,
      drained: [],
    }));
  }

  /**
   * Opens `dir` (creating it and its two files), writes every durable frame back into its segment
   * under `topicsDir`, makes those segments durable, and clears the files. Call it before the
   * partitions recover.
   */
  static async open(fileSystem: LogFileSystem, dir: string, segmentPath: SegmentLocator, fileBytes = DEFAULT_WAL_FILE_BYTES): Promise<{ wal: StoreWal; replay: WalReplay }> {
    if (!Number.isSafeInteger(fileBytes) || fileBytes < HEADER_SPACE + FRAME_FIXED + MAX_TOPIC_BYTES + WAL_MAX_PAYLOAD) {
      throw new RangeError(`the WAL file size must be at least ${HEADER_SPACE + FRAME_FIXED + MAX_TOPIC_BYTES + WAL_MAX_PAYLOAD} bytes`);
    }
    await fileSystem.mkdir(dir);
    const opened: { fd: number; size: number; header: { generation: number; salt: number } | null }[] = [];
    let created = false;
    try {
      for (const index of [0, 1]) {
        let fd: number;
        try {
          fd = await fileSystem.open(walPath(dir, index), 'r+');
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
          fd = await fileSystem.open(walPath(dir, index), 'wx+');
          created = true;
        }
        const size = await fileSystem.fileSize(fd);
        const head = Buffer.alloc(HEADER_BYTES);
        const got = size >= HEADER_BYTES ? await fileSystem.read(fd, head, 0, HEADER_BYTES, 0) : 0;
        opened.push({ fd, size, header: got === HEADER_BYTES ? decodeHeader(head) : null });
      }
      if (created) await fileSystem.syncDirectory(dir);
      const inUse = opened.filter((file) => file.header !== null).sort((a, b) => a.header!.generation - b.header!.generation);
      const replay = await replayFrames(fileSystem, segmentPath, inUse.map((file) => ({ fd: file.fd, size: file.size, salt: file.header!.salt })));
      for (const file of inUse) {
        await fileSystem.writev(file.fd, [Buffer.alloc(HEADER_BYTES)], 0);
        await fileSystem.fdatasync(file.fd);
      }
      // The first file's first piece is made ready now, so that the first appends already share fdatasyncs.
      const first = opened[0]!;
      const ready = Math.min(HEADER_SPACE + PREPARE_BYTES, fileBytes);
      if (first.size < ready) {
        await fileSystem.writev(first.fd, [Buffer.alloc(ready - first.size)], first.size);
        await fileSystem.fdatasync(first.fd);
        first.size = ready;
      }
      const generation = Math.max(0, ...inUse.map((file) => file.header!.generation));
      return { wal: new StoreWal(fileSystem, opened, generation, fileBytes), replay };
    } catch (err) {
      for (const file of opened) await fileSystem.close(file.fd).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Writes a frame of `buffers` (`bytes` in all) for `place` and resolves once it is durable.
   * Null when the WAL does not take it: the caller fdatasyncs the segment instead, as it does when
   * the promise rejects.
   */
  write(target: WalTarget, place: WalPlace, buffers: readonly Buffer[], bytes: number): Promise<void> | null {
    if (this.broken !== null || this.closed || bytes > WAL_MAX_PAYLOAD || bytes === 0) return null;
    const topic = Buffer.from(place.topic, 'utf8');
    if (topic.length > MAX_TOPIC_BYTES || place.topicId.length !== 36 || place.position > MAX_POSITION || place.segmentBase > MAX_POSITION) return null;
    const length = FRAME_FIXED + topic.length + bytes;
    let file = this.files[this.active]!;
    if (file.state !== 'active' || file.end + length > this.fileBytes) {
      const next = this.take(file);
      if (next === null) return null;
      file = next;
    }
    // Frames never reach into the range being written with zeros.
    if (file.preparing !== null && file.end + length > file.preparingFrom) return null;
    const position = file.end;
    file.end += length;
    const header = encodeFrameHeader(file.salt, place, topic, buffers, bytes);
    file.targets.add(target);
    file.pending += 1;
    this.prepare(file);
    // The next file is made ready while this one fills, so that switching costs nothing.
    const next = this.files[1 - file.index]!;
    if (next.state === 'free' && file.end > this.fileBytes / 2) this.prepare(next);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { position, resolve, reject };
      this.fileSystem.writev(file.fd, [header, ...buffers], position).then(
        () => {
          if (this.usable(file, waiter)) {
            file.ready.push(waiter);
            this.scheduleSync(file);
          } else this.settle(file, waiter, this.broken?.error ?? new Error('the WAL is closed'));
        },
        (err: unknown) => {
          this.break(err, file, position);
          this.settle(file, waiter, err);
        },
      );
    });
  }

  /**
   * Clears both files once their partitions have made their segments durable (they do when they
   * close, before this), and closes them: a clean stop leaves nothing to replay.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const file of this.files) {
      await file.preparing?.catch(() => undefined);
      await this.whenDrained(file);
    }
    for (const file of this.files) {
      try {
        if (file.state !== 'free' && this.broken === null) {
          for (const target of file.targets) await target.flushToFile();
          await this.fileSystem.writev(file.fd, [Buffer.alloc(HEADER_BYTES)], 0);
          await this.fileSystem.fdatasync(file.fd);
        }
      } catch {
        // Left in use: the next open replays it, which rewrites bytes the segments already hold.
      } finally {
        await this.fileSystem.close(file.fd).catch(() => undefined);
      }
    }
  }

  /** The file to write into now: `full` if it is free or has room, else the other one if it is free. */
  private take(full: WalFile): WalFile | null {
    if (full.state === 'free') {
      this.activate(full);
      return full;
    }
    const next = this.files[1 - full.index]!;
    if (next.state !== 'free') return null;
    full.state = 'recycling';
    void this.recycle(full);
    this.active = next.index;
    this.activate(next);
    return next;
  }

  private activate(file: WalFile): void {
    file.state = 'active';
    file.salt = randomInt(1, 2 ** 32 - 1);
    file.end = HEADER_SPACE;
    this.generation += 1;
    file.header = this.fileSystem.writev(file.fd, [encodeHeader(this.generation, file.salt)], 0).then(
      () => true,
      (err: unknown) => {
        this.break(err, file, 0);
        return false;
      },
    );
  }

  /** Once the file's frames are settled, makes its partitions' segments durable and clears it. */
  private async recycle(file: WalFile): Promise<void> {
    try {
      await this.whenDrained(file);
      if (this.closed) return;
      for (const target of [...file.targets]) await target.flushToFile();
      file.targets.clear();
      await this.fileSystem.writev(file.fd, [Buffer.alloc(HEADER_BYTES)], 0);
      await this.fileSystem.fdatasync(file.fd);
      file.state = 'free';
    } catch (err) {
      this.break(err, file, 0);
    }
  }

  /** Writes zeros ahead of the frames and makes them durable, so that frames overwrite instead of growing the file. */
  private prepare(file: WalFile): void {
    if (file.preparing !== null || this.closed || this.broken !== null) return;
    const from = Math.max(file.prepared, file.end);
    if (from >= this.fileBytes || (file.state !== 'free' && file.end + PREPARE_AHEAD < file.prepared)) return;
    const bytes = Math.min(PREPARE_BYTES, this.fileBytes - from);
    file.preparingFrom = from;
    file.preparing = this.fileSystem
      .writev(file.fd, [Buffer.alloc(bytes)], from)
      .then(() => this.fileSystem.fdatasync(file.fd))
      .then(
        () => {
          file.prepared = from + bytes;
        },
        () => {
          // Frames still fit past it; they cost a metadata commit each until the next try.
        },
      )
      .finally(() => {
        file.preparing = null;
        this.prepare(file);
      });
  }

  private scheduleSync(file: WalFile): void {
    if (file.syncScheduled) return;
    file.syncScheduled = true;
    // After the current turn of the event loop: a produce's batch and its audit event, written a
    // few microtasks apart, share the fdatasync.
    setImmediate(() => this.runSync(file));
  }

  private runSync(file: WalFile): void {
    file.syncScheduled = false;
    if (file.syncing || file.ready.length === 0) return;
    const batch = file.ready;
    file.ready = [];
    file.syncing = true;
    file.header
      .then((written) => (written ? this.fileSystem.fdatasync(file.fd) : Promise.reject(this.broken!.error)))
      .then(
        () => {
          for (const waiter of batch) this.settle(file, waiter, this.usable(file, waiter) ? null : this.broken!.error);
        },
        (err: unknown) => {
          this.break(err, file, HEADER_SPACE);
          for (const waiter of batch) this.settle(file, waiter, err);
        },
      )
      .finally(() => {
        file.syncing = false;
        if (file.ready.length > 0) this.scheduleSync(file);
      });
  }

  /** A frame is good unless the WAL broke at or before it in the same file (replay stops there). */
  private usable(file: WalFile, waiter: Waiter): boolean {
    const broken = this.broken;
    return broken === null || broken.file !== file.index || waiter.position < broken.position;
  }

  private settle(file: WalFile, waiter: Waiter, error: unknown): void {
    if (error === null) waiter.resolve();
    else waiter.reject(error);
    file.pending -= 1;
    if (file.pending === 0) for (const resolve of file.drained.splice(0)) resolve();
  }

  private whenDrained(file: WalFile): Promise<void> {
    if (file.pending === 0) return Promise.resolve();
    return new Promise((resolve) => file.drained.push(resolve));
  }

  /** Stops using the WAL: frames not yet durable are refused (their callers fdatasync their segments). */
  private break(error: unknown, file: WalFile, position: number): void {
    if (this.broken !== null) return;
    this.broken = { error, file: file.index, position };
    for (const each of this.files) {
      for (const waiter of each.ready.splice(0)) {
        if (this.usable(each, waiter)) each.ready.push(waiter);
        else this.settle(each, waiter, error);
      }
    }
  }
}
