import { randomBytes } from 'node:crypto';
import { SealbusError } from '../../errors/index.js';

/**
 * How sealbus names its JetStream resources. Everything lives under one prefix, so that several
 * sealbus clusters (or test runs) can share a NATS account without seeing each other's data.
 * Stream and bucket names may not hold `.`, `*`, `>` or whitespace, and subjects split on `.`,
 * so the prefix is a single token of [A-Za-z0-9_-]. Topic names never appear in a stream name:
 * a topic gets a random id at creation, which also keeps a deleted topic's leftovers apart from a
 * new topic of the same name.
 */
const PREFIX = /^[A-Za-z0-9_-]{1,32}$/;
const TOPIC_ID = /^[0-9a-f]{16}$/;

export function assertStreamPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'streamPrefix is 1 to 32 characters of A-Z a-z 0-9 _ -' });
  }
}

export function newTopicId(): string {
  return randomBytes(8).toString('hex');
}

export function isTopicId(value: unknown): value is string {
  return typeof value === 'string' && TOPIC_ID.test(value);
}

/** A unique publish id; JetStream drops a second message with the same id within its duplicate window. */
export function newMessageId(): string {
  return randomBytes(16).toString('hex');
}

/** Base64url without padding: every character is allowed in a KV key token. */
export function keyToken(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

export function fromKeyToken(token: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return null;
  const value = Buffer.from(token, 'base64url').toString('utf8');
  return keyToken(value) === token ? value : null;
}

export interface StoreNames {
  readonly prefix: string;
  readonly topicsBucket: string;
  readonly offsetsBucket: string;
  readonly producersBucket: string;
  readonly producerStateBucket: string;
  partitionStream(topicId: string, partition: number): string;
  partitionSubject(topicId: string, partition: number): string;
  /** Where a broker announces a new high watermark, so that waits on other brokers wake. */
  appendedSubject(topicId: string, partition: number): string;
  readonly appendedWildcard: string;
}

export function storeNames(prefix: string): StoreNames {
  assertStreamPrefix(prefix);
  return {
    prefix,
    topicsBucket: `${prefix}_topics`,
    offsetsBucket: `${prefix}_offsets`,
    producersBucket: `${prefix}_producers`,
    producerStateBucket: `${prefix}_producer_state`,
    partitionStream: (topicId, partition) => `${prefix}_log_${topicId}_${partition}`,
    partitionSubject: (topicId, partition) => `${prefix}.log.${topicId}.${partition}`,
    appendedSubject: (topicId, partition) => `${prefix}.appended.${topicId}.${partition}`,
    appendedWildcard: `${prefix}.appended.>`,
  };
}
