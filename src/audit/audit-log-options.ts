import type { LogStore } from '../log/types.js';
import type { AuditTopicSettings } from './audit-topic.js';
import type { AuditHead } from './chain.js';
import type { AuditSigner } from './signer.js';

/** What AuditLog.open takes and what AuditLog.stats gives, and the check of the numeric options. */

/** `retentionMs`, `retentionBytes`, `segmentBytes`: topic settings, used when this instance creates the topic. */
export interface AuditLogOptions extends AuditTopicSettings {
  readonly store: LogStore;
  readonly signer: AuditSigner;
  /** The broker, `sealbus://<broker-id>`: the source of its events and checkpoints. */
  readonly source: string;
  /** The chain's topic: `__sealbus.audit` (default), or `__sealbus.audit.<brokerId>` on a shared store. */
  readonly topic?: string;
  /** Awaited before every store write; a throw fails the write (one writer per chain: BrokerLease.assertHeld). */
  readonly beforeWrite?: () => Promise<void> | undefined;
  /** ms since the epoch: the time of events and checkpoints. Default Date.now. */
  readonly clock?: () => number;
  readonly randomUUID?: () => string;
  /** A signed checkpoint at least every N events. */
  readonly checkpointEvents: number;
  /** And one at least this often while events are unsigned (an unref'd timer). */
  readonly checkpointIntervalMs: number;
  /** Events queued and not yet being written; beyond it, append refuses. */
  readonly maxPendingEvents: number;
  /** After a failed write, how soon to try to resume. Default 1000. */
  readonly retryMs?: number;
  /** Called when the log stops (false, the reason) and when it resumes (true, null). */
  readonly onAvailabilityChange?: (available: boolean, reason: string | null) => void;
}

/** Events and checkpoints written (durable), store appends that failed, events not yet durable, the durable head. */
export interface AuditLogStats {
  readonly written: number;
  readonly failedWrites: number;
  readonly checkpoints: number;
  readonly pending: number;
  readonly available: boolean;
  readonly head: AuditHead;
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
