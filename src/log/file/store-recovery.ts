import { join } from 'node:path';
import { topicNameProblem } from '../topic-name.js';
import type { RecoveryProblem } from '../types.js';
import { checkpointKey, readCheckpoint, type PartitionCheckpoint } from './checkpoint.js';
import type { LogFileSystem } from './fs-seam.js';
import { FilePartition } from './file-partition.js';
import { segmentFileName, TOPIC_FILE, type DataPaths } from './paths.js';
import { StoreWal } from './store-wal.js';
import { readTopicFile, type TopicFile } from './topic-files.js';

export interface OpenTopic {
  readonly file: TopicFile;
  readonly partitions: FilePartition[];
}

export interface RecoveryEnvironment {
  readonly fileSystem: LogFileSystem;
  readonly paths: DataPaths;
  readonly clock: () => number;
  readonly onRoll: () => void;
  /** Problems found after open (by reads) go here; those found during open go into the report. */
  readonly onLateProblem: (problem: RecoveryProblem) => void;
  readonly onFsync?: ((seconds: number) => void) | undefined;
  readonly wal: StoreWal | null;
}

function storeProblem(kind: RecoveryProblem['kind'], segment: string, detail: string, topic = ''): RecoveryProblem {
  return { kind, topic, partition: -1, segment, position: 0, bytes: 0, fromOffset: null, toOffset: null, detail };
}

/**
 * Finishes topic deletions a crash interrupted (a topic in trash/ was already gone for clients) and
 * removes temporary files of interrupted atomic writes in the data directory.
 */
export async function cleanLeftovers(fileSystem: LogFileSystem, paths: DataPaths, dir: string): Promise<RecoveryProblem[]> {
  await fileSystem.mkdir(paths.trash);
  const problems: RecoveryProblem[] = [];
  for (const name of await fileSystem.readdir(dir)) {
    if (!name.endsWith('.tmp')) continue;
    await fileSystem.unlink(join(dir, name));
    problems.push(storeProblem('orphan-file', name, 'removed a temporary file left by a crash'));
  }
  for (const name of await fileSystem.readdir(paths.trash)) {
    await fileSystem.removeTree(join(paths.trash, name));
    problems.push(storeProblem('incomplete-delete', name, 'finished deleting a topic whose deletion a crash interrupted'));
  }
  return problems;
}

/**
 * Opens the store's write-ahead log, writing back into their segments the frames an unclean stop
 * left (reported as one `wal-replayed` entry). A frame's topic name is checked before any path is
 * built from it, and each topic.json is read once.
 */
export async function openWal(fileSystem: LogFileSystem, paths: DataPaths, fileBytes: number | undefined): Promise<{ wal: StoreWal; problems: RecoveryProblem[] }> {
  const topics = new Map<string, Promise<TopicFile | null>>();
  const locate = async (topic: string, topicId: string, partition: number, segmentBase: number): Promise<string | null> => {
    if (topicNameProblem(topic, { allowInternal: true }) !== null) return null;
    let file = topics.get(topic);
    if (file === undefined) {
      file = readTopicFile(fileSystem, paths, topic).catch(() => null);
      topics.set(topic, file);
    }
    const found = await file;
    if (found === null || found.id !== topicId || partition >= found.config.partitions) return null;
    return join(paths.partition(topic, partition), segmentFileName(segmentBase, 'log'));
  };
  const { wal, replay } = await StoreWal.open(fileSystem, paths.wal, locate, fileBytes);
  const { frames, bytes, skipped } = replay;
  if (frames + skipped === 0) return { wal, problems: [] };
  const detail = `wrote ${frames} WAL frames (${bytes} bytes) back into their segments after an unclean stop; ${skipped} belonged to deleted segments or topics`;
  return { wal, problems: [{ kind: 'wal-replayed', topic: '', partition: -1, segment: 'wal', position: 0, bytes, fromOffset: null, toOffset: null, detail }] };
}

