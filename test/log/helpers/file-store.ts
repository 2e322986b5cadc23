import { FileLogStore, type FileLogStoreOptions } from '../../../src/log/file/file-log-store.js';
import type { RecoveryProblem, RecoveryReport } from '../../../src/log/types.js';

export interface OpenedStore {
  readonly store: FileLogStore;
  readonly report: RecoveryReport;
  /** Problems reported after open (found by reads). */
  readonly late: RecoveryProblem[];
}

export async function openFileStore(dir: string, options: Partial<FileLogStoreOptions> = {}): Promise<OpenedStore> {
  const late: RecoveryProblem[] = [];
  const store = new FileLogStore({ dir, retentionCheckMs: 0, onProblem: (problem) => late.push(problem), ...options });
  const report = await store.open();
  return { store, report, late };
}
