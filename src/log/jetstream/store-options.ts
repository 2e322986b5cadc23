import { SealbusError } from '../../errors/index.js';
import type { ReadOptions, TopicConfig } from '../types.js';
import type { PublishSeam } from './partition-appender.js';
import { assertStreamPrefix } from './names.js';

export interface JetStreamLogStoreOptions {
  /** Replicas of every stream and bucket: 1 for a single NATS server, 3 to survive the loss of one of three. */
  readonly replicas?: 1 | 3;
  /** Names every stream, bucket and subject of this sealbus cluster; default `sealbus`. */
  readonly streamPrefix?: string;
  readonly clock?: () => number;
  readonly defaults?: Partial<TopicConfig>;
  /** How often retention runs; 0 turns the timer off. Default 30 s. */
  readonly retentionCheckMs?: number;
  /** How long a JetStream request may take before it counts as failed. Default 5 s. */
  readonly requestTimeoutMs?: number;
  /** While a consumer waits, how often the stream is looked at in case another broker's announcement was lost. Default 1 s. */
  readonly waitPollMs?: number;
  /** Wraps every publish of a batch (tests inject lost acks and duplicate publishes through it). */
  readonly publishSeam?: PublishSeam;
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

function integer(name: string, value: number | undefined, fallback: number, min: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < min) throw invalid(`${name} must be an integer of at least ${min}`);
  return result;
}

/** The options with their defaults, checked once at construction. */
export function jetStreamDefaults(options: JetStreamLogStoreOptions) {
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3) throw invalid('replicas is 1 or 3');
  const streamPrefix = options.streamPrefix ?? 'sealbus';
  assertStreamPrefix(streamPrefix);
  return {
    replicas,
    streamPrefix,
    retentionCheckMs: integer('retentionCheckMs', options.retentionCheckMs, 30_000, 0),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, 5_000, 1),
    waitPollMs: integer('waitPollMs', options.waitPollMs, 1_000, 1),
  } as const;
}

export function checkReadOptions(options: ReadOptions): void {
  if (!Number.isSafeInteger(options?.maxBytes) || options.maxBytes < 1) throw invalid('maxBytes must be a positive integer');
  if (options.maxRecords !== undefined && (!Number.isSafeInteger(options.maxRecords) || options.maxRecords < 1)) {
    throw invalid('maxRecords must be a positive integer');
  }
}
