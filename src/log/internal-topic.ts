/**
 * An internal topic the broker keeps its own state in (`__sealbus.revocations`, `__sealbus.keys`):
 * one partition, created on first use (a concurrent creator is waited for), replayed from its start,
 * then followed on the store's data notification (no polling) so that every broker sharing the store
 * applies every record, in log order, exactly once. What cannot be read is reported and skipped: a
 * malformed record, a range the store quarantined, records retention removed.
 *
 * Close this before the store: a store closed under a running tail ends the tail with an error.
 */
import { SealbusError, isSealbusError } from '../errors/index.js';
import { decodeBatchHeader, decodeRecords, type LogRecord } from './record-batch.js';
import type { AppendResult, EncodedRecords, LogStore, TopicConfigInput, TopicDescription } from './types.js';

export interface InternalTopicOptions {
  readonly store: LogStore;
  readonly topic: string;
  /** Its settings when this broker creates it. */
  readonly config: TopicConfigInput;
  /**
   * Applies one record, in log order. Throw `SkipRecord` for a record that can never be applied
   * (reported, then passed over); any other error stops the catch-up at this record, which is
   * applied again on the next one (e.g. a list that is full for now).
   */
  readonly apply: (record: LogRecord) => void;
  /** Called after the records of each read are applied (also when one stopped the catch-up). */
  readonly afterRead?: () => void;
  /** Skipped records, unreadable ranges, failing reads (retried). Never fatal. */
  readonly report: (err: unknown) => void;
  readonly readMaxBytes?: number;
}

/**
 * The settings of an internal topic: one partition, every append fsynced before it is
 * acknowledged (an entry acknowledged must survive a crash), kept forever unless `retentionMs`
 * says otherwise (the state is rebuilt from the topic alone).
 */
export function internalTopicConfig(sizes: { segmentBytes: number; maxRecordBytes: number; maxBatchBytes: number; retentionMs?: number | null }): TopicConfigInput {
  return { partitions: 1, fsync: { mode: 'always' }, retentionMs: sizes.retentionMs ?? null, retentionBytes: null, segmentBytes: sizes.segmentBytes, maxRecordBytes: sizes.maxRecordBytes, maxBatchBytes: sizes.maxBatchBytes };
}

/** Thrown by `apply` for a record that can never be applied: it is reported and passed over. */
export class SkipRecord extends Error {
  constructor(cause: unknown) {
    super('record skipped', { cause });
  }
}

type Phase = 'new' | 'opening' | 'open' | 'closed';

const PARTITION = 0;
const READ_MAX_BYTES = 64 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** How long open() waits for a concurrent creator of the topic to finish. */
const CREATE_WAIT_ATTEMPTS = 100;
const CREATE_WAIT_MS = 20;

/**
 * Resolves after `ms`, or at once when `signal` aborts, clearing its timer either way. An unref'd
 * timer does not keep the process alive: right for a background loop, not for a wait someone awaits.
 */
