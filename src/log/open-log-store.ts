import { FileLogStore, type FileLogStoreOptions } from './file/file-log-store.js';
import { MemoryLogStore, type MemoryLogStoreOptions } from './memory/memory-log-store.js';
import type { LogStore } from './types.js';

export type OpenLogStoreOptions = ({ readonly kind: 'file' } & FileLogStoreOptions) | ({ readonly kind: 'memory' } & MemoryLogStoreOptions);

/** Builds the configured backend; the caller still calls `open()` to recover it and get the report. */
export function openLogStore(options: OpenLogStoreOptions): LogStore {
  if (options.kind === 'file') {
    const { kind: _kind, ...rest } = options;
    return new FileLogStore(rest);
  }
  const { kind: _kind, ...rest } = options;
  return new MemoryLogStore(rest);
}
