import type { ProducerBatch } from './producer-batch.js';

const MAX_SEQUENCE = 0x7fff_ffff;

/**
 * The send queue of one topic partition, and the idempotent producer's sequence numbers for it.
 *
 * A batch is numbered when first sent and keeps its number through every retry: a batch whose
 * answer was lost (or that failed on the broker's side after it was written) is then either
 * stored under that number, and its resend is acknowledged as a duplicate with its offset, or not
 * stored at all, and its resend stores it. Renumbering it would store it twice.
 *
 * Ordering under retries: the broker stores a producer's batches only in sequence, so when one
 * fails, the batches in flight behind it are refused (SEQUENCE_GAP) unless it was stored after
 * all; nothing more is sent on this partition until every in-flight batch has answered, then the
 * queue, failed batches back in their places, is sent again in order.
 *
 * A batch that fails for good leaves a hole in the sequence. When it was surely not stored (every
 * attempt was refused before the write), the batches behind it cannot have been stored either and
 * are numbered again from its number. When it may have been stored, no number behind it can be
 * trusted: the partition is spoiled, the batches already numbered are resolved with their numbers
 * (acknowledged, or refused as out of sequence and so not stored), and the rest wait for a new
 * producer epoch, which restarts every partition at 0 (see ProducerSender).
 */
export class PartitionPipeline {
  /** Closed batches waiting to be sent, in order. */
  readonly queue: ProducerBatch[] = [];
  /** Sent and unanswered, in send order. */
  readonly inFlight: ProducerBatch[] = [];
  /** No send before this time (backoff after a retriable error). */
  retryAt = 0;
  #nextSequence = 0;
  #recovering = false;
  /** Batches numbered from here on are renumbered once the in-flight ones have answered. */
  #renumberFrom: number | null = null;
  #spoiled = false;

  /** True after a failure until every batch that was in flight behind it has answered. */
  get recovering(): boolean {
    return this.#recovering;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight.length === 0;
  }

  /** A batch that may have been stored was given up: new numbers must wait for a new epoch. */
  get spoiled(): boolean {
    return this.#spoiled;
  }

  /** Batches numbered in this epoch still unanswered for good: a new epoch must wait for them. */
  get unresolved(): boolean {
    return this.inFlight.length > 0 || this.queue.some((batch) => batch.sequence !== null);
  }

  /** True when the next batch to number cannot be numbered in this epoch (spoiled, or past 2^31 - 1). */
  get needsNewEpoch(): boolean {
    if (this.#spoiled) return true;
    const head = this.queue[0];
    return head !== undefined && head.sequence === null && this.#nextSequence + head.count > MAX_SEQUENCE;
  }

  enqueue(batch: ProducerBatch): void {
    this.queue.push(batch);
  }

  /**
   * Takes the next batch to send, numbering it if it is new, or null when this partition must
   * wait. `numbering` false (a new epoch is pending) sends only batches numbered already.
   */
  takeNext(now: number, maxInFlight: number, numbering = true): ProducerBatch | null {
    if (this.#recovering) {
      if (this.inFlight.length > 0) return null;
      this.#recovering = false;
      this.#renumber();
    }
    if (this.queue.length === 0 || this.inFlight.length >= maxInFlight || now < this.retryAt) return null;
    const head = this.queue[0]!;
    // A batch still being sealed holds back the ones behind it: a partition's batches go in order.
    if (head.encoded === null) return null;
    if (head.sequence === null) {
      if (!numbering || this.needsNewEpoch) return null;
      head.sequence = this.#nextSequence;
      this.#nextSequence += head.count;
    }
    this.queue.shift();
    this.inFlight.push(head);
    return head;
  }

  acked(batch: ProducerBatch): void {
    this.#remove(batch);
  }

  /** The batch failed and is sent again, with its number, in its place in the queue. */
  retry(batch: ProducerBatch): void {
    this.#remove(batch);
    this.#recovering = true;
    this.#requeue(batch);
  }

  /**
   * A batch of a spoiled partition was refused as out of sequence: it is not stored, and is
   * numbered again in the new epoch.
   */
  notStored(batch: ProducerBatch): void {
    this.#remove(batch);
    this.#recovering = true;
    batch.sequence = null;
    batch.maybeStored = false;
    this.#requeue(batch);
  }

  /** The batch failed for good (it is rejected; the caller has taken it off the queue if it was there). */
  dropped(batch: ProducerBatch): void {
    this.#remove(batch);
    this.#recovering = true;
    if (batch.sequence === null) return;
    if (batch.maybeStored) this.#spoiled = true;
    else this.#renumberFrom = Math.min(this.#renumberFrom ?? batch.sequence, batch.sequence);
  }

  /** A new producer epoch restarts every partition's sequence at 0. */
  resetSequences(): void {
    this.#nextSequence = 0;
    this.#renumberFrom = null;
    this.#spoiled = false;
    for (const batch of this.queue) {
      batch.sequence = null;
      batch.maybeStored = false;
    }
  }

  /** After a batch surely not stored was dropped: the ones behind it take its numbers. */
  #renumber(): void {
    const from = this.#renumberFrom;
    if (from === null) return;
    this.#renumberFrom = null;
    for (const batch of this.queue) {
      if (batch.sequence !== null && batch.sequence >= from) {
        batch.sequence = null;
        batch.maybeStored = false;
      }
    }
    if (!this.#spoiled) this.#nextSequence = Math.min(this.#nextSequence, from);
  }

  #requeue(batch: ProducerBatch): void {
    let at = 0;
    while (at < this.queue.length && this.queue[at]!.id < batch.id) at++;
    this.queue.splice(at, 0, batch);
  }

  #remove(batch: ProducerBatch): void {
    const index = this.inFlight.indexOf(batch);
    if (index >= 0) this.inFlight.splice(index, 1);
  }
}
