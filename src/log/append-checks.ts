import { SealbusError } from '../errors/index.js';
import { DEFAULT_RECORD_LIMITS, validateRecords, type RecordLimits } from './record-batch.js';
import { MAX_PRODUCER_EPOCH } from './producer-registry.js';
import { assertTopicName } from './topic-name.js';
import type { AppendRequest, TopicConfig } from './types.js';

const MAX_SEQUENCE = 2 ** 31 - 1;
const limitsCache = new WeakMap<TopicConfig, RecordLimits>();

function limitsOf(config: TopicConfig): RecordLimits {
  let limits = limitsCache.get(config);
  if (limits === undefined) {
    limits = { ...DEFAULT_RECORD_LIMITS, maxRecordBytes: config.maxRecordBytes };
    limitsCache.set(config, limits);
  }
  return limits;
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_BATCH_INVALID', { reason });
}

/**
 * Everything an append must pass before it touches storage, shared by every backend so that they
 * refuse exactly the same requests: batch size, each record, and the shape of the producer stamp.
 */
export function checkAppendRequest(topic: string, config: TopicConfig, request: AppendRequest): void {
  const records = request.records;
  if (records === null || typeof records !== 'object' || !Buffer.isBuffer(records.bytes)) {
    throw invalid('records must be an encoded records section');
  }
  if (records.bytes.length > config.maxBatchBytes) {
    throw new SealbusError('SEALBUS_ERR_BATCH_TOO_LARGE', { size: records.bytes.length, limit: config.maxBatchBytes });
  }
  validateRecords(records, limitsOf(config), topic);
  const stamp = request.producer;
  if (stamp === undefined) return;
  if (!Number.isSafeInteger(stamp.producerId) || stamp.producerId < 1) throw invalid('producerId must be a positive integer');
  if (!Number.isInteger(stamp.epoch) || stamp.epoch < 0 || stamp.epoch > MAX_PRODUCER_EPOCH) {
    throw invalid(`producer epoch must be an integer from 0 to ${MAX_PRODUCER_EPOCH}`);
  }
  if (!Number.isInteger(stamp.baseSequence) || stamp.baseSequence < 0 || stamp.baseSequence > MAX_SEQUENCE) {
    throw invalid(`baseSequence must be an integer from 0 to ${MAX_SEQUENCE}`);
  }
}

export function checkPartition(topic: string, partition: unknown, partitions: number): asserts partition is number {
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new SealbusError('SEALBUS_ERR_PARTITION_NOT_FOUND', { topic, partition: String(partition), partitions });
  }
}

export function checkOffsetArgument(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `${name} must be a non-negative integer` });
  }
}

/** A topic of a store by name: the name is checked first, so a bad name never reaches the map (or the disk). */
export function lookupTopic<T>(topics: ReadonlyMap<string, T>, name: string): T {
  assertTopicName(name, { allowInternal: true });
  const topic = topics.get(name);
  if (topic === undefined) throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name });
  return topic;
}

/** A partition of a store's topic, by topic name and index. */
export function lookupPartition<P>(topics: ReadonlyMap<string, { readonly partitions: readonly P[] }>, name: string, partition: number): P {
  const topic = lookupTopic(topics, name);
  checkPartition(name, partition, topic.partitions.length);
  return topic.partitions[partition]!;
}
