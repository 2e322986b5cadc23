import { crc32 } from 'node:zlib';
import { dirname } from 'node:path';
import { SealbusError } from '../../errors/index.js';
import { parseJson } from '../../json/safe-json.js';
import { errorCode, writeFileAtomic, type LogFileSystem } from './fs-seam.js';

/** Frame: u32 payload length | u32 CRC-32 of the payload | payload (JSON, UTF-8). */
const FRAME_HEADER = 8;
const MAX_PAYLOAD = 16 * 1024 * 1024;
/** A frame's CRC only says it was written whole; its JSON is still bounded (an offset beyond 2^53 is damage). */
const FRAME_JSON = { maxTotalBytes: MAX_PAYLOAD, maxArrayItems: Infinity } as const;

export interface JournalDamage {
  readonly position: number;
  readonly bytes: number;
  /** True when the damage ran to the end of the file (a torn write, cut); false when skipped. */
  readonly tail: boolean;
}

function frameAt(data: Buffer, position: number): { value: unknown; end: number } | null {
  if (position + FRAME_HEADER > data.length) return null;
  const length = data.readUInt32LE(position);
  const end = position + FRAME_HEADER + length;
  if (length === 0 || length > MAX_PAYLOAD || end > data.length) return null;
  const payload = data.subarray(position + FRAME_HEADER, end);
  if (crc32(payload) !== data.readUInt32LE(position + 4)) return null;
  try {
    return { value: parseJson(payload, 'journal frame', FRAME_JSON), end };
  } catch {
    return null;
  }
}

/** Parses every verifiable frame; damage in the middle is skipped to the next good frame. */
export function parseJournal(data: Buffer): { values: unknown[]; validEnd: number; damage: JournalDamage[] } {
  const values: unknown[] = [];
  const damage: JournalDamage[] = [];
  let position = 0;
  let validEnd = 0;
  while (position < data.length) {
    const frame = frameAt(data, position);
    if (frame !== null) {
      values.push(frame.value);
      position = frame.end;
      validEnd = position;
      continue;
    }
    let resume = position + 1;
    while (resume < data.length && frameAt(data, resume) === null) resume++;
    damage.push({ position, bytes: resume - position, tail: resume >= data.length });
    position = resume;
  }
  return { values, validEnd, damage };
}

function frame(value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

interface Entry {
  /** A framed record to append, or the full content of a rewrite (compaction). */
  readonly data: Buffer;
  readonly rewrite: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A small append-only file of CRC-framed JSON records with group commit: a record is durable when
 * its promise resolves. Used for committed offsets and producer ids, where a record must survive a
 * kill -9 the moment it is acknowledged.
 */
export class Journal {
  private queue: Entry[] = [];
  private busy = false;
  private failed: SealbusError | null = null;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    private readonly fileSystem: LogFileSystem,
    private readonly path: string,
    private fd: number,
    private size: number,
  ) {}

  /** Opens (creating) the journal; a torn tail is cut, and damage is returned for the report. */
  static async open(fileSystem: LogFileSystem, path: string): Promise<{ journal: Journal; values: unknown[]; damage: JournalDamage[] }> {
    let data: Buffer = Buffer.alloc(0);
    try {
      data = await fileSystem.readFile(path);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
    const parsed = parseJournal(data);
    let fd: number;
    try {
      fd = await fileSystem.open(path, 'r+');
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      fd = await fileSystem.open(path, 'wx+');
      await fileSystem.syncDirectory(dirname(path));
    }
    let size = data.length;
    if (parsed.damage.at(-1)?.tail === true) {
      size = parsed.damage.at(-1)!.position;
      await fileSystem.ftruncate(fd, size);
      await fileSystem.fdatasync(fd);
    }
    return { journal: new Journal(fileSystem, path, fd, size), values: parsed.values, damage: parsed.damage };
  }

  get bytes(): number {
    return this.size;
  }

  append(value: unknown): Promise<void> {
    return this.enqueue(frame(value), false);
  }

  /**
   * Replaces the journal with `values` (compaction), atomically. Records appended before or with it
   * but not yet durable are written after the new content, so none is lost and newer wins.
   */
  rewrite(values: readonly unknown[]): Promise<void> {
    return this.enqueue(Buffer.concat(values.map(frame)), true);
  }

  private enqueue(data: Buffer, rewrite: boolean): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, rewrite, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.busy) return;
    if (this.queue.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    this.busy = true;
    const group = this.queue;
    this.queue = [];
    this.flush(group)
      .then(
        () => group.forEach((entry) => entry.resolve()),
        (err: unknown) => {
          const error = this.storageError(err);
          group.forEach((entry) => entry.reject(error));
        },
      )
      .finally(() => {
        this.busy = false;
        this.pump();
      });
  }

  private async flush(group: readonly Entry[]): Promise<void> {
    if (this.failed !== null) throw this.failed;
    const rewrite = group.filter((entry) => entry.rewrite).at(-1);
    const appends = group.filter((entry) => !entry.rewrite).map((entry) => entry.data);
    if (rewrite !== undefined) {
      const data = Buffer.concat([rewrite.data, ...appends]);
      await writeFileAtomic(this.fileSystem, this.path, dirname(this.path), data);
      await this.fileSystem.close(this.fd);
      this.fd = await this.fileSystem.open(this.path, 'r+');
      this.size = data.length;
      return;
    }
    let bytes = 0;
    for (const data of appends) bytes += data.length;
    try {
      await this.fileSystem.writev(this.fd, appends, this.size);
    } catch (err) {
      await this.fileSystem.ftruncate(this.fd, this.size).catch(() => {
        this.failed = this.storageError(err);
      });
      throw err;
    }
    this.size += bytes;
    try {
      await this.fileSystem.fdatasync(this.fd);
    } catch (err) {
      // As with segments: after a failed fsync nothing more is acknowledged from this file.
      this.failed = this.storageError(err);
      throw err;
    }
  }

  private storageError(cause: unknown): SealbusError {
    if (cause instanceof SealbusError) return cause;
    const where = { topic: this.path, partition: '-' };
    if (errorCode(cause) === 'ENOSPC') return new SealbusError('SEALBUS_ERR_STORAGE_FULL', where, { cause });
    return new SealbusError('SEALBUS_ERR_STORAGE_IO', { ...where, reason: `journal: ${errorCode(cause) ?? String(cause)}` }, { cause });
  }

  async close(): Promise<void> {
    if (this.busy || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.fileSystem.close(this.fd).catch(() => undefined);
  }
}