export async function loadCheckpoint(fileSystem: LogFileSystem, paths: DataPaths): Promise<{ entries: ReadonlyMap<string, PartitionCheckpoint>; problems: RecoveryProblem[] }> {
  const read = await readCheckpoint(fileSystem, paths.checkpoint);
  if (read.kind === 'ok') return { entries: read.partitions, problems: [] };
  const problems = read.kind === 'invalid' ? [storeProblem('invalid-metadata', 'checkpoint.json', `ignored (${read.reason}); every segment is verified instead`)] : [];
  return { entries: new Map(), problems };
}

/** Opens every partition of one topic, recovering each from its checkpoint entry. */
export async function openTopicPartitions(
  environment: RecoveryEnvironment,
  file: TopicFile,
  checkpoint: ReadonlyMap<string, PartitionCheckpoint>,
  report: (problem: RecoveryProblem) => void,
): Promise<{ topic: OpenTopic; scannedBytes: number }> {
  const partitions: FilePartition[] = [];
  let scannedBytes = 0;
  let opening = true;
  const onProblem = (problem: RecoveryProblem): void => (opening ? report(problem) : environment.onLateProblem(problem));
  try {
    for (let index = 0; index < file.config.partitions; index++) {
      const opened = await FilePartition.open({
        fileSystem: environment.fileSystem,
        directory: environment.paths.partition(file.name, index),
        topic: file.name,
        topicId: file.id,
        partition: index,
        config: file.config,
        clock: environment.clock,
        checkpoint: checkpoint.get(checkpointKey(file.id, index)) ?? null,
        onProblem,
        onRoll: environment.onRoll,
        onFsync: environment.onFsync,
        wal: environment.wal,
      });
      partitions.push(opened.partition);
      scannedBytes += opened.scannedBytes;
    }
  } catch (err) {
    await Promise.all(partitions.map((partition) => partition.close()));
    throw err;
  }
  opening = false;
  return { topic: { file, partitions }, scannedBytes };
}

/** Opens every topic under topics/; unfinished creations are removed, unknown entries reported. */
export async function openTopics(
  environment: RecoveryEnvironment,
  checkpoint: ReadonlyMap<string, PartitionCheckpoint>,
  report: (problem: RecoveryProblem) => void,
): Promise<{ topics: Map<string, OpenTopic>; scannedBytes: number }> {
  const { fileSystem, paths } = environment;
  await fileSystem.mkdir(paths.topics);
  const topics = new Map<string, OpenTopic>();
  let scannedBytes = 0;
  try {
    for (const name of (await fileSystem.readdir(paths.topics)).sort()) {
      if (topicNameProblem(name, { allowInternal: true }) !== null) {
        report(storeProblem('orphan-file', name, 'not a topic directory; left in place'));
        continue;
      }
      const file = await readTopicFile(fileSystem, paths, name);
      if (file === null) {
        await fileSystem.removeTree(paths.topic(name));
        report(storeProblem('orphan-file', name, 'removed a topic whose creation a crash interrupted', name));
        continue;
      }
      const opened = await openTopicPartitions(environment, file, checkpoint, report);
      topics.set(name, opened.topic);
      scannedBytes += opened.scannedBytes;
      const expected = new Set([TOPIC_FILE, ...opened.topic.partitions.map((partition) => String(partition.partition))]);
      for (const entry of await fileSystem.readdir(paths.topic(name))) {
        if (expected.has(entry)) continue;
        if (entry.endsWith('.tmp')) {
          await fileSystem.unlink(join(paths.topic(name), entry));
          report(storeProblem('orphan-file', entry, 'removed a temporary file left by a crash', name));
        } else {
          report(storeProblem('orphan-file', entry, 'unknown entry in a topic directory; left in place', name));
        }
      }
    }
  } catch (err) {
    for (const topic of topics.values()) await Promise.all(topic.partitions.map((partition) => partition.close()));
    throw err;
  }
  return { topics, scannedBytes };
}
