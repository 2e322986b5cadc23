import { crc32 } from 'node:zlib';
import { jsonLimitReason, parseJson } from '../../json/safe-json.js';
import { parseProducerSnapshot, type ProducerSnapshot } from '../producer-sequences.js';
import { errorCode, writeFileAtomic, type LogFileSystem } from './fs-seam.js';

/**
 * A clean checkpoint: per partition, a position up to which the active segment is known good and
 * durable, and the producer state at that point. Open trusts everything before it and scans only
 * what came after. It is written at close, after recovery, after a segment roll and before
 * retention deletes anything, always from fsynced positions only, so an old checkpoint stays true:
 * the log only grows, and only whole old segments are ever deleted.
 */
export interface PartitionCheckpoint {
  readonly topic: string;
  /** Guards against a topic deleted and created again under the same name. */
  readonly topicId: string;
  readonly partition: number;
  /** Base offset of the segment that `position` is in. */
  readonly segment: number;
  readonly position: number;
  readonly nextOffset: number;
  readonly producers: ProducerSnapshot;
}

const VERSION = 1;

/**
 * The file is the store's own and is read whole: its size and its lists grow with the store, so
 * only depth, strings, keys and numbers are bounded (an offset beyond 2^53 is corruption, not a
 * number to round).
 */
const CHECKPOINT_JSON = { maxTotalBytes: Infinity, maxArrayItems: Infinity } as const;

export function checkpointKey(topicId: string, partition: number): string {
  return `${topicId}/${partition}`;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseEntry(value: unknown): PartitionCheckpoint | null {
  if (typeof value !== 'object' || value === null) return null;
  const entry = value as Record<string, unknown>;
  const producers = parseProducerSnapshot(entry['producers']);
  if (
    typeof entry['topic'] !== 'string' ||
    typeof entry['topicId'] !== 'string' ||
    !isCount(entry['partition']) ||
    !isCount(entry['segment']) ||
    !isCount(entry['position']) ||
    !isCount(entry['nextOffset']) ||
    producers === null
  ) {
    return null;
  }
  return {
    topic: entry['topic'],
    topicId: entry['topicId'],
    partition: entry['partition'],
    segment: entry['segment'],
    position: entry['position'],
    nextOffset: entry['nextOffset'],
    producers,
  };
}

export type CheckpointRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'ok'; readonly partitions: ReadonlyMap<string, PartitionCheckpoint> };

export async function readCheckpoint(fileSystem: LogFileSystem, path: string): Promise<CheckpointRead> {
  let raw: Buffer;
  try {
    raw = await fileSystem.readFile(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = parseJson(raw, 'checkpoint', CHECKPOINT_JSON);
  } catch (err) {
    return { kind: 'invalid', reason: jsonLimitReason(err) ?? 'not JSON' };
  }
  const file = parsed as { version?: unknown; crc?: unknown; partitions?: unknown };
  if (file.version !== VERSION || !Array.isArray(file.partitions)) return { kind: 'invalid', reason: 'unknown layout' };
  if (file.crc !== crc32(JSON.stringify(file.partitions))) return { kind: 'invalid', reason: 'checksum mismatch' };
  const partitions = new Map<string, PartitionCheckpoint>();
  for (const value of file.partitions) {
    const entry = parseEntry(value);
    if (entry === null) return { kind: 'invalid', reason: 'malformed entry' };
    partitions.set(checkpointKey(entry.topicId, entry.partition), entry);
  }
  return { kind: 'ok', partitions };
}

export async function writeCheckpoint(
  fileSystem: LogFileSystem,
  path: string,
  directory: string,
  partitions: readonly PartitionCheckpoint[],
): Promise<void> {
  const body = JSON.stringify({ version: VERSION, crc: crc32(JSON.stringify(partitions)), partitions });
  await writeFileAtomic(fileSystem, path, directory, Buffer.from(body, 'utf8'));
}
