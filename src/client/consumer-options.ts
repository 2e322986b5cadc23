import type { StartPosition } from '../protocol/index.js';
import type { RetryOptions } from './backoff.js';
import type { ConnectionOptions } from './connection-options.js';
import type { ConsumerDecryptionOptions } from './consumer-decryption.js';
import type { RebalanceListener } from './group-member.js';
import type { Transport } from './transport.js';

/** Where an assignment starts: the oldest record held, the next one produced, an offset, or a time. */
export type StartAt = 'earliest' | 'latest' | { readonly offset: number } | { readonly timestamp: number | Date };

/** A topic partition to read. */
export interface Assignment {
  readonly topic: string;
  readonly partition: number;
  /** Default 'latest'. */
  readonly start?: StartAt;
}

/** Options of `Consumer`; give `connection` (or, in tests, `transport`). */
export interface ConsumerOptions {
  readonly connection?: ConnectionOptions;
  readonly transport?: Transport;
  /** Bytes each partition may have received but not yet handed to the application (default 1 MiB). */
  readonly windowBytes?: number;
  /** Resubscription after a retriable failure (lost connection, broker restart). */
  readonly retry?: Partial<RetryOptions>;
  readonly requestTimeoutMs?: number;
  readonly random?: () => number;
  /**
   * A consumer group to join: then call `subscribe(topics)` instead of `assign()`, and the broker
   * spreads the topics' partitions over the group's members.
   */
  readonly group?: string;
  /** How the group spreads partitions (default 'sticky': moves as few as possible on a rebalance). */
  readonly strategy?: 'range' | 'sticky';
  /** Without a heartbeat for this long the broker drops the member (default 30 s). */
  readonly sessionTimeoutMs?: number;
  /** Time allowed to release revoked partitions (default: the session timeout). */
  readonly rebalanceTimeoutMs?: number;
  /** Where a partition the group never committed starts (default 'latest'). */
  readonly resetTo?: 'earliest' | 'latest';
  /**
   * Commit the offsets of processed records every `autoCommitIntervalMs` (default 5 s), on each
   * rebalance and on close; false: no timer, but `commit()`, rebalances (the partitions that move) and
   * `close()` still commit what the loop finished.
   */
  readonly autoCommit?: boolean;
  readonly autoCommitIntervalMs?: number;
  readonly onRebalance?: RebalanceListener;
  /**
   * End-to-end encryption: the client's keys to open sealed batches, and what to do with one that
   * does not verify or open. Needs `connection` (signing keys are looked up in the key directory).
   */
  readonly decryption?: ConsumerDecryptionOptions;
}

export function toStartPosition(start: StartAt | undefined): StartPosition {
  if (start === undefined || start === 'latest') return { kind: 'latest' };
  if (start === 'earliest') return { kind: 'earliest' };
  if ('offset' in start) return { kind: 'offset', offset: start.offset };
  return { kind: 'timestamp', timestamp: start.timestamp instanceof Date ? start.timestamp.getTime() : start.timestamp };
}

