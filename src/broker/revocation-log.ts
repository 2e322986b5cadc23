import { displayValue } from '../auth/text.js';
import { validateRevocationEntry, type RevocationEntry, type RevocationList } from '../auth/revocation-list.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { decodeBatchHeader, decodeRecords, encodeRecords, type LogRecord } from '../log/record-batch.js';
import type { LogStore, TopicConfigInput, TopicDescription } from '../log/types.js';

/**
 * The internal topic that holds revocations. The `__` prefix is reserved: the Broker refuses it to
 * clients, the store accepts it from the broker itself.
 */
export const REVOCATIONS_TOPIC = '__sealbus.revocations';
/** Largest record value written or accepted back (a real entry is a few hundred bytes). */
export const REVOCATION_RECORD_MAX_BYTES = 4096;

const RECORD_VERSION = 1;
const PARTITION = 0;
const PRUNE_INTERVAL_MS = 60_000;
const READ_MAX_BYTES = 64 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** How long open() waits for a concurrent creator of the topic to finish. */
const CREATE_WAIT_ATTEMPTS = 100;
const CREATE_WAIT_MS = 20;

export interface RevocationLogOptions {
  readonly store: LogStore;
  readonly list: RevocationList;
  readonly clock?: (() => number) | undefined;
  /**
   * Retention of the topic when this instance creates it. Must cover the longest `until` of an
   * entry (see revocationUntil): revoke() refuses an entry that would age out of the log first.
   */
  readonly retentionMs: number;
  /** Entries that newly revoke something (from this broker or another): close the sessions they hit. */
  readonly onAdded?: ((entries: readonly RevocationEntry[]) => void) | undefined;
  /** Malformed records (skipped), read failures (retried), a throwing onAdded. Never fatal. */
  readonly onError?: ((err: unknown) => void) | undefined;
}

type Phase = 'new' | 'opening' | 'open' | 'closed';

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason }, { details: { reason } });
}

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

function topicConfig(retentionMs: number): TopicConfigInput {
  return {
    partitions: 1,
    // A revocation is acknowledged only once it would survive a crash.
    fsync: { mode: 'always' },
    retentionMs,
    // Small segments, so that retention (which deletes whole sealed segments) actually applies.
    segmentBytes: 1024 * 1024,
    maxRecordBytes: 2 * REVOCATION_RECORD_MAX_BYTES,
    maxBatchBytes: READ_MAX_BYTES,
  };
}

/** Encodes an entry as the record value `{"v":1, ...entry}`. */
function encodeEntry(entry: RevocationEntry): Buffer {
  return Buffer.from(JSON.stringify({ v: RECORD_VERSION, ...entry }), 'utf8');
}

