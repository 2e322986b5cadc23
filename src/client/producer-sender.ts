import { SealbusError } from '../errors/index.js';
import type { ProducerStamp } from '../log/types.js';
import { asSealbusError, retryDelay, type RetryOptions } from './backoff.js';
import { PartitionPipeline } from './partition-pipeline.js';
import type { ProducerBatch } from './producer-batch.js';
import type { Session } from './session.js';
import type { SessionSource } from './session-source.js';

export interface SenderOptions {
  readonly idempotent: boolean;
  /** INIT_PRODUCER name: '' for an anonymous producer. */
  readonly name: string;
  readonly maxInFlight: number;
  readonly maxInFlightPerPartition: number;
  readonly retry: RetryOptions;
  readonly deliveryTimeoutMs: number;
  readonly random: () => number;
  readonly clock: () => number;
  /**
   * Encodes (and, for an encrypted topic, seals) a batch that is not encoded yet: null when done,
   * else a promise settled when done (see ProducerBatch.seal). Throws to reject the batch.
   */
  readonly seal: (batch: ProducerBatch) => Promise<void> | null;
  /**
   * The broker refused a batch as sealed for stale recipients, or stamped with a stale schema id:
   * resolves once they are fetched again.
   */
  readonly stale: (topic: string, code: StaleCode) => Promise<void>;
}

/**
 * Whether a failed attempt may still have stored the batch: no answer came (the connection or the
 * request timed out), or the broker failed after the write began (5xx). Refusals (4xx) are
 * decided before anything is written, and so are the few 5xx whose message says nothing was.
 */
function mayHaveStored(error: SealbusError): boolean {
  return error.status >= 500 && !NOTHING_WRITTEN.has(error.code);
}

const NOTHING_WRITTEN: ReadonlySet<string> = new Set(['SEALBUS_ERR_STORAGE_FULL', 'SEALBUS_ERR_STORE_CONFLICT', 'SEALBUS_ERR_PROTOCOL_TOO_MANY_CONNECTIONS']);

export type StaleCode = 'SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE' | 'SEALBUS_ERR_SCHEMA_STALE';

/**
 * Sends closed batches over the shared session: several in flight, per-partition order kept
 * through retries (see PartitionPipeline), backoff only after retriable errors, a new session
 * when the last one closed. With `idempotent`, every batch carries the producer stamp, so a retry
 * of a batch the broker already stored is acknowledged, not stored twice.
 */
export class ProducerSender {
  readonly #pipelines = new Map<string, PartitionPipeline>();
  readonly #sessions: SessionSource;
  readonly #options: SenderOptions;
  #inFlight = 0;
  #producer: { producerId: number; epoch: number } | null = null;
  #pumping = false;
  #pumpAgain = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #retryTimerAt = Number.POSITIVE_INFINITY;
  #connectAttempts = 0;
  /** The broker refused a batch over the principal's quota: nothing is sent before this time. */
  #throttledUntil = 0;
  #fatal: SealbusError | null = null;

  constructor(sessions: SessionSource, options: SenderOptions) {
    this.#sessions = sessions;
    this.#options = options;
  }

  /** Set once the producer can no longer send (fenced by a newer instance): every send fails with it. */
  get fatalError(): SealbusError | null {
    return this.#fatal;
  }

