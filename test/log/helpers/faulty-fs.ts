import { basename } from 'node:path';
import { nodeFileSystem, type LogFileSystem } from '../../../src/log/file/fs-seam.js';

export type FsOperation = keyof LogFileSystem;

export function fsError(code: string): Error {
  return Object.assign(new Error(`${code} (injected)`), { code });
}

/**
 * Wraps the real file system; `before(op, args)` runs before every call and may throw to inject a
 * failure, or return a replacement result. fd paths are tracked so faults can target one file.
 */
export class FaultyFileSystem {
  readonly paths = new Map<number, string>();
  readonly calls: { op: FsOperation; file: string }[] = [];
  before: (op: FsOperation, file: string, args: unknown[]) => Promise<unknown> | unknown = () => undefined;
  readonly fs: LogFileSystem;

  constructor(private readonly base: LogFileSystem = nodeFileSystem) {
    const wrapped: Record<string, unknown> = {};
    for (const op of Object.keys(base) as FsOperation[]) {
      wrapped[op] = async (...args: unknown[]) => {
        const file = this.fileOf(args);
        this.calls.push({ op, file });
        const replaced = await this.before(op, file, args);
        if (replaced !== undefined) return replaced;
        const result = await (base[op] as (...a: unknown[]) => Promise<unknown>)(...args);
        if (op === 'open') this.paths.set(result as number, String(args[0]));
        return result;
      };
    }
    this.fs = wrapped as unknown as LogFileSystem;
  }

  private fileOf(args: unknown[]): string {
    if (typeof args[0] === 'number') return basename(this.paths.get(args[0]) ?? '?');
    return typeof args[0] === 'string' ? basename(args[0]) : '?';
  }

  /** The real call, for hooks that do part of the work themselves (a partial write). */
  get real(): LogFileSystem {
    return this.base;
  }

  count(op: FsOperation, suffix = ''): number {
    return this.calls.filter((call) => call.op === op && call.file.endsWith(suffix)).length;
  }
}
