import { isSealbusError, type SealbusError } from '../errors/index.js';
import type { LogStore } from '../log/index.js';

export interface SubscriptionOptions {
  readonly store: LogStore;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Bytes the consumer has granted so far. */
  readonly credit: number;
  /** Upper bound of one read, whatever the credit. */
  readonly maxReadBytes: number;
  /**
   * Delivers batches; resolves when the transport can take more (the socket drained below its
   * high-water mark). Rejects to end the subscription.
   */
  readonly deliver: (batches: readonly Buffer[], highWatermark: number) => Promise<void>;
  /** Called before each delivery; throws to stop (token expired, right withdrawn). */
  readonly gate: () => void;
  readonly onEnd: (error: unknown) => void;
}

/**
 * Pushes a partition's batches to one consumer under credit-based flow control: it reads only
 * while the consumer holds credit, so a slow consumer costs at most its credit plus one batch of
 * memory, never an unbounded queue. Waits for new data on the store's notification, not by polling.
 */
export class Subscription {
  readonly #options: SubscriptionOptions;
  readonly #abort = new AbortController();
  #credit: number;
  #offset: number;
  #wakeCredit: (() => void) | null = null;
  #closed = false;
  #failWith: SealbusError | null = null;

  constructor(options: SubscriptionOptions) {
    this.#options = options;
    this.#credit = options.credit;
    this.#offset = options.offset;
  }

  /** Starts pushing; called once the transport has confirmed the subscription to the client. */
  start(): void {
    void this.#run();
  }

  get offset(): number {
    return this.#offset;
  }

  get topic(): string {
    return this.#options.topic;
  }

  /** Ends the subscription with `error` (a right withdrawn): `onEnd` reports it to the client. */
  fail(error: SealbusError): void {
    if (this.#closed) return;
    this.#failWith = error;
    this.close();
  }

  addCredit(bytes: number): void {
    this.#credit = Math.min(this.#credit + bytes, Number.MAX_SAFE_INTEGER);
    this.#wakeCredit?.();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new Error('subscription closed'));
    this.#wakeCredit?.();
  }

  async #run(): Promise<void> {
    const { store, topic, partition, maxReadBytes } = this.#options;
    let failure: unknown = null;
    try {
      while (!this.#closed) {
        if (this.#credit <= 0) {
          await new Promise<void>((resolve) => (this.#wakeCredit = resolve));
          this.#wakeCredit = null;
          continue;
        }
        const result = await store.read(topic, partition, this.#offset, {
          maxBytes: Math.max(1, Math.min(this.#credit, maxReadBytes)),
        });
        if (this.#closed) break;
        if (result.batches.length === 0) {
          await store.waitForData(topic, partition, this.#offset, this.#abort.signal);
          continue;
        }
        this.#options.gate();
        let bytes = 0;
        for (const batch of result.batches) bytes += batch.length;
        this.#credit -= bytes;
        this.#offset = result.nextOffset;
        await this.#options.deliver(result.batches, result.highWatermark);
      }
    } catch (err) {
      if (!this.#closed || isSealbusError(err)) failure = err;
    }
    this.#closed = true;
    this.#options.onEnd(this.#failWith ?? failure);
  }
}
