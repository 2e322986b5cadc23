/**
 * The log: the storage contract, the record batch format, and the backends behind it.
 * See docs/log-format.md for the on-disk format, durability and recovery.
 */
export type * from './types.js';
export {
  BATCH_HEADER_BYTES,
  BATCH_MAGIC,
  BATCH_PREFIX_BYTES,
  DEFAULT_RECORD_LIMITS,
  computeBatchCrc,
  decodeBatchHeader,
  decodeRecords,
  encodeBatch,
  encodeBatchHeader,
  encodeRecords,
  recordsOf,
  validateRecords,
  verifyBatch,
  type BatchHeader,
  type BatchStamp,
  type LogRecord,
  type RecordHeader,
  type RecordInput,
  type RecordLimits,
} from './record-batch.js';
export { TOPIC_NAME_MAX_LENGTH, assertTopicName, topicNameProblem } from './topic-name.js';
export { TOPIC_DEFAULTS, TOPIC_LIMITS, resolveTopicConfig } from './topic-config.js';
export { FileLogStore, type FileLogStoreOptions } from './file/file-log-store.js';
export { nodeFileSystem, type LogFileSystem } from './file/fs-seam.js';
export { MemoryLogStore, type MemoryLogStoreOptions } from './memory/memory-log-store.js';
export { JetStreamLogStore } from './jetstream/jetstream-log-store.js';
export type { JetStreamLogStoreOptions } from './jetstream/store-options.js';
export type { NatsConnectOptions } from './jetstream/connection.js';
export { openLogStore, type OpenLogStoreOptions } from './open-log-store.js';
export { checkLogDir, type CheckResult } from './check.js';
