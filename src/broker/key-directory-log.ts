import { SealbusError, isSealbusError } from '../errors/index.js';
import { decodeBatchHeader, decodeRecords, encodeRecords, type LogRecord } from '../log/record-batch.js';
import type { LogStore, TopicConfigInput, TopicDescription } from '../log/types.js';
import { KEYS_TOPIC, KEY_RECORD_MAX_BYTES, decodeKeyEntry, encodeKeyEntry, malformedKeyRecord, type KeyDirectoryEntry } from './key-directory-entry.js';

const PARTITION = 0;
const READ_MAX_BYTES = 256 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** How long open() waits for a concurrent creator of the topic to finish. */
const CREATE_WAIT_ATTEMPTS = 100;
const CREATE_WAIT_MS = 20;

export interface KeyDirectoryLogOptions {
  readonly store: LogStore;
  /** Applies one valid entry, in log order. Must not throw for an entry it refuses: it reports. */
  readonly apply: (entry: KeyDirectoryEntry, offset: number) => void;
  /** Malformed records (skipped), read failures (retried). Never fatal. */
  readonly report: (err: unknown) => void;
}

type Phase = 'new' | 'opening' | 'open' | 'closed';

/**
 * Resolves after `ms`, or at once when `signal` aborts, clearing its timer either way. An unref'd
 * timer does not keep the process alive: right for a background loop, not for a wait someone awaits.
 */
