/**
 * The single writer of the audit log: events are chained in the order `append` is called, queued
 * (audit-queue.ts), and written in groups (one store append, so one fsync, per group), with signed
 * checkpoints interleaved. A write that fails leaves the in-memory chain ahead of the store, so the
 * log stops (fails closed: every append is refused) until it has re-read the head from the store
 * and proven with a write that the store accepts records again.
 */
import { randomUUID as nodeRandomUUID } from 'node:crypto';
import { SealbusError } from '../errors/index.js';
import { encodeRecords } from '../log/record-batch.js';
import type { LogStore, TopicConfig } from '../log/types.js';
import { type AuditLogOptions, type AuditLogStats, positiveInteger } from './audit-log-options.js';
import { AuditQueue, type Group, type Pending } from './audit-queue.js';
import { readAuditHead, type StoredAuditHead } from './audit-reader.js';
import { AUDIT_PARTITION, AUDIT_TOPIC, ensureAuditTopic } from './audit-topic.js';
import { type AuditHead, GENESIS_HASH } from './chain.js';
import { type AuditCheckpoint, checkpointSignatureValid } from './checkpoint.js';
import { canonicalBytes, sha256Hex } from './canonical-json.js';
import { type AuditEvent, type AuditEventInput, buildEventOf, chainedEvent } from './event.js';
import type { AuditSigner } from './signer.js';

export { AUDIT_TOPIC } from './audit-topic.js';
export type { AuditLogOptions, AuditLogStats } from './audit-log-options.js';

/** An event as the broker hands it in: the log fills `source`. */
export type AuditAppendInput = Omit<AuditEventInput, 'source'>;

const DEFAULT_RETRY_MS = 1000;
const CLOSED_REASON = 'the audit log is closed';

