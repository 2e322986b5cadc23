import fs from 'node:fs';

/**
 * Every file-system call the file store makes goes through this seam, so tests can inject the
 * failures a real disk produces (ENOSPC, EIO on fsync, a crash between two calls) without one.
 * Positions are explicit on every read and write: no call depends on a file cursor.
 */
export interface LogFileSystem {
  open(path: string, flags: 'r' | 'r+' | 'wx+' | 'w'): Promise<number>;
  close(fd: number): Promise<void>;
  /** Reads up to `length` bytes; fewer only at end of file. */
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes every byte of `buffers` at `position` or rejects. */
  writev(fd: number, buffers: readonly Buffer[], position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  fileSize(fd: number): Promise<number>;
  readFile(path: string): Promise<Buffer>;
  readdir(path: string): Promise<string[]>;
  /** Creates the directory and its parents; succeeds when it exists. */
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Removes a directory tree; succeeds when it does not exist. */
  removeTree(path: string): Promise<void>;
  /** Makes creations, renames and deletions inside a directory durable. */
  syncDirectory(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

function done<T>(resolve: (value: T) => void, reject: (err: Error) => void) {
  return (err: Error | null, value: T): void => {
    if (err !== null) reject(err);
    else resolve(value);
  };
}

function writevOnce(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.writev(fd, buffers as Buffer[], position, (err, written) => (err ? reject(err) : resolve(written))));
}

/** What of `buffers` follows its first `written` bytes. */
function unwritten(buffers: readonly Buffer[], written: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = written;
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length;
    else {
      rest.push(skip === 0 ? buffer : buffer.subarray(skip));
      skip = 0;
    }
  }
  return rest;
}

/**
 * libuv reports a write that stopped part-way (the disk filled up) as a short count, not an error;
 * writing the rest surfaces the error, so the caller always sees all-or-rejected.
 */
async function writeAll(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  let written = await writevOnce(fd, buffers, position);
  while (written < total) {
    const rest = unwritten(buffers, written);
    const more = await writevOnce(fd, rest, position + written);
    if (more === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    written += more;
  }
  return written;
}

/**
 * Below this, a write goes straight to the page cache from the calling thread: a few µs, where a
 * trip through libuv's thread pool costs about 15 µs more of CPU and two thread wake-ups, on every
 * group of the append path (log and audit log alike). Larger writes, which a busy broker makes
 * and which take longer, still go through the pool and never hold up the event loop.
 */
export const SYNC_WRITE_BYTES = 64 * 1024;

/** writeAll on the calling thread; throws as writeAll rejects. */
function writeAllSync(fd: number, buffers: readonly Buffer[], position: number, total: number): number {
  let written = fs.writevSync(fd, buffers as Buffer[], position);
  while (written < total) {
    const rest = unwritten(buffers, written);
    const more = fs.writevSync(fd, rest, position + written);
    if (more === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    written += more;
  }
  return written;
}

function writeSmallNow(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  if (total > SYNC_WRITE_BYTES) return writeAll(fd, buffers, position);
  try {
    return Promise.resolve(writeAllSync(fd, buffers, position, total));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** Callback-based fd calls: the cheapest path through libuv, which matters on the append path. */
export const nodeFileSystem: LogFileSystem = {
  open: (path, flags) => new Promise((resolve, reject) => fs.open(path, flags, 0o600, done(resolve, reject))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
  read: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, done(resolve, reject))),
  writev: (fd, buffers, position) => writeSmallNow(fd, buffers, position),
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  ftruncate: (fd, length) => new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve()))),
  fileSize: (fd) => new Promise((resolve, reject) => fs.fstat(fd, (err, stats) => (err ? reject(err) : resolve(stats.size)))),
  readFile: (path) => fs.promises.readFile(path),
  readdir: (path) => fs.promises.readdir(path),
  mkdir: async (path) => {
    await fs.promises.mkdir(path, { recursive: true, mode: 0o700 });
  },
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  removeTree: (path) => fs.promises.rm(path, { recursive: true, force: true }),
  syncDirectory: async (path) => {
    const handle = await fs.promises.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  exists: async (path) => {
    try {
      await fs.promises.access(path);
      return true;
    } catch {
      return false;
    }
  },
};

/** Reads exactly `length` bytes at `position`, or fewer when the file ends first. */
export async function readAt(fileSystem: LogFileSystem, fd: number, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const got = await fileSystem.read(fd, buffer, filled, length - filled, position + filled);
    if (got === 0) break;
    filled += got;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** Writes a small file so that a reader sees the old content or the new, never a mix. */
export async function writeFileAtomic(fileSystem: LogFileSystem, path: string, directory: string, data: Buffer): Promise<void> {
  const temporary = `${path}.tmp`;
  const fd = await fileSystem.open(temporary, 'w');
  try {
    await fileSystem.writev(fd, [data], 0);
    await fileSystem.fdatasync(fd);
  } finally {
    await fileSystem.close(fd);
  }
  await fileSystem.rename(temporary, path);
  await fileSystem.syncDirectory(directory);
}

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