export function pause(ms: number, signal: AbortSignal, options: { ref: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (!options.ref) timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Creates `topic` if missing and describes it; when another broker is creating it at the same
 * moment, waits for that one. Shared by every internal topic (the audit log's too).
 */
export async function ensureInternalTopic(store: LogStore, topic: string, config: TopicConfigInput, signal: AbortSignal): Promise<TopicDescription> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.describeTopic(topic);
    } catch (err) {
      if (!isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND')) throw err;
    }
    try {
      return await store.createTopic(topic, config);
    } catch (err) {
      if (!isSealbusError(err, 'SEALBUS_ERR_TOPIC_EXISTS') || attempt >= CREATE_WAIT_ATTEMPTS) throw err;
    }
    await pause(CREATE_WAIT_MS, signal, { ref: true });
    if (signal.aborted) throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
  }
}

export class InternalTopic {
  readonly #options: InternalTopicOptions;
  readonly #abort = new AbortController();
  #phase: Phase = 'new';
  /** The next offset to apply. */
  #offset = 0;
  /** Catch-ups run one at a time, so records are applied once each and in order. */
  #syncing: Promise<void> = Promise.resolve();

  constructor(options: InternalTopicOptions) {
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#phase === 'open';
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  /**
   * Creates the topic if missing and replays it. Fails (the caller fails closed) when the store
   * cannot be read. Call `follow()` afterwards to apply what other brokers write.
   */
  async open(): Promise<TopicDescription> {
    if (this.#phase !== 'new') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    this.#phase = 'opening';
    try {
      const description = await ensureInternalTopic(this.#options.store, this.#options.topic, this.#options.config, this.#abort.signal);
      this.#offset = description.partitions[PARTITION]?.logStartOffset ?? 0;
      await this.sync();
      if (this.#phase === 'opening') this.#phase = 'open';
      return description;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Starts the tail (until close). */
  follow(): void {
    if (this.#phase === 'open') void this.#tail();
  }

  /** Appends records, then applies everything up to them (other brokers' records written before come first). */
  async append(records: EncodedRecords): Promise<AppendResult> {
    if (this.#phase !== 'open') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    const result = await this.#options.store.append(this.#options.topic, PARTITION, { records });
    await this.sync();
    return result;
  }

  /** Applies every record up to the high watermark; concurrent calls run one after the other. */
  sync(): Promise<void> {
    const run = this.#syncing.then(() => this.#catchUp());
    this.#syncing = run.catch(() => undefined);
    return run;
  }

  /** Stops the tail; what was applied stays applied. */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#abort.abort(new Error(`${this.#options.topic} closed`));
  }

  async #tail(): Promise<void> {
    const signal = this.#abort.signal;
    let backoff = BACKOFF_MIN_MS;
    while (!this.closed) {
      try {
        await this.#options.store.waitForData(this.#options.topic, PARTITION, this.#offset, signal);
        await this.sync();
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        if (this.closed) return;
        this.#report(err);
        if (isSealbusError(err, 'SEALBUS_ERR_STORE_CLOSED')) {
          this.close();
          return;
        }
        await pause(backoff, signal, { ref: false });
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  async #catchUp(): Promise<void> {
    const { store, topic } = this.#options;
    for (;;) {
      let result;
      try {
        result = await store.read(topic, PARTITION, this.#offset, { maxBytes: this.#options.readMaxBytes ?? READ_MAX_BYTES });
      } catch (err) {
        if (this.closed) return;
        if (!(await this.#skipUnreadable(err))) throw err;
        continue;
      }
      if (this.closed || result.batches.length === 0) return;
      try {
        for (const batch of result.batches) this.#applyBatch(batch);
      } finally {
        this.#afterRead();
      }
      this.#offset = Math.max(this.#offset, result.nextOffset);
    }
  }

  #applyBatch(batch: Buffer): void {
    let records: LogRecord[];
    try {
      records = decodeRecords(batch);
    } catch (err) {
      const header = decodeBatchHeader(batch);
      this.#report(err);
      if (header !== null) this.#offset = Math.max(this.#offset, header.baseOffset + header.recordCount);
      return;
    }
    for (const record of records) {
      if (record.offset < this.#offset) continue; // a batch may start before the offset asked for
      try {
        this.#options.apply(record);
      } catch (err) {
        if (!(err instanceof SkipRecord)) throw err; // stop here; this record is applied again next time
        this.#report(err.cause);
      }
      this.#offset = record.offset + 1;
    }
  }

  /**
   * Moves past offsets the store cannot serve: a quarantined corrupted range, records retention
   * deleted, or a topic recreated under us (replayed from its start). Returns false otherwise.
   */
  async #skipUnreadable(err: unknown): Promise<boolean> {
    if (isSealbusError(err, 'SEALBUS_ERR_RECORDS_CORRUPTED')) {
      const next = err.details?.['next'];
      if (typeof next !== 'number' || next <= this.#offset) return false;
      this.#report(err);
      this.#offset = next;
      return true;
    }
    if (isSealbusError(err, 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE')) {
      const state = (await this.#options.store.describeTopic(this.#options.topic)).partitions[PARTITION];
      if (state === undefined) return false;
      if (this.#offset >= state.logStartOffset && this.#offset <= state.highWatermark) return true; // moved meanwhile: read again
      this.#report(err);
      this.#offset = state.logStartOffset;
      return true;
    }
    return false;
  }

  #afterRead(): void {
    try {
      this.#options.afterRead?.();
    } catch (err) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    try {
      this.#options.report(err);
    } catch {
      // A failing error hook must not stop the tail.
    }
  }
}
