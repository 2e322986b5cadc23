import { join } from 'node:path';
import { SealbusError } from '../errors/index.js';
import { readCheckpoint } from './file/checkpoint.js';
import { checkPartitionDirectory } from './file/check-partition.js';
import { errorCode, nodeFileSystem, type LogFileSystem } from './file/fs-seam.js';
import { parseJournal } from './file/journal.js';
import { journalProblems } from './file/offset-commits.js';
import { TOPIC_FILE, dataPaths } from './file/paths.js';
import { walFilesInUse } from './file/store-wal.js';
import { readTopicFile } from './file/topic-files.js';
import { topicNameProblem } from './topic-name.js';
import type { RecoveryProblem } from './types.js';

export interface CheckResult {
  readonly topics: number;
  readonly partitions: number;
  readonly segments: number;
  readonly bytes: number;
  readonly problems: readonly RecoveryProblem[];
}

function storeProblem(kind: RecoveryProblem['kind'], segment: string, detail: string, topic = '', partition = -1): RecoveryProblem {
  return { kind, topic, partition, segment, position: 0, bytes: 0, fromOffset: null, toOffset: null, detail };
}

async function listOptional(fileSystem: LogFileSystem, path: string): Promise<string[]> {
  try {
    return await fileSystem.readdir(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

async function checkJournal(fileSystem: LogFileSystem, path: string, name: string): Promise<RecoveryProblem[]> {
  try {
    return journalProblems(name, parseJournal(await fileSystem.readFile(path)).damage);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Verifies a data directory offline without changing it: every batch's CRC and offset, every
 * index entry, journals, the checkpoint and leftovers of interrupted work. Recovery at open would
 * repair or quarantine what this reports; `sealbus log check DIR` prints it.
 */
export async function checkLogDir(dir: string, options: { fs?: LogFileSystem } = {}): Promise<CheckResult> {
  const fileSystem = options.fs ?? nodeFileSystem;
  const paths = dataPaths(dir);
  if (!(await fileSystem.exists(paths.topics))) {
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `${dir} is not a sealbus data directory (no topics/)` });
  }
  const problems: RecoveryProblem[] = [];
  const checkpoint = await readCheckpoint(fileSystem, paths.checkpoint);
  if (checkpoint.kind === 'invalid') problems.push(storeProblem('invalid-metadata', 'checkpoint.json', `unreadable: ${checkpoint.reason}`));
  for (const name of await listOptional(fileSystem, paths.trash)) {
    problems.push(storeProblem('incomplete-delete', name, 'topic deletion interrupted; the next open finishes it'));
  }
  for (const name of await walFilesInUse(fileSystem, paths.wal)) {
    problems.push(storeProblem('wal-replayed', `wal/${name}`, 'holds appends the next open writes back into their segments (not damage): a torn tail reported here may be one of them'));
  }
  problems.push(...(await checkJournal(fileSystem, paths.producers, 'producers.journal')));
  problems.push(...(await checkJournal(fileSystem, paths.offsets, 'offsets.journal')));
  let topics = 0;
  let partitions = 0;
  let segments = 0;
  let bytes = 0;
  for (const name of (await fileSystem.readdir(paths.topics)).sort()) {
    if (topicNameProblem(name, { allowInternal: true }) !== null) {
      problems.push(storeProblem('orphan-file', name, 'not a topic directory'));
      continue;
    }
    let file;
    try {
      file = await readTopicFile(fileSystem, paths, name);
    } catch (err) {
      problems.push(storeProblem('invalid-metadata', TOPIC_FILE, err instanceof Error ? err.message : String(err), name));
      continue;
    }
    if (file === null) {
      problems.push(storeProblem('orphan-file', TOPIC_FILE, 'missing: a creation that did not finish; the next open removes the topic', name));
      continue;
    }
    topics++;
    const entries = new Set(await fileSystem.readdir(paths.topic(name)));
    for (let partition = 0; partition < file.config.partitions; partition++) {
      if (!entries.has(String(partition))) {
        problems.push(storeProblem('invalid-metadata', String(partition), 'partition directory missing', name, partition));
        continue;
      }
      partitions++;
      const result = await checkPartitionDirectory(fileSystem, paths.partition(name, partition), name, partition);
      problems.push(...result.problems);
      segments += result.segments;
      bytes += result.bytes;
      entries.delete(String(partition));
    }
    entries.delete(TOPIC_FILE);
    for (const extra of entries) problems.push(storeProblem('orphan-file', join(name, extra), 'unknown entry in a topic directory', name));
  }
  return { topics, partitions, segments, bytes, problems };
}
