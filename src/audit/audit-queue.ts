/**
 * What the audit log has still to write: the events chained and queued, the checkpoints asked for
 * (by the timer, or by callers waiting for one), and the cutting of the queue into groups, each one
 * store append with its checkpoints interleaved. It knows nothing of the store: AuditLog writes the
 * groups, and tells the queue when a checkpoint is durable or when the log stops.
 */
import type { RecordInput } from '../log/record-batch.js';
import type { AuditHead } from './chain.js';
import type { AuditCheckpoint } from './checkpoint.js';
import type { AuditEvent } from './event.js';

const MAX_GROUP_EVENTS = 1000;
const MAX_GROUP_BYTES = 1024 * 1024;

export interface Pending {
  readonly event: AuditEvent;
  /** The event's hash: the head after it. */
  readonly hash: string;
  readonly value: Buffer;
  readonly resolve: (event: AuditEvent) => void;
  readonly reject: (err: unknown) => void;
}

interface CheckpointWaiter {
  /** Resolved by the first durable checkpoint covering at least this many events. */
  readonly count: number;
  readonly resolve: (checkpoint: AuditCheckpoint) => void;
  readonly reject: (err: unknown) => void;
}

export interface Group {
  readonly taken: readonly Pending[];
  readonly records: readonly RecordInput[];
  readonly head: AuditHead;
  readonly signedCount: number;
  readonly lastCheckpoint: AuditCheckpoint | null;
  readonly checkpoints: number;
}

export class AuditQueue {
  readonly #checkpointEvents: number;
  readonly #groupBytes: number;
  readonly #sign: (head: AuditHead) => AuditCheckpoint;
  readonly #events: Pending[] = [];
  /** The next group ends with a checkpoint: the timer asked, or the log was opened with an unsigned tail. */
  #checkpointDue: boolean;
  readonly #waiters: CheckpointWaiter[] = [];

  /** `sign` signs a checkpoint for a head; `checkpointDue`: the first group ends with one. */
  constructor(checkpointEvents: number, maxBatchBytes: number, sign: (head: AuditHead) => AuditCheckpoint, checkpointDue: boolean) {
    this.#checkpointEvents = checkpointEvents;
    // Half the topic's batch bound: a group stops after the event that crosses it, checkpoints included.
    this.#groupBytes = Math.min(MAX_GROUP_BYTES, Math.floor(maxBatchBytes / 2));
    this.#sign = sign;
    this.#checkpointDue = checkpointDue;
  }

  /** Events queued and not yet taken into a group. */
  get length(): number {
    return this.#events.length;
  }

  push(pending: Pending): void {
    this.#events.push(pending);
  }

  /** The next group ends with a checkpoint. */
  checkpointDue(): void {
    this.#checkpointDue = true;
  }

  /** Resolves with the first durable checkpoint covering at least `count` events (see `signed`). */
  waitForCheckpoint(count: number): Promise<AuditCheckpoint> {
    return new Promise<AuditCheckpoint>((resolve, reject) => {
      this.#waiters.push({ count, resolve, reject });
    });
  }

  /**
   * The next group, continuing from `placedHead` with `placedSigned` events signed: up to 1000
   * queued events (or about 1 MiB), a checkpoint after each event that completes `checkpointEvents`
   * unsigned ones, and one at the end when the timer or a caller of checkpoint() asks for it. Null
   * when there is nothing to write.
   */
  take(placedHead: AuditHead, placedSigned: number): Group | null {
    const taken: Pending[] = [];
    const records: RecordInput[] = [];
    let head = placedHead;
    let signedCount = placedSigned;
    let lastCheckpoint: AuditCheckpoint | null = null;
    let checkpoints = 0;
    let bytes = 0;
    const sign = (): void => {
      lastCheckpoint = this.#sign(head);
      const value = Buffer.from(JSON.stringify(lastCheckpoint), 'utf8');
      records.push({ value });
      bytes += value.length;
      signedCount = head.count;
      checkpoints += 1;
    };
    while (taken.length < this.#events.length && taken.length < MAX_GROUP_EVENTS && bytes < this.#groupBytes) {
      const pending = this.#events[taken.length]!;
      taken.push(pending);
      records.push({ value: pending.value });
      bytes += pending.value.length;
      head = { count: pending.event.sealbusseq + 1, headHash: pending.hash };
      if (head.count - signedCount >= this.#checkpointEvents) sign();
    }
    const wanted = this.#checkpointDue || this.#waiters.some((waiter) => waiter.count <= head.count);
    if (wanted && head.count > signedCount) sign();
    this.#checkpointDue = false;
    if (records.length === 0) return null;
    this.#events.splice(0, taken.length);
    return { taken, records, head, signedCount, lastCheckpoint, checkpoints };
  }

  /** A checkpoint covering `count` events is durable: it resolves the waiters it covers. */
  signed(count: number, checkpoint: AuditCheckpoint): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (waiter.count > count) continue;
      this.#waiters.splice(i, 1);
      waiter.resolve(checkpoint);
    }
  }

  /** The log stopped: `taken` (a failed group's events), everything queued and every waiter are refused. */
  rejectAll(error: unknown, taken: readonly Pending[]): void {
    this.#checkpointDue = false;
    for (const pending of [...taken, ...this.#events.splice(0)]) pending.reject(error);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
