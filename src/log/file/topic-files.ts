import { randomUUID } from 'node:crypto';
import { SealbusError } from '../../errors/index.js';
import { jsonLimitReason, parseJson } from '../../json/safe-json.js';
import { topicNameProblem } from '../topic-name.js';
import { resolveTopicConfig } from '../topic-config.js';
import type { TopicConfig } from '../types.js';
import { errorCode, writeFileAtomic, type LogFileSystem } from './fs-seam.js';
import type { DataPaths } from './paths.js';

export interface TopicFile {
  readonly name: string;
  /** Distinguishes this topic from an earlier one of the same name (checkpoints, offsets). */
  readonly id: string;
  readonly createdAt: number;
  readonly config: TopicConfig;
}

function unreadable(topic: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_STORAGE_IO', { topic, partition: '*', reason: `topic.json ${reason}` });
}

/** Reads topic.json; null when it does not exist (a creation that did not finish). */
export async function readTopicFile(fileSystem: LogFileSystem, paths: DataPaths, directoryName: string): Promise<TopicFile | null> {
  let raw: Buffer;
  try {
    raw = await fileSystem.readFile(paths.topicFile(directoryName));
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseJson(raw, 'topic.json') as Record<string, unknown>;
  } catch (err) {
    throw unreadable(directoryName, jsonLimitReason(err) ?? 'is not JSON');
  }
  if (parsed['name'] !== directoryName || topicNameProblem(parsed['name'], { allowInternal: true }) !== null) {
    throw unreadable(directoryName, 'names another topic');
  }
  if (typeof parsed['id'] !== 'string' || typeof parsed['createdAt'] !== 'number') throw unreadable(directoryName, 'lacks id or createdAt');
  try {
    const config = resolveTopicConfig(parsed['config']);
    return { name: directoryName, id: parsed['id'], createdAt: parsed['createdAt'], config };
  } catch (err) {
    throw unreadable(directoryName, `holds an invalid config: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Creates a topic on disk: partition directories first, topic.json last. topic.json is the commit
 * point: a directory without one is an unfinished creation that the next open removes.
 */
export async function createTopicFiles(
  fileSystem: LogFileSystem,
  paths: DataPaths,
  name: string,
  config: TopicConfig,
  createdAt: number,
): Promise<TopicFile> {
  const file: TopicFile = { name, id: randomUUID(), createdAt, config };
  await fileSystem.mkdir(paths.topic(name));
  for (let partition = 0; partition < config.partitions; partition++) await fileSystem.mkdir(paths.partition(name, partition));
  await fileSystem.syncDirectory(paths.topic(name));
  await writeFileAtomic(fileSystem, paths.topicFile(name), paths.topic(name), Buffer.from(JSON.stringify(file, null, 2)));
  await fileSystem.syncDirectory(paths.topics);
  return file;
}

/** Moves a topic out of the way (the commit point of deletion), then removes its files. */
export async function deleteTopicFiles(fileSystem: LogFileSystem, paths: DataPaths, topic: TopicFile): Promise<void> {
  const tombstone = `${paths.trash}/${topic.name}.${topic.id}`;
  await fileSystem.rename(paths.topic(topic.name), tombstone);
  await fileSystem.syncDirectory(paths.topics);
  await fileSystem.removeTree(tombstone);
}