  enqueue(batch: ProducerBatch): void {
    if (this.#fatal !== null) {
      batch.reject(this.#fatal);
      return;
    }
    // Sealing starts now, so that batches are sealed (in worker threads) while earlier ones are sent.
    if (!this.#startSealing(batch)) return;
    const key = `${batch.partition}:${batch.topic}`;
    let pipeline = this.#pipelines.get(key);
    if (pipeline === undefined) this.#pipelines.set(key, (pipeline = new PartitionPipeline()));
    pipeline.enqueue(batch);
    this.#pump();
  }

  stop(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#pumpAgain = false;
          await this.#sendReady();
        } while (this.#pumpAgain);
      } finally {
        this.#pumping = false;
      }
    })();
  }

  async #sendReady(): Promise<void> {
    const pipelines = [...this.#pipelines.values()].filter((pipeline) => pipeline.queue.length > 0);
    if (pipelines.length === 0 || this.#inFlight >= this.#options.maxInFlight) return;
    // The quota is the principal's, not the partition's: every partition waits out a refusal.
    if (this.#options.clock() < this.#throttledUntil) {
      this.#scheduleRetry(this.#throttledUntil);
      return;
    }
    let session: Session;
    try {
      session = await this.#sessions.get();
      await this.#ensureProducerId(session);
      this.#connectAttempts = 0;
    } catch (err) {
      this.#connectionFailed(asSealbusError(err));
      return;
    }
    const now = this.#options.clock();
    const numbering = !this.#newEpochPending();
    let nextRetry = Number.POSITIVE_INFINITY;
    for (const pipeline of pipelines) {
      while (this.#inFlight < this.#options.maxInFlight && this.#headSealed(pipeline)) {
        const batch = pipeline.takeNext(now, this.#options.maxInFlightPerPartition, numbering);
        if (batch === null) break;
        this.#send(session, pipeline, batch);
      }
      if (pipeline.queue.length > 0 && pipeline.retryAt > now) nextRetry = Math.min(nextRetry, pipeline.retryAt);
    }
    if (Number.isFinite(nextRetry)) this.#scheduleRetry(nextRetry);
  }

  /**
   * Gets the producer id, or a new epoch when a partition needs one (spoiled by a batch given up
   * though it may be stored, or at the end of the sequence space). A new epoch restarts every
   * partition at 0, so it waits until every batch numbered in this one has answered for good;
   * meanwhile only those are sent (see PartitionPipeline).
   */
  async #ensureProducerId(session: Session): Promise<void> {
    if (!this.#options.idempotent) return;
    if (this.#producer !== null && !this.#newEpochPending()) return;
    if (this.#producer !== null && [...this.#pipelines.values()].some((pipeline) => pipeline.unresolved)) return;
    const reply = await session.request({ type: 'INIT_PRODUCER', name: this.#options.name });
    this.#producer = { producerId: reply.producerId, epoch: reply.epoch };
    for (const pipeline of this.#pipelines.values()) pipeline.resetSequences();
  }

  #newEpochPending(): boolean {
    return this.#options.idempotent && [...this.#pipelines.values()].some((pipeline) => pipeline.needsNewEpoch);
  }

  /** Starts encoding a batch; false when that failed at once (the batch is then rejected). */
  #startSealing(batch: ProducerBatch): boolean {
    let sealing: Promise<void> | null;
    try {
      sealing = this.#options.seal(batch);
    } catch (err) {
      batch.reject(asSealbusError(err));
      return false;
    }
    if (sealing !== null) void sealing.then(() => this.#pump());
    return true;
  }

  /**
   * Whether the partition's next batch is encoded and can go. One still being sealed keeps the
   * partition waiting; one whose sealing failed is rejected now, in its turn; one to seal anew
   * (new recipients) starts sealing.
   */
  #headSealed(pipeline: PartitionPipeline): boolean {
    for (;;) {
      const head = pipeline.queue[0];
      if (head === undefined) return false;
      if (head.sealFailure !== null) {
        pipeline.queue.shift();
        pipeline.dropped(head);
        head.reject(head.sealFailure);
        continue;
      }
      if (head.encoded === null && head.sealing === null && !this.#startSealing(head)) {
        pipeline.queue.shift();
        pipeline.dropped(head);
        continue;
      }
      return head.encoded !== null;
    }
  }

  #send(session: Session, pipeline: PartitionPipeline, batch: ProducerBatch): void {
    this.#inFlight++;
    const stamp: ProducerStamp | null =
      this.#producer === null || batch.sequence === null ? null : { producerId: this.#producer.producerId, epoch: this.#producer.epoch, baseSequence: batch.sequence };
    session
      .request({ type: 'PRODUCE', topic: batch.topic, partition: batch.partition, producer: stamp, records: batch.encoded! })
      .then(
        (ack) => {
          pipeline.acked(batch);
          batch.resolve(ack.baseOffset, ack.timestamp);
        },
        (err: unknown) => this.#batchFailed(pipeline, batch, asSealbusError(err)),
      )
      .finally(() => {
        this.#inFlight--;
        this.#pump();
      });
  }

  #batchFailed(pipeline: PartitionPipeline, batch: ProducerBatch, error: SealbusError): void {
    if (mayHaveStored(error)) batch.maybeStored = true;
    if (error.code === 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP' && this.#fatal === null) {
      // Out of sequence means not stored. In a spoiled partition, a batch numbered before the
      // spoiling one is numbered again in the new epoch; behind a failed batch, it is sent again.
      if (pipeline.spoiled) {
        pipeline.notStored(batch);
        return;
      }
      if (pipeline.recovering) {
        pipeline.retry(batch);
        return;
      }
    }
    if (error.code === 'SEALBUS_ERR_PRODUCER_FENCED') this.#failAll(error);
    if (error.code === 'SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE' || error.code === 'SEALBUS_ERR_SCHEMA_STALE') this.#reseal(pipeline, batch, error.code);
    const now = this.#options.clock();
    // Over quota is being told to slow down, not a failure: it uses no attempt (the delivery timeout still holds).
    const throttled = error.code === 'SEALBUS_ERR_QUOTA_EXCEEDED';
    const retriable =
      (error.retriable || this.#brokerBehind(pipeline, batch, error)) &&
      this.#fatal === null &&
      (throttled || batch.attempts + 1 < this.#options.retry.maxAttempts) &&
      now - batch.createdAt < this.#options.deliveryTimeoutMs;
    if (!retriable) {
      pipeline.dropped(batch);
      batch.reject(error);
      return;
    }
    pipeline.retry(batch);
    if (!throttled) batch.attempts++;
    const retryAt = now + retryDelay(error, batch.attempts, this.#options.retry, this.#options.random);
    pipeline.retryAt = Math.max(pipeline.retryAt, retryAt);
    if (throttled) this.#throttledUntil = Math.max(this.#throttledUntil, retryAt);
  }

  /**
   * Out of sequence, though every batch numbered before this one was acknowledged (none is in
   * flight ahead of it, none was given up): the broker's view of the store is behind what it
   * acknowledged, as when a JetStream stream's new leader has not yet applied its log after the old
   * one died. The batch is not stored, and is sent again (it still counts its attempts and the
   * delivery timeout), rather than failed as if the producer had skipped a number.
   */
  #brokerBehind(pipeline: PartitionPipeline, batch: ProducerBatch, error: SealbusError): boolean {
    return error.code === 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP' && batch.sequence !== null && !pipeline.spoiled && !pipeline.recovering && pipeline.inFlight[0] === batch;
  }

  /**
   * Encodes (seals) the batch anew for the topic's current recipients or schema before its retry:
   * the partition waits until they are fetched (or the fetch fails: then the retry uses what is known).
   */
  #reseal(pipeline: PartitionPipeline, batch: ProducerBatch, code: StaleCode): void {
    batch.encoded = null;
    pipeline.retryAt = Number.POSITIVE_INFINITY;
    const release = (): void => {
      pipeline.retryAt = 0;
      this.#pump();
    };
    this.#options.stale(batch.topic, code).then(release, release);
  }

  #connectionFailed(error: SealbusError): void {
    const now = this.#options.clock();
    for (const pipeline of this.#pipelines.values()) {
      const keep = pipeline.queue.filter((batch) => error.retriable && now - batch.createdAt < this.#options.deliveryTimeoutMs);
      const gone = pipeline.queue.filter((batch) => !keep.includes(batch));
      pipeline.queue.splice(0, pipeline.queue.length, ...keep);
      for (const batch of gone) {
        pipeline.dropped(batch);
        batch.reject(error);
      }
    }
    if (!error.retriable) return;
    this.#connectAttempts++;
    this.#scheduleRetry(now + retryDelay(error, this.#connectAttempts, this.#options.retry, this.#options.random));
  }

  #failAll(error: SealbusError): void {
    this.#fatal = error;
    for (const pipeline of this.#pipelines.values()) {
      for (const batch of pipeline.queue.splice(0)) batch.reject(error);
    }
  }

  #scheduleRetry(at: number): void {
    if (this.#retryTimer !== null && this.#retryTimerAt <= at) return;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimerAt = at;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#retryTimerAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, Math.max(0, at - this.#options.clock()));
  }
}