/** Decodes a record value; throws SEALBUS_ERR_TOKEN_REQUEST_INVALID saying what is wrong. */
function decodeEntry(value: Buffer | null): RevocationEntry {
  if (value === null) throw invalid('the record has no value');
  if (value.length > REVOCATION_RECORD_MAX_BYTES) throw invalid(`the record value exceeds ${REVOCATION_RECORD_MAX_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    throw invalid('the record value is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('the record value is not a JSON object');
  const { v, ...entry } = parsed as Record<string, unknown>;
  if (v !== RECORD_VERSION) throw invalid(`the record version ${displayValue(v ?? null)} is not ${RECORD_VERSION}`);
  return validateRevocationEntry(entry);
}

function malformedRecord(offset: number, err: unknown): SealbusError {
  const why = isSealbusError(err) ? err.message : String(err);
  const reason = `revocation record ${offset} of ${REVOCATIONS_TOPIC} is skipped: ${why}`;
  return new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason }, { details: { reason, topic: REVOCATIONS_TOPIC, offset }, cause: err });
}

/**
 * Revocations made durable through the log store, so that every broker sharing the store learns
 * them: one record per revocation in the internal topic `__sealbus.revocations` (one partition,
 * fsync always). On open the whole topic is replayed into the list; then a tail follows the
 * topic on the store's data notification (no polling) and adds what other brokers write.
 *
 * Close this before the store: a store closed under a running tail ends the tail with an error.
 */
export class RevocationLog {
  readonly #store: LogStore;
  readonly #list: RevocationList;
  readonly #clock: () => number;
  readonly #retentionMs: number;
  readonly #onAdded: ((entries: readonly RevocationEntry[]) => void) | undefined;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #abort = new AbortController();
  #phase: Phase = 'new';
  /** The next offset of the topic to apply. */
  #offset = 0;
  /** Retention of the topic as it exists (another broker may have created it): bounds `until`. */
  #topicRetentionMs: number | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;

  constructor(options: RevocationLogOptions) {
    if (!Number.isSafeInteger(options.retentionMs) || options.retentionMs < 1) throw new RangeError('retentionMs must be a positive integer');
    this.#store = options.store;
    this.#list = options.list;
    this.#clock = options.clock ?? Date.now;
    this.#retentionMs = options.retentionMs;
    this.#onAdded = options.onAdded;
    this.#onError = options.onError;
  }

  /**
   * Creates the topic if missing, replays it into the list, prunes, then starts the tail and the
   * prune timer. Fails (fail closed) when the store cannot be read, or when the live entries do not
   * fit in the list (SEALBUS_ERR_TOKEN_REVOCATIONS_FULL): a broker must not run without them.
   * Entries replayed here are not passed to onAdded: no session exists before the broker serves.
   */
  async open(): Promise<void> {
    if (this.#phase !== 'new') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    this.#phase = 'opening';
    try {
      const description = await this.#ensureTopic();
      this.#topicRetentionMs = description.config.retentionMs;
      this.#offset = description.partitions[PARTITION]?.logStartOffset ?? 0;
      await this.#catchUp({ notify: false });
    } catch (err) {
      this.close();
      throw err;
    }
    if (this.#closed) return; // closed while opening
    this.#list.prune(this.#clock());
    this.#phase = 'open';
    this.#pruneTimer = setInterval(() => this.#list.prune(this.#clock()), PRUNE_INTERVAL_MS);
    this.#pruneTimer.unref();
    void this.#tail();
  }

  /**
   * Records a revocation: validated, appended as one record, and once durable added to the list,
   * so it applies to new requests before this call returns; onAdded is called if it revokes
   * something new. `added` is false when the list already revoked everything the entry does.
   * Nothing is written when the entry is refused (invalid, expired, outliving the topic's
   * retention, or the list full).
   */
  async revoke(entry: RevocationEntry): Promise<{ added: boolean }> {
    if (this.#phase !== 'open') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    const valid = validateRevocationEntry(entry);
    const now = this.#clock();
    if (valid.until <= now) throw invalid('until has passed: the entry would revoke no token that is still valid');
    if (this.#topicRetentionMs !== null && valid.until > now + this.#topicRetentionMs) {
      throw invalid(
        `until lies beyond the ${this.#topicRetentionMs} ms retention of ${REVOCATIONS_TOPIC}: the record would age out while still needed`,
      );
    }
    const value = encodeEntry(valid);
    if (value.length > REVOCATION_RECORD_MAX_BYTES) throw invalid(`the entry encodes to more than ${REVOCATION_RECORD_MAX_BYTES} bytes`);
    this.#list.prune(now);
    // Refuse before writing anything: a full list would apply a durable entry nowhere.
    const fresh = this.#list.wouldAdd(valid);
    const key = Buffer.from(valid.kind === 'token' ? valid.jti : valid.principal, 'utf8');
    await this.#store.append(REVOCATIONS_TOPIC, PARTITION, { records: encodeRecords([{ key, value }]) });
    // The tail may have applied the record already (and told onAdded); then add() returns false.
    if (this.#list.add(valid)) this.#notify([valid]);
    return { added: fresh };
  }

  /** Stops the tail and the prune timer; the list keeps its entries. */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#abort.abort(new Error('revocation log closed'));
    if (this.#pruneTimer !== null) clearInterval(this.#pruneTimer);
    this.#pruneTimer = null;
  }

  get #closed(): boolean {
    return this.#phase === 'closed';
  }

  async #ensureTopic(): Promise<TopicDescription> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store.describeTopic(REVOCATIONS_TOPIC);
      } catch (err) {
        if (!isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND')) throw err;
      }
      try {
        return await this.#store.createTopic(REVOCATIONS_TOPIC, topicConfig(this.#retentionMs));
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
        await this.#store.waitForData(REVOCATIONS_TOPIC, PARTITION, this.#offset, signal);
        await this.#catchUp({ notify: true });
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        if (this.#closed) return;
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

  /**
   * Applies every record from #offset to the high watermark. Skips (and reports) what cannot be
   * applied: malformed records, a range the store quarantined as corrupted, records retention
   * removed. Rethrows a full list, having stopped at the record that did not fit, so the tail
   * retries it (in order) once entries expire.
   */
  async #catchUp(options: { readonly notify: boolean }): Promise<void> {
    for (;;) {
      let result;
      try {
        result = await this.#store.read(REVOCATIONS_TOPIC, PARTITION, this.#offset, { maxBytes: READ_MAX_BYTES });
      } catch (err) {
        if (this.#closed) return;
        if (!(await this.#skipUnreadable(err))) throw err;
        continue;
      }
      if (this.#closed || result.batches.length === 0) return;
      const added: RevocationEntry[] = [];
      try {
        for (const batch of result.batches) this.#applyBatch(batch, added);
      } finally {
        if (options.notify) this.#notify(added);
      }
      this.#offset = Math.max(this.#offset, result.nextOffset);
    }
  }

  #applyBatch(batch: Buffer, added: RevocationEntry[]): void {
    let records: LogRecord[];
    try {
      records = decodeRecords(batch);
    } catch (err) {
      const header = decodeBatchHeader(batch);
      const start = header?.baseOffset ?? this.#offset;
      this.#report(malformedRecord(start, err));
      if (header !== null) this.#offset = Math.max(this.#offset, header.baseOffset + header.recordCount);
      return;
    }
    for (const record of records) {
      if (record.offset < this.#offset) continue; // a batch may start before the offset asked for
      this.#apply(record, added);
      this.#offset = record.offset + 1;
    }
  }

  #apply(record: LogRecord, added: RevocationEntry[]): void {
    let entry: RevocationEntry;
    try {
      entry = decodeEntry(record.value);
    } catch (err) {
      this.#report(malformedRecord(record.offset, err));
      return;
    }
    const now = this.#clock();
    if (entry.until <= now) return; // no token it revokes can still be valid
    let fresh: boolean;
    try {
      fresh = this.#list.add(entry);
    } catch (err) {
      if (!isSealbusError(err, 'SEALBUS_ERR_TOKEN_REVOCATIONS_FULL')) throw err;
      this.#list.prune(now);
      fresh = this.#list.add(entry);
    }
    if (fresh) added.push(entry);
  }

  /**
   * Moves past offsets the store cannot serve: a quarantined corrupted range, records retention
   * deleted, or a topic recreated under us (replayed from its start; adding is idempotent).
   * Returns false when the error is not one of those.
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
      const state = (await this.#store.describeTopic(REVOCATIONS_TOPIC)).partitions[PARTITION];
      if (state === undefined) return false;
      if (this.#offset >= state.logStartOffset && this.#offset <= state.highWatermark) return true; // moved meanwhile: read again
      this.#report(err);
      this.#offset = state.logStartOffset;
      return true;
    }
    return false;
  }

  #notify(entries: readonly RevocationEntry[]): void {
    if (entries.length === 0 || this.#onAdded === undefined) return;
    try {
      this.#onAdded(entries);
    } catch (err) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    try {
      this.#onError?.(err);
    } catch {
      // A failing error hook must not stop the tail.
    }
  }
}
