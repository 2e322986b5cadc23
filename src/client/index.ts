/** The sealbus TypeScript SDK. */
export {
  Admin,
  type AdminOptions,
  type AuditKeys,
  type AuditPage,
  type AuditPublicJwk,
  type AuditQuery,
  type AuditRecord,
  type AuditTime,
  type FollowAuditOptions,
  type CreateTopicInput,
  type GroupDescription,
  type GroupResetTarget,
  type GroupSummary,
  type PolicyExplainRequest,
  type Explanation,
  type IssuedToken,
  type RevocationEntry,
  type RevokeTokenRequest,
  type SigningKey,
  type TokenInspection,
  type TokenRequest,
  type TopicDescription,
} from './admin.js';
export { DEFAULT_RETRY, backoffDelay, type RetryOptions } from './backoff.js';
export {
  MAX_BROKER_URLS,
  connectionOptionsFromEnv,
  resolveCredential,
  webSocketUrl,
  type ConnectionOptions,
  type Credential,
  type Pem,
} from './connection-options.js';
export { Consumer, type Assignment, type ConsumerOptions, type StartAt } from './consumer.js';
export type { ConsumerDecryptionOptions, UndecryptablePolicy, VerifiedProducer } from './consumer-decryption.js';
export type { ProducerEncryptionOptions } from './producer-encryption.js';
export type { ClientKeyInfo, ClientKeyStatus, RegisteredClientKeys, TopicRecipients } from './admin-keys.js';
export type {
  CompatibilityMode,
  CompatibilityProblem,
  CompatibilityReport,
  InvalidRecordAction,
  JsonSchema,
  SchemaInfo,
  SchemaSettings,
  SchemaSubject,
  SchemaVersionInfo,
  TopicSchemaList,
} from './admin-schemas.js';
export {
  generateClientKeys,
  keyIdOf,
  publicKeysOf,
  readKeyFile,
  rotateEncryptionKey,
  writeKeyFile,
  type ClientKeys,
  type EncryptionKeyPair,
  type SigningKeyPair,
} from '../payload/keys.js';
export type { RebalanceListener, TopicPartition } from './group-member.js';
export { Producer, type ProducerOptions } from './producer.js';
export type { BytesInput, ConsumedRecord, ProducerRecord, RecordMetadata } from './records.js';
export type { ConnectionEvents, FrameConnection, Transport } from './transport.js';
export { transportFor, webSocketTransport, type WebSocketTransport, type WebSocketTransportOptions } from './websocket-transport.js';
export { SealbusError, isSealbusError, type ErrorCode } from '../errors/index.js';
