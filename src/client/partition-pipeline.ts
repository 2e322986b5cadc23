import type { ProducerBatch } from './producer-batch.js';

const MAX_SEQUENCE = 0x7fff_ffff;

/**
 * The send queue of one topic partition, and the idempotent producer's sequence numbers for it.
 *
 * Ordering under retries: when a batch fails, the batches in flight behind it are not stored
 * either (the broker refuses them with SEQUENCE_GAP, as their sequence is not the next one), so
 * nothing more is sent on this partition until every in-flight batch has answered; then the
 * queue, failed batches back in their original places, is sent again in order, renumbered from
 * the last acked sequence. A batch whose fate is unknown (lost with the connection) was either
 * stored with that same sequence, and its resend is acked as a duplicate, or not stored at all.
 */
export class PartitionPipeline {
  /** Closed batches waiting to be sent, in order. */
  readonly queue: ProducerBatch[] = [];
  /** Sent and unanswered, in send order. */
  readonly inFlight: ProducerBatch[] = [];
  /** No send before this time (backoff after a retriable error). */
  retryAt = 0;
  #nextSequence = 0;
  #ackedSequence = 0;
  #recovering = false;

  /** True after a failure until every batch that was in flight behind it has answered. */
  get recovering(): boolean {
    return this.#recovering;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight.length === 0;
  }

  enqueue(batch: ProducerBatch): void {
    this.queue.push(batch);
  }

  /** True when sending the head batch would push the sequence past 2^31 - 1 (a new epoch is needed). */
  get needsNewEpoch(): boolean {
    const head = this.queue[0];
    return head !== undefined && this.#nextSequence + head.count > MAX_SEQUENCE;
  }

  /** Takes the next batch to send, numbering it, or null when this partition must wait. */
  takeNext(now: number, maxInFlight: number): ProducerBatch | null {
    if (this.#recovering) {
      if (this.inFlight.length > 0) return null;
      this.#recovering = false;
      this.#nextSequence = this.#ackedSequence;
    }
    if (this.queue.length === 0 || this.inFlight.length >= maxInFlight || now < this.retryAt || this.needsNewEpoch) return null;
    // A batch still being sealed holds back the ones behind it: a partition's batches go in order.
    if (this.queue[0]!.encoded === null) return null;
    const batch = this.queue.shift()!;
    batch.sequence = this.#nextSequence;
    this.#nextSequence += batch.count;
    this.inFlight.push(batch);
    return batch;
  }

  acked(batch: ProducerBatch): void {
    this.#remove(batch);
    this.#ackedSequence = batch.sequence + batch.count;
  }

  /** The batch failed; `retry` puts it back in its place in the queue, else it is dropped. */
  failed(batch: ProducerBatch, retry: boolean): void {
    this.#remove(batch);
    // Whatever happens to this batch, the broker's next expected sequence is back at the last ack.
    this.#recovering = true;
    if (!retry) return;
    let at = 0;
    while (at < this.queue.length && this.queue[at]!.id < batch.id) at++;
    this.queue.splice(at, 0, batch);
  }

  /** A new producer epoch restarts every partition's sequence at 0. */
  resetSequences(): void {
    this.#nextSequence = 0;
    this.#ackedSequence = 0;
  }

  #remove(batch: ProducerBatch): void {
    const index = this.inFlight.indexOf(batch);
    if (index >= 0) this.inFlight.splice(index, 1);
  }
}
