import { displayValue } from '../auth/text.js';
import { validateRevocationEntry, type RevocationEntry, type RevocationList } from '../auth/revocation-list.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';
import { encodeRecords, type LogRecord } from '../log/record-batch.js';
import type { LogStore, TopicConfigInput } from '../log/types.js';
import { InternalTopic, SkipRecord } from '../log/internal-topic.js';

/**
 * The internal topic that holds revocations. The `__` prefix is reserved: the Broker refuses it to
 * clients, the store accepts it from the broker itself.
 */
export const REVOCATIONS_TOPIC = '__sealbus.revocations';
/** Largest record value written or accepted back (a real entry is a few hundred bytes). */
export const REVOCATION_RECORD_MAX_BYTES = 4096;

const RECORD_VERSION = 1;
const PRUNE_INTERVAL_MS = 60_000;
const READ_MAX_BYTES = 64 * 1024;

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

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason }, { details: { reason } });
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
    parsed = parseJson(value, 'revocation record');
  } catch (err) {
    throw invalid(`the record value ${jsonLimitReason(err) ?? 'is not JSON'}`);
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
 * fsync always). On open the whole topic is replayed into the list; then a tail follows the topic
 * (src/broker/internal-topic.ts) and adds what other brokers write.
 *
 * Close this before the store.
 */
export class RevocationLog {
  readonly #topic: InternalTopic;
  readonly #list: RevocationList;
  readonly #clock: () => number;
  readonly #onAdded: ((entries: readonly RevocationEntry[]) => void) | undefined;
  readonly #onError: ((err: unknown) => void) | undefined;
  /** Entries newly applied by the current read, told to onAdded after it (not during the replay). */
  #added: RevocationEntry[] = [];
  #notifying = false;
  /** Retention of the topic as it exists (another broker may have created it): bounds `until`. */
  #topicRetentionMs: number | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;

  constructor(options: RevocationLogOptions) {
    if (!Number.isSafeInteger(options.retentionMs) || options.retentionMs < 1) throw new RangeError('retentionMs must be a positive integer');
    this.#list = options.list;
    this.#clock = options.clock ?? Date.now;
    this.#onAdded = options.onAdded;
    this.#onError = options.onError;
    this.#topic = new InternalTopic({
      store: options.store,
      topic: REVOCATIONS_TOPIC,
      config: topicConfig(options.retentionMs),
      readMaxBytes: READ_MAX_BYTES,
      apply: (record) => this.#apply(record),
      afterRead: () => {
        const added = this.#added;
        this.#added = [];
        if (this.#notifying) this.#notify(added);
      },
      report: (err) => this.#onError?.(err),
    });
  }

  /**
   * Creates the topic if missing, replays it into the list, prunes, then starts the tail and the
   * prune timer. Fails (fail closed) when the store cannot be read, or when the live entries do not
   * fit in the list (SEALBUS_ERR_TOKEN_REVOCATIONS_FULL): a broker must not run without them.
   * Entries replayed here are not passed to onAdded: no session exists before the broker serves.
   */
  async open(): Promise<void> {
    const description = await this.#topic.open();
    if (!this.#topic.isOpen) return; // closed while opening
    this.#topicRetentionMs = description.config.retentionMs;
    this.#list.prune(this.#clock());
    this.#notifying = true;
    this.#pruneTimer = setInterval(() => this.#list.prune(this.#clock()), PRUNE_INTERVAL_MS);
    this.#pruneTimer.unref();
    this.#topic.follow();
  }

  /**
   * Records a revocation: validated, appended as one record, and once durable added to the list,
   * so it applies to new requests before this call returns; onAdded is called if it revokes
   * something new. `added` is false when the list already revoked everything the entry does.
   * Nothing is written when the entry is refused (invalid, expired, outliving the topic's
   * retention, or the list full).
   */
  async revoke(entry: RevocationEntry): Promise<{ added: boolean }> {
    if (!this.#topic.isOpen) throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
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
    // Applied (and told to onAdded) through the same path as other brokers' entries, before this returns.
    await this.#topic.append(encodeRecords([{ key, value }]));
    return { added: fresh };
  }

  /** Stops the tail and the prune timer; the list keeps its entries. */
  close(): void {
    this.#topic.close();
    if (this.#pruneTimer !== null) clearInterval(this.#pruneTimer);
    this.#pruneTimer = null;
  }

  #apply(record: LogRecord): void {
    let entry: RevocationEntry;
    try {
      entry = decodeEntry(record.value);
    } catch (err) {
      throw new SkipRecord(malformedRecord(record.offset, err));
    }
    const now = this.#clock();
    if (entry.until <= now) return; // no token it revokes can still be valid
    let fresh: boolean;
    try {
      fresh = this.#list.add(entry);
    } catch (err) {
      // A full list stops here (thrown on): this record is applied again, in order, once entries expire.
      if (!isSealbusError(err, 'SEALBUS_ERR_TOKEN_REVOCATIONS_FULL')) throw err;
      this.#list.prune(now);
      fresh = this.#list.add(entry);
    }
    if (fresh) this.#added.push(entry);
  }

  #notify(entries: readonly RevocationEntry[]): void {
    if (entries.length === 0 || this.#onAdded === undefined) return;
    try {
      this.#onAdded(entries);
    } catch (err) {
      this.#onError?.(err);
    }
  }
}
