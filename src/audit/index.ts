export { MAX_CANONICAL_DEPTH, canonicalBytes, canonicalJson, sha256Hex } from './canonical-json.js';
export { assertNoSecrets, containsJwt } from './secrets.js';
export {
  AUDIT_EVENT_TYPES,
  AUDIT_REQUIRED_DATA,
  MAX_AUDIT_DATA_DEPTH,
  MAX_AUDIT_EVENT_BYTES,
  MAX_AUDIT_STRING_LENGTH,
  buildEvent,
  hashEvent,
  isAuditEventType,
  parseAuditEventBody,
  type AuditEvent,
  type AuditEventBody,
  type AuditEventData,
  type AuditEventEnvironment,
  type AuditEventInput,
  type AuditEventType,
  type AuditValue,
} from './event.js';
export { AuditChain, GENESIS_HASH, headAfter, isAuditHead, type AuditHead } from './chain.js';
export {
  AUDIT_CHECKPOINT_TYPE,
  checkpointSignatureValid,
  checkpointStatementBytes,
  importAuditPublicKeys,
  parseCheckpoint,
  type AuditCheckpoint,
  type AuditPublicJwk,
  type CheckpointStatement,
} from './checkpoint.js';
export { AUDIT_KEY_FILE, AuditSigner, type CheckpointInput } from './signer.js';
export {
  MAX_AUDIT_LINE_BYTES,
  MalformedEntry,
  assertAuditLogVerified,
  parseAuditLines,
  verifyAuditLog,
  type AuditProblem,
  type AuditProblemKind,
  type AuditVerifyReport,
  type VerifyAuditLogOptions,
} from './verify.js';
export { AuditLog, type AuditAppendInput, type AuditLogOptions, type AuditLogStats } from './audit-log.js';
export { AUDIT_TOPIC, AUDIT_TOPIC_PREFIX, auditTopicFor, listAuditChains, type AuditChainInfo } from './audit-topic.js';
export { BROKERS_TOPIC, BROKER_LEASE_TTL_MS, BrokerLease, type BrokerLeaseOptions } from './broker-lease.js';
export {
  exportAuditLog,
  matchesAuditFilter,
  queryAuditLog,
  type AuditFilter,
  type AuditQueryOptions,
  type AuditQueryPage,
} from './audit-reader.js';
export { readAuditDataDir, type AuditDirReport } from './audit-dir.js';
