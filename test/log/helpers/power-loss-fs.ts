import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { nodeFileSystem, type LogFileSystem } from '../../../src/log/file/fs-seam.js';

/**
 * The real file system, plus a model of what a power loss keeps: for every file written through
 * it, the content it had at its last fdatasync. `copyAfterPowerLoss` makes a copy of a directory
 * as the disk would hold it if the machine lost power now (writes since a file's last fdatasync
 * gone). Directory entries are taken as durable at once: the store syncs its directories, and
 * that part is not modelled.
 */
export class PowerLossFileSystem {
  readonly fs: LogFileSystem;
  /** Content of each file at its last fdatasync (or when first opened for writing). */
  private readonly durable = new Map<string, Buffer>();
  /** Files written or truncated since their last fdatasync. */
  private readonly dirty = new Set<string>();
  private readonly paths = new Map<number, string>();
  readonly syncs: string[] = [];

  constructor(base: LogFileSystem = nodeFileSystem) {
    const pathOf = (fd: number): string => {
      const path = this.paths.get(fd);
      if (path === undefined) throw new Error(`unknown fd ${fd}`);
      return path;
    };
    this.fs = Object.assign({}, base, {
      open: async (path: string, flags: 'r' | 'r+' | 'wx+' | 'w') => {
        if (flags !== 'r' && !this.durable.has(path)) {
          this.durable.set(path, flags === 'r+' ? await readFile(path) : Buffer.alloc(0));
        }
        const fd = await base.open(path, flags);
        this.paths.set(fd, path);
        return fd;
      },
      close: async (fd: number) => {
        await base.close(fd);
        this.paths.delete(fd);
      },
      writev: async (fd: number, buffers: readonly Buffer[], position: number) => {
        this.dirty.add(pathOf(fd));
        return base.writev(fd, buffers, position);
      },
      ftruncate: async (fd: number, length: number) => {
        this.dirty.add(pathOf(fd));
        return base.ftruncate(fd, length);
      },
      fdatasync: async (fd: number) => {
        const path = pathOf(fd);
        await base.fdatasync(fd);
        this.syncs.push(path);
        this.durable.set(path, await readFile(path));
        this.dirty.delete(path);
      },
      rename: async (from: string, to: string) => {
        await base.rename(from, to);
        this.move(from, to);
      },
      unlink: async (path: string) => {
        await base.unlink(path);
        this.forget((known) => known === path);
      },
      removeTree: async (path: string) => {
        await base.removeTree(path);
        this.forget((known) => known === path || known.startsWith(`${path}/`));
      },
    });
  }

  /** fdatasync calls so far of files whose path ends with `suffix`. */
  syncCount(suffix: string): number {
    return this.syncs.filter((path) => path.endsWith(suffix)).length;
  }

  /** Files (by suffix) holding writes that a power loss now would lose. */
  dirtyFiles(suffix: string): string[] {
    return [...this.dirty].filter((path) => path.endsWith(suffix));
  }

  /** Copies `dir` into `into` as a power loss now would leave it (the lock file left out). */
  async copyAfterPowerLoss(dir: string, into: string): Promise<void> {
    // A power loss takes the folder at one instant; cp walks it, and the store may meanwhile
    // rename a file it was writing in the background (checkpoint.json.tmp): then copy it again.
    for (let attempt = 1; ; attempt++) {
      try {
        await cp(dir, into, { recursive: true });
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT' || attempt === 5) throw err;
        await rm(into, { recursive: true, force: true });
      }
    }
    await rm(join(into, 'LOCK'), { force: true });
    for (const path of this.dirty) {
      const rel = relative(dir, path);
      if (rel.startsWith('..')) continue;
      await writeFile(join(into, rel), this.durable.get(path) ?? Buffer.alloc(0));
    }
  }

  /** A file or a directory renamed: what is known of the files under it follows. */
  private move(from: string, to: string): void {
    const moved = (path: string): string | null => (path === from ? to : path.startsWith(`${from}/`) ? to + path.slice(from.length) : null);
    for (const [fd, path] of this.paths) {
      const next = moved(path);
      if (next !== null) this.paths.set(fd, next);
    }
    for (const [path, content] of [...this.durable]) {
      const next = moved(path);
      if (next === null) continue;
      this.durable.delete(path);
      this.durable.set(next, content);
    }
    for (const path of [...this.dirty]) {
      const next = moved(path);
      if (next === null) continue;
      this.dirty.delete(path);
      this.dirty.add(next);
    }
  }

  private forget(matches: (path: string) => boolean): void {
    for (const path of [...this.durable.keys()]) if (matches(path)) this.durable.delete(path);
    for (const path of [...this.dirty]) if (matches(path)) this.dirty.delete(path);
  }
}
