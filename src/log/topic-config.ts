import { SealbusError } from '../errors/index.js';
import type { FsyncPolicy, TopicConfig } from './types.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/**
 * Topic defaults. 128 MiB segments keep retention reasonably fine-grained while a partition stays
 * at a few files; 1 MiB records and 16 MiB batches bound what one produce request can pin in memory.
 */
export const TOPIC_DEFAULTS: Omit<TopicConfig, 'partitions'> = Object.freeze({
  retentionMs: null,
  retentionBytes: null,
  maxRecordBytes: MIB,
  maxBatchBytes: 16 * MIB,
  segmentBytes: 128 * MIB,
  fsync: Object.freeze({ mode: 'always' }),
  attributes: Object.freeze({}),
});

export const TOPIC_LIMITS = Object.freeze({
  maxPartitions: 10_000,
  /** Index positions are u32; a batch starts below segmentBytes, so this keeps them in range. */
  maxSegmentBytes: GIB,
  minSegmentBytes: KIB,
  maxBatchBytes: 256 * MIB,
  maxFsyncIntervalMs: 60_000,
  maxAttributes: 64,
  maxAttributeBytes: 4 * KIB,
});

const KNOWN_KEYS = new Set<string>([
  'partitions',
  'retentionMs',
  'retentionBytes',
  'maxRecordBytes',
  'maxBatchBytes',
  'segmentBytes',
  'fsync',
  'attributes',
]);

function invalid(key: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_TOPIC_CONFIG_INVALID', { key, reason }, { details: { key, reason } });
}

function integerIn(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(key, 'must be an integer');
  if (value < min || value > max) throw invalid(key, `must be between ${min} and ${max}`);
  return value;
}

function nullableInteger(key: string, value: unknown, min: number): number | null {
  if (value === null) return null;
  return integerIn(key, value, min, Number.MAX_SAFE_INTEGER);
}

function fsyncPolicy(value: unknown): FsyncPolicy {
  if (typeof value !== 'object' || value === null) throw invalid('fsync', 'must be {mode: "always"} or {mode: "interval", intervalMs}');
  const policy = value as Record<string, unknown>;
  for (const key of Object.keys(policy)) {
    if (key !== 'mode' && key !== 'intervalMs') throw invalid(`fsync.${key}`, 'is not a known setting');
  }
  if (policy['mode'] === 'always') {
    if (policy['intervalMs'] !== undefined) throw invalid('fsync.intervalMs', 'applies only to mode "interval"');
    return Object.freeze({ mode: 'always' });
  }
  if (policy['mode'] === 'interval') {
    const intervalMs = integerIn('fsync.intervalMs', policy['intervalMs'], 1, TOPIC_LIMITS.maxFsyncIntervalMs);
    return Object.freeze({ mode: 'interval', intervalMs });
  }
  throw invalid('fsync.mode', 'must be "always" or "interval"');
}

function attributes(value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('attributes', 'must be an object of strings');
  const entries = Object.entries(value);
  if (entries.length > TOPIC_LIMITS.maxAttributes) throw invalid('attributes', `holds at most ${TOPIC_LIMITS.maxAttributes} entries`);
  for (const [key, entry] of entries) {
    if (typeof entry !== 'string') throw invalid(`attributes.${key}`, 'must be a string');
    if (Buffer.byteLength(key) + Buffer.byteLength(entry) > TOPIC_LIMITS.maxAttributeBytes) {
      throw invalid(`attributes.${key}`, `must be at most ${TOPIC_LIMITS.maxAttributeBytes} bytes with its name`);
    }
  }
  // fromEntries defines own properties: an attribute named __proto__ stays an attribute.
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

/**
 * Merges a requested topic configuration over the store defaults and the built-in ones, validates
 * every key (unknown keys included, so a typo is not silently ignored) and freezes the result.
 */
export function resolveTopicConfig(input: unknown, defaults: Partial<TopicConfig> = {}): TopicConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('partitions', 'a topic configuration object is required');
  for (const key of Object.keys(defaults)) {
    if (!KNOWN_KEYS.has(key)) throw invalid(key, 'is not a known setting (in the store defaults)');
  }
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) throw invalid(key, 'is not a known setting');
  }
  const given = input as Partial<Record<keyof TopicConfig, unknown>>;
  const pick = <K extends keyof TopicConfig>(key: K): unknown => {
    if (given[key] !== undefined) return given[key];
    if (defaults[key] !== undefined) return defaults[key];
    return key === 'partitions' ? undefined : TOPIC_DEFAULTS[key as Exclude<K, 'partitions'>];
  };
  const maxBatchBytes = integerIn('maxBatchBytes', pick('maxBatchBytes'), KIB, TOPIC_LIMITS.maxBatchBytes);
  const maxRecordBytes = integerIn('maxRecordBytes', pick('maxRecordBytes'), 16, TOPIC_LIMITS.maxBatchBytes);
  if (maxRecordBytes + 4 > maxBatchBytes) {
    throw invalid('maxRecordBytes', `must leave room for its length field within maxBatchBytes (${maxBatchBytes})`);
  }
  return Object.freeze({
    partitions: integerIn('partitions', pick('partitions'), 1, TOPIC_LIMITS.maxPartitions),
    retentionMs: nullableInteger('retentionMs', pick('retentionMs'), 1),
    retentionBytes: nullableInteger('retentionBytes', pick('retentionBytes'), 1),
    maxRecordBytes,
    maxBatchBytes,
    segmentBytes: integerIn('segmentBytes', pick('segmentBytes'), TOPIC_LIMITS.minSegmentBytes, TOPIC_LIMITS.maxSegmentBytes),
    fsync: fsyncPolicy(pick('fsync')),
    attributes: attributes(pick('attributes')),
  });
}

/** Validates store-wide defaults once, at construction, so a bad default fails early. */
export function validateTopicDefaults(defaults: Partial<TopicConfig>): Partial<TopicConfig> {
  resolveTopicConfig({ partitions: 1 }, defaults);
  return Object.freeze({ ...defaults });
}