function pause(ms: number, signal: AbortSignal, options: { ref: boolean }): Promise<void> {
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

function topicConfig(): TopicConfigInput {
  return {
    partitions: 1,
    // A registration is acknowledged only once it would survive a crash.
    fsync: { mode: 'always' },
    // No retention: a key must outlive every record it signed, and the directory is rebuilt from
    // this topic alone.
    retentionMs: null,
    retentionBytes: null,
    segmentBytes: 1024 * 1024,
    maxRecordBytes: 2 * KEY_RECORD_MAX_BYTES,
    maxBatchBytes: READ_MAX_BYTES,
  };
}

/**
 * The key directory's topic `__sealbus.keys` (one partition, fsync always, kept forever): replayed
 * on open, then followed on the store's data notification (no polling) so that every broker sharing
 * the store applies every entry, in the same (log) order. Appends are applied through the same
 * path: `append` resolves once the entry, and everything before it, has been applied here.
 *
 * Close this before the store: a store closed under a running tail ends the tail with an error.
 */
export class KeyDirectoryLog {
  readonly #store: LogStore;
  readonly #apply: (entry: KeyDirectoryEntry, offset: number) => void;
  readonly #report: (err: unknown) => void;
  readonly #abort = new AbortController();
  #phase: Phase = 'new';
  /** The next offset of the topic to apply. */
  #offset = 0;
  /** Catch-ups run one at a time, so entries are applied once each and in order. */
  #syncing: Promise<void> = Promise.resolve();

  constructor(options: KeyDirectoryLogOptions) {
    this.#store = options.store;
    this.#apply = options.apply;
    this.#report = options.report;
  }

  get isOpen(): boolean {
    return this.#phase === 'open';
  }

  /** Creates the topic if missing, replays it, then starts the tail. Fails (fail closed) when the store cannot be read. */
  async open(): Promise<void> {
    if (this.#phase !== 'new') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    this.#phase = 'opening';
    try {
      const description = await this.#ensureTopic();
      this.#offset = description.partitions[PARTITION]?.logStartOffset ?? 0;
      await this.sync();
    } catch (err) {
      this.close();
      throw err;
    }
    if (this.#closed) return; // closed while opening
    this.#phase = 'open';
    void this.#tail();
  }

  /** Appends one entry (the record key names the principal) and resolves once it has been applied here. */
  async append(entry: KeyDirectoryEntry): Promise<void> {
    if (this.#phase !== 'open') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    const value = encodeKeyEntry(entry);
    await this.#store.append(KEYS_TOPIC, PARTITION, { records: encodeRecords([{ key: Buffer.from(entry.principal, 'utf8'), value }]) });
    // Entries of other brokers written before ours are applied first: the log order decides.
    await this.sync();
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
    this.#abort.abort(new Error('key directory closed'));
  }

  get #closed(): boolean {
    return this.#phase === 'closed';
  }

  async #ensureTopic(): Promise<TopicDescription> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store.describeTopic(KEYS_TOPIC);
      } catch (err) {
        if (!isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND')) throw err;
      }
      try {
        return await this.#store.createTopic(KEYS_TOPIC, topicConfig());
      } catch (err) {
        // Another broker is creating it right now: describe again once it is done.
        if (!isSealbusError(err, 'SEALBUS_ERR_TOPIC_EXISTS') || attempt >= CREATE_WAIT_ATTEMPTS) throw err;
      }
      await pause(CREATE_WAIT_MS, this.#abort.signal, { ref: true });
      if (this.#closed) throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    }
  }

  /** Follows the topic until close(): waits on the store's notification, applies, backs off on errors. */
  async #tail(): Promise<void> {
    const signal = this.#abort.signal;
    let backoff = BACKOFF_MIN_MS;
    while (!this.#closed) {
      try {
        await this.#store.waitForData(KEYS_TOPIC, PARTITION, this.#offset, signal);
        await this.sync();
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        if (this.#closed) return;
        this.#safeReport(err);
        if (isSealbusError(err, 'SEALBUS_ERR_STORE_CLOSED')) {
          this.close();
          return;
        }
        await pause(backoff, signal, { ref: false });
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /**
   * Applies every record from #offset to the high watermark. Skips (and reports) what cannot be
   * applied: malformed records, a range the store quarantined as corrupted.
   */
  async #catchUp(): Promise<void> {
    for (;;) {
      let result;
      try {
        result = await this.#store.read(KEYS_TOPIC, PARTITION, this.#offset, { maxBytes: READ_MAX_BYTES });
      } catch (err) {
        if (this.#closed) return;
        if (!(await this.#skipUnreadable(err))) throw err;
        continue;
      }
      if (this.#closed || result.batches.length === 0) return;
      for (const batch of result.batches) this.#applyBatch(batch);
      this.#offset = Math.max(this.#offset, result.nextOffset);
    }
  }

  #applyBatch(batch: Buffer): void {
    let records: LogRecord[];
    try {
      records = decodeRecords(batch);
    } catch (err) {
      const header = decodeBatchHeader(batch);
      this.#safeReport(malformedKeyRecord(header?.baseOffset ?? this.#offset, err));
      if (header !== null) this.#offset = Math.max(this.#offset, header.baseOffset + header.recordCount);
      return;
    }
    for (const record of records) {
      if (record.offset < this.#offset) continue; // a batch may start before the offset asked for
      let entry: KeyDirectoryEntry | null = null;
      try {
        entry = decodeKeyEntry(record.value);
      } catch (err) {
        this.#safeReport(malformedKeyRecord(record.offset, err));
      }
      if (entry !== null) {
        try {
          this.#apply(entry, record.offset);
        } catch (err) {
          this.#safeReport(err);
        }
      }
      this.#offset = record.offset + 1;
    }
  }

  /**
   * Moves past offsets the store cannot serve: a quarantined corrupted range (reported: keys may be
   * missing), or a topic recreated under us (replayed from its start). Returns false otherwise.
   */
  async #skipUnreadable(err: unknown): Promise<boolean> {
    if (isSealbusError(err, 'SEALBUS_ERR_RECORDS_CORRUPTED')) {
      const next = err.details?.['next'];
      if (typeof next !== 'number' || next <= this.#offset) return false;
      this.#safeReport(err);
      this.#offset = next;
      return true;
    }
    if (isSealbusError(err, 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE')) {
      const state = (await this.#store.describeTopic(KEYS_TOPIC)).partitions[PARTITION];
      if (state === undefined) return false;
      if (this.#offset >= state.logStartOffset && this.#offset <= state.highWatermark) return true; // moved meanwhile: read again
      this.#safeReport(err);
      this.#offset = state.logStartOffset;
      return true;
    }
    return false;
  }

  #safeReport(err: unknown): void {
    try {
      this.#report(err);
    } catch {
      // A failing error hook must not stop the tail.
    }
  }
}
