/** What a Broker is built from (its store, authorizer, limits and guards), and the settings of a new topic. */
import type { LogStore, TopicConfigInput } from '../log/index.js';
import type { Authorizer } from './access.js';
import type { AuditTrail } from './audit-trail.js';
import type { EnvelopeGuard } from './envelope-guard.js';
import type { CoordinatorOptions } from './groups/index.js';
import type { SchemaGuard } from './schema-guard.js';
import type { EncryptionMode } from './topic-encryption.js';

export interface BrokerLimits {
  readonly maxRecordsPerBatch: number;
  /** Largest records section of one batch. */
  readonly maxBatchBytes: number;
  readonly fetchMaxBytes: number;
  readonly longPollMaxMs: number;
}

export interface BrokerOptions {
  readonly store: LogStore;
  readonly authorizer: Authorizer;
  readonly limits: BrokerLimits;
  /** Settings applied to new topics where the request is silent. */
  readonly topicDefaults?: Partial<TopicConfigInput>;
  /** Consumer-group coordinator settings (clock, timers, limits); the store is the broker's. */
  readonly groups?: Omit<CoordinatorOptions, 'store'>;
  /** Where decisions, data access and administrative changes are recorded; default: nowhere. */
  readonly audit?: AuditTrail;
  /** Checks end-to-end envelopes; without it, topics that require encryption refuse every produce. */
  readonly envelopes?: EnvelopeGuard;
  /** Checks records against their topic's schema; without it, no topic has one. */
  readonly schemas?: SchemaGuard;
}

/** The settings of a new topic; what is left out takes the broker's defaults. */
export interface CreateTopicInput {
  readonly name: string;
  /** Default: the broker's `topicDefaults.partitions`. */
  readonly partitions?: number;
  /** null: keep forever. */
  readonly retentionMs?: number | null;
  readonly retentionBytes?: number | null;
  readonly maxRecordBytes?: number;
  readonly segmentBytes?: number;
  /** `required`: only end-to-end envelopes are accepted (docs/envelope.md). Default `none`. */
  readonly encryption?: EncryptionMode;
  /** With `encryption: required`: the principals batches must be sealed for; default, whoever the policy allows to consume. */
  readonly recipients?: readonly string[];
}
