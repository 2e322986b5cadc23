import { ProducerBatch, type PendingRecord } from './producer-batch.js';

export interface AccumulatorLimits {
  /** Wait this long for more records before sending a batch that is not full. */
  readonly lingerMs: number;
  /** Records-section bytes of one batch; a single larger record still goes, alone. */
  readonly maxBatchBytes: number;
  readonly maxBatchRecords: number;
}

/**
 * Groups records into one open batch per topic partition and closes a batch when it is full or
 * has lingered `lingerMs`; `onClosed` then takes it (to seal and send it). Records of a partition are
 * batched in the order they were appended.
 */
export class RecordAccumulator {
  readonly #open = new Map<string, { batch: ProducerBatch; timer: NodeJS.Timeout | null }>();
  readonly #limits: AccumulatorLimits;
  readonly #onClosed: (batch: ProducerBatch) => void;
  readonly #clock: () => number;
  #nextId = 1;

  constructor(limits: AccumulatorLimits, onClosed: (batch: ProducerBatch) => void, clock: () => number = Date.now) {
    this.#limits = limits;
    this.#onClosed = onClosed;
    this.#clock = clock;
  }

  append(topic: string, partition: number, record: PendingRecord): void {
    const key = `${partition}:${topic}`;
    let open = this.#open.get(key);
    if (open !== undefined && open.batch.count > 0 && open.batch.bytes + record.size > this.#limits.maxBatchBytes) {
      this.#close(key);
      open = undefined;
    }
    if (open === undefined) {
      const batch = new ProducerBatch(this.#nextId++, topic, partition, this.#clock());
      open = { batch, timer: null };
      this.#open.set(key, open);
      // With lingerMs 0, records appended in the same tick still share a batch.
      const timer = this.#limits.lingerMs > 0 ? setTimeout(() => this.#close(key), this.#limits.lingerMs) : null;
      if (timer === null) setImmediate(() => this.#closeIf(key, batch));
      open.timer = timer;
    }
    open.batch.records.push(record);
    open.batch.bytes += record.size;
    if (open.batch.count >= this.#limits.maxBatchRecords || open.batch.bytes >= this.#limits.maxBatchBytes) this.#close(key);
  }

  /** Closes every open batch now (flush). */
  closeAll(): void {
    for (const key of [...this.#open.keys()]) this.#close(key);
  }

  get openBatches(): number {
    return this.#open.size;
  }

  #closeIf(key: string, batch: ProducerBatch): void {
    if (this.#open.get(key)?.batch === batch) this.#close(key);
  }

  #close(key: string): void {
    const open = this.#open.get(key);
    if (open === undefined) return;
    this.#open.delete(key);
    if (open.timer !== null) clearTimeout(open.timer);
    this.#onClosed(open.batch);
  }
}
