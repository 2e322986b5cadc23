/**
 * The internal topic that holds the audit log: its name, its settings, and its creation by a
 * broker that may race another one on the same store.
 */
import { isSealbusError } from '../errors/index.js';
import { ensureInternalTopic } from '../log/internal-topic.js';
import type { LogStore, PartitionState, TopicConfigInput, TopicDescription } from '../log/types.js';
import { MAX_AUDIT_LINE_BYTES } from './log-entry.js';

/** The internal topic of the audit log. The `__` prefix is reserved: the Broker refuses it to clients. */
export const AUDIT_TOPIC = '__sealbus.audit';
/** One partition: the chain is one sequence. */
export const AUDIT_PARTITION = 0;
/** Room for a group of 1 MiB of events, its checkpoints and one event past the bound. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export interface AuditTopicSettings {
  readonly retentionMs: number | null;
  readonly retentionBytes: number | null;
  readonly segmentBytes: number;
}

export function auditTopicConfig(settings: AuditTopicSettings): TopicConfigInput {
  return {
    partitions: 1,
    // An event is acknowledged (and the operation it records allowed) only once it would survive a crash.
    fsync: { mode: 'always' },
    retentionMs: settings.retentionMs,
    retentionBytes: settings.retentionBytes,
    segmentBytes: settings.segmentBytes,
    maxRecordBytes: MAX_AUDIT_LINE_BYTES,
    maxBatchBytes: MAX_BATCH_BYTES,
  };
}

/** Describes the audit topic, creating it with `settings` when it does not exist. */
export function ensureAuditTopic(store: LogStore, settings: AuditTopicSettings): Promise<TopicDescription> {
  return ensureInternalTopic(store, AUDIT_TOPIC, auditTopicConfig(settings), new AbortController().signal);
}

/** The audit partition's state, or null when the topic does not exist yet. */
export async function auditPartitionState(store: LogStore): Promise<PartitionState | null> {
  try {
    return (await store.describeTopic(AUDIT_TOPIC)).partitions[AUDIT_PARTITION] ?? null;
  } catch (err) {
    if (isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND')) return null;
    throw err;
  }
}