function unavailable(reason: string, cause?: unknown): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUDIT_UNAVAILABLE', { reason }, cause === undefined ? {} : { cause });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class AuditLog {
  readonly source: string;
  readonly topic: string;
  readonly #beforeWrite: AuditLogOptions['beforeWrite'];
  readonly #store: LogStore;
  readonly #signer: AuditSigner;
  readonly #clock: () => number;
  readonly #randomUUID: () => string;
  readonly #maxPending: number;
  readonly #retryMs: number;
  readonly #onAvailabilityChange: ((available: boolean, reason: string | null) => void) | undefined;
  /** The head of the chain in memory: queued events included. */
  #head: AuditHead;
  #durable: AuditHead;
  /** Events covered by the last durable checkpoint. */
  #signedCount: number;
  /**
   * The head and the signed count after the last group the store has placed (written, maybe not
   * yet durable): the next group continues from them, so groups follow each other into the store
   * without waiting for each other's fsync.
   */
  #placedHead: AuditHead;
  #placedSigned: number;
  /** Appends placed or under way and not yet settled: a recovery waits for them. */
  readonly #settling = new Set<Promise<void>>();
  readonly #queue: AuditQueue;
  #inFlight = 0;
  #writing = false;
  #available = true;
  #reason: string | null = null;
  #cause: unknown = undefined;
  #closed = false;
  #closing: Promise<void> | null = null;
  #recovering: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #written = 0;
  #failedWrites = 0;
  #checkpoints = 0;

  private constructor(options: AuditLogOptions, config: TopicConfig, stored: StoredAuditHead) {
    this.source = options.source;
    this.topic = options.topic ?? AUDIT_TOPIC;
    this.#beforeWrite = options.beforeWrite;
    this.#store = options.store;
    this.#signer = options.signer;
    this.#clock = options.clock ?? Date.now;
    this.#randomUUID = options.randomUUID ?? nodeRandomUUID;
    this.#maxPending = options.maxPendingEvents;
    this.#retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.#onAvailabilityChange = options.onAvailabilityChange;
    this.#head = stored.head;
    this.#durable = stored.head;
    // A tail left unsigned (a crash) is signed by the first group written, or by the timer.
    this.#signedCount = stored.signed ? stored.head.count : 0;
    this.#placedHead = this.#durable;
    this.#placedSigned = this.#signedCount;
    this.#queue = new AuditQueue(options.checkpointEvents, config.maxBatchBytes, (head) => this.#sign(head), !stored.signed);
  }

  /**
   * Creates the audit topic (or uses it) and resumes the chain from the last event stored. Throws
   * RangeError for a bad bound, SEALBUS_ERR_AUDIT_INVALID for a bad source, and what the store
   * throws; SEALBUS_ERR_AUDIT_UNAVAILABLE when the stored log gives no head to continue from.
   */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    for (const name of ['checkpointEvents', 'checkpointIntervalMs', 'maxPendingEvents'] as const) positiveInteger(name, options[name]);
    if (options.retryMs !== undefined) positiveInteger('retryMs', options.retryMs);
    // Refuses a source that checkpoints could not carry, before anything is written.
    options.signer.sign({ count: 0, headHash: GENESIS_HASH, source: options.source, time: new Date(0) });
    const topic = options.topic ?? AUDIT_TOPIC;
    const description = await ensureAuditTopic(options.store, options, topic);
    const stored = await readAuditHead(options.store, (checkpoint) => AuditLog.#trusted(options.signer, checkpoint), topic);
    const log = new AuditLog(options, description.config, stored);
    log.#timer = setInterval(() => log.#tick(), options.checkpointIntervalMs);
    log.#timer.unref();
    return log;
  }

  /** Only checkpoints of this signer may stand for the head: anyone can write a record that looks like one. */
  static #trusted(signer: AuditSigner, checkpoint: AuditCheckpoint): boolean {
    return checkpoint.data.keyId === signer.keyId && checkpointSignatureValid(checkpoint, signer.publicKey);
  }

  get available(): boolean {
    return this.#available;
  }

  get unavailableReason(): string | null {
    return this.#reason;
  }

  /**
   * Validates the event at once (SEALBUS_ERR_AUDIT_INVALID, nothing queued), chains and queues it,
   * and resolves with the chained event once it is durable. Rejects SEALBUS_ERR_AUDIT_UNAVAILABLE
   * when the log is stopped, closed, more than `maxPendingEvents` behind, or when its write fails.
   */
  async append(input: AuditAppendInput): Promise<AuditEvent> {
    if (this.#closed) throw unavailable(CLOSED_REASON);
    const body = buildEventOf(this.source, input, { now: () => new Date(this.#clock()), randomUUID: this.#randomUUID });
    if (!this.#available) throw unavailable(this.#reason ?? 'the audit log is stopped', this.#cause);
    if (this.#queue.length >= this.#maxPending) throw unavailable(`the audit log is behind by ${this.#queue.length} events`);
    // Linked here rather than through AuditChain.append, which would check the body a second time:
    // buildEvent has checked it and frozen it, and this is the hot path of every audited request.
    const event = chainedEvent(body, this.#head.count, this.#head.headHash);
    // The canonical bytes are stored as they are hashed: they are JSON, and one serialization is enough.
    const value = canonicalBytes(event);
    const hash = sha256Hex(value);
    this.#head = { count: event.sealbusseq + 1, headHash: hash };
    return new Promise<AuditEvent>((resolve, reject) => {
      this.#queue.push({ event, hash, value, resolve, reject });
      this.#kick();
    });
  }

  /**
   * Writes a checkpoint covering every event appended so far, if one is not yet signed; resolves
   * with it once durable (or with a later one covering more), or null when there is nothing to sign.
   */
  checkpoint(): Promise<AuditCheckpoint | null> {
    if (this.#closed) return Promise.reject(unavailable(CLOSED_REASON));
    if (!this.#available) return Promise.reject(unavailable(this.#reason ?? 'the audit log is stopped', this.#cause));
    return this.#requestCheckpoint();
  }

  stats(): AuditLogStats {
    return {
      written: this.#written,
      failedWrites: this.#failedWrites,
      checkpoints: this.#checkpoints,
      pending: this.#queue.length + this.#inFlight,
      available: this.#available,
      head: this.#durable,
    };
  }

  /**
   * Refuses new appends, writes what is queued, then a final checkpoint covering every event, and
   * stops the timers. A stopped log first tries once to resume. Rejects SEALBUS_ERR_AUDIT_UNAVAILABLE
   * when the final checkpoint cannot be written; the log is closed either way. Close it before the store.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#recovering !== null) await this.#recovering.catch(() => undefined);
    if (!this.#available) {
      try {
        await this.#recover();
      } catch (err) {
        throw unavailable(this.#reason ?? messageOf(err), err);
      }
    }
    await this.#requestCheckpoint();
  }

  #requestCheckpoint(): Promise<AuditCheckpoint | null> {
    if (this.#head.count <= this.#signedCount) return Promise.resolve(null);
    const waiting = this.#queue.waitForCheckpoint(this.#head.count);
    this.#kick();
    return waiting;
  }

  #tick(): void {
    if (!this.#available || this.#closed || this.#head.count <= this.#signedCount) return;
    this.#queue.checkpointDue();
    this.#kick();
  }

  #kick(): void {
    if (!this.#writing && this.#available) void this.#drain();
  }

  /** Writes groups one at a time until nothing is left or a write fails. */
  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#available) {
        let group: Group | null;
        try {
          group = this.#queue.take(this.#placedHead, this.#placedSigned);
        } catch (err) {
          this.#fail(err, []);
          return;
        }
        if (group === null) return;
        await this.#write(group);
      }
    } finally {
      this.#writing = false;
    }
  }

  #sign(head: AuditHead): AuditCheckpoint {
    return this.#signer.sign({ count: head.count, headHash: head.headHash, source: this.source, time: new Date(this.#clock()), id: this.#randomUUID() });
  }

  /**
   * Hands a group to the store and returns once the store has placed it (AppendRequest.onPlaced),
   * so that the next group is written while this one's fsync runs and an event queued meanwhile
   * does not wait for it; or once the append has settled, for a store that does not place early.
   * The group's events resolve when the append does. A group is placed only after the one before
   * it (the store writes a partition's appends in order), and a failure after placement (an
   * fsync's) fails every later write of the partition as well, so the stored chain never has a gap.
   */
  async #write(group: Group): Promise<void> {
    const events = group.taken.length;
    this.#inFlight += events;
    let placed = (): void => {};
    const placing = new Promise<void>((resolve) => (placed = resolve));
    let appended: Promise<unknown>;
    try {
      await this.#beforeWrite?.();
      appended = this.#store.append(this.topic, AUDIT_PARTITION, { records: encodeRecords(group.records), onPlaced: () => placed() });
    } catch (err) {
      this.#inFlight -= events;
      this.#writeFailed(err, group.taken);
      return;
    }
    const settled = appended.then(
      () => this.#durableGroup(group),
      (err: unknown) => this.#writeFailed(err, group.taken),
    );
    this.#settling.add(settled);
    void settled.finally(() => {
      this.#inFlight -= events;
      this.#settling.delete(settled);
    });
    await Promise.race([placing, settled]);
    if (!this.#available) return;
    this.#placedHead = group.head;
    this.#placedSigned = group.signedCount;
  }

  #durableGroup(group: Group): void {
    this.#written += group.taken.length;
    this.#checkpoints += group.checkpoints;
    this.#durable = group.head;
    if (group.lastCheckpoint !== null) this.#signed(group.signedCount, group.lastCheckpoint);
    for (const pending of group.taken) pending.resolve(pending.event);
  }

  /** A write failed: the first failure stops the log; a later group's, already doomed with it, is refused. */
  #writeFailed(err: unknown, taken: readonly Pending[]): void {
    this.#failedWrites += 1;
    if (this.#available) return this.#fail(err, taken);
    const error = unavailable(this.#reason ?? messageOf(err), this.#cause);
    for (const pending of taken) pending.reject(error);
  }

  #signed(count: number, checkpoint: AuditCheckpoint): void {
    this.#signedCount = count;
    this.#queue.signed(count, checkpoint);
  }

  /** A write failed: the chain in memory is ahead of the store, so stop, refuse everything queued, and retry. */
  #fail(err: unknown, taken: readonly Pending[]): void {
    const reason = messageOf(err);
    this.#available = false;
    this.#reason = reason;
    this.#cause = err;
    this.#queue.rejectAll(unavailable(reason, err), taken);
    this.#notify(false, reason);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      const attempt = this.#recover();
      this.#recovering = attempt;
      attempt.then(
        () => (this.#recovering = null),
        () => {
          this.#recovering = null;
          this.#scheduleRetry();
        },
      );
    }, this.#retryMs);
    this.#retryTimer.unref();
  }

  /**
   * Re-reads the head from the store (the failed batch may or may not have landed) and writes a
   * checkpoint for it: the log is available again only once the store has accepted a write.
   */
  async #recover(): Promise<void> {
    // Groups placed before the failure settle first (an fsync error fails them all): the head read next is final.
    await Promise.allSettled([...this.#settling]);
    const stored = await readAuditHead(this.#store, (checkpoint) => AuditLog.#trusted(this.#signer, checkpoint), this.topic);
    const checkpoint = this.#sign(stored.head);
    try {
      await this.#beforeWrite?.();
      await this.#store.append(this.topic, AUDIT_PARTITION, { records: encodeRecords([{ value: Buffer.from(JSON.stringify(checkpoint), 'utf8') }]) });
    } catch (err) {
      this.#failedWrites += 1;
      this.#reason = messageOf(err);
      this.#cause = err;
      throw err;
    }
    this.#checkpoints += 1;
    this.#head = stored.head;
    this.#durable = stored.head;
    this.#signedCount = stored.head.count;
    this.#placedHead = stored.head;
    this.#placedSigned = stored.head.count;
    this.#available = true;
    this.#reason = null;
    this.#cause = undefined;
    this.#notify(true, null);
    this.#kick();
  }

  #notify(available: boolean, reason: string | null): void {
    try {
      this.#onAvailabilityChange?.(available, reason);
    } catch {
      // A failing listener must not stop the log from stopping or resuming.
    }
  }
}
