/**
 * The internal topic that holds the audit log: its name, its settings, and its creation by a
 * broker that may race another one on the same store.
 */
import { SealbusError, isSealbusError } from '../errors/index.js';
import { ensureInternalTopic } from '../log/internal-topic.js';
import { topicNameProblem } from '../log/topic-name.js';
import type { LogStore, PartitionState, TopicConfigInput, TopicDescription } from '../log/types.js';
import { MAX_AUDIT_LINE_BYTES } from './log-entry.js';

/**
 * The internal topic of the audit log of a broker alone on its store (the file store). The `__`
 * prefix is reserved: the Broker refuses it, and every name below, to clients.
 */
export const AUDIT_TOPIC = '__sealbus.audit';
/** Brokers sharing a store each write their own chain, to `__sealbus.audit.<brokerId>`. */
export const AUDIT_TOPIC_PREFIX = `${AUDIT_TOPIC}.`;
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

/**
 * The chain of broker `brokerId` on a shared store. Throws SEALBUS_ERR_CONFIG_INVALID for an id
 * that makes no topic name (`a..b`, a trailing dot): the config's pattern allows those.
 */
export function auditTopicFor(brokerId: string): string {
  const topic = `${AUDIT_TOPIC_PREFIX}${brokerId}`;
  const problem = topicNameProblem(topic, { allowInternal: true });
  if (problem !== null) throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'the configuration', key: 'audit.brokerId', reason: `"${brokerId}" cannot name an audit topic (${problem})` });
  return topic;
}

/** One audit chain in a store: its topic, and the broker that writes it (null: `__sealbus.audit`, a lone broker's). */
export interface AuditChainInfo {
  readonly topic: string;
  readonly brokerId: string | null;
  readonly logStartOffset: number;
  readonly highWatermark: number;
}

/** Every audit chain the store holds, by topic name. */
export async function listAuditChains(store: LogStore): Promise<AuditChainInfo[]> {
  const chains: AuditChainInfo[] = [];
  for (const topic of await store.listTopics()) {
    if (topic.name !== AUDIT_TOPIC && !topic.name.startsWith(AUDIT_TOPIC_PREFIX)) continue;
    const state = topic.partitions[AUDIT_PARTITION];
    chains.push({
      topic: topic.name,
      brokerId: topic.name === AUDIT_TOPIC ? null : topic.name.slice(AUDIT_TOPIC_PREFIX.length),
      logStartOffset: state?.logStartOffset ?? 0,
      highWatermark: state?.highWatermark ?? 0,
    });
  }
  return chains.sort((a, b) => a.topic.localeCompare(b.topic));
}

/** Describes the audit topic, creating it with `settings` when it does not exist. */
export function ensureAuditTopic(store: LogStore, settings: AuditTopicSettings, topic: string = AUDIT_TOPIC): Promise<TopicDescription> {
  return ensureInternalTopic(store, topic, auditTopicConfig(settings), new AbortController().signal);
}

/** The audit partition's state, or null when the topic does not exist yet. */
export async function auditPartitionState(store: LogStore, topic: string = AUDIT_TOPIC): Promise<PartitionState | null> {
  try {
    return (await store.describeTopic(topic)).partitions[AUDIT_PARTITION] ?? null;
  } catch (err) {
    if (isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND')) return null;
    throw err;
  }
}
