/**
 * One writer per audit chain on a shared store. Brokers announce themselves in the internal topic
 * `__sealbus.brokers`: a `hold` record (broker id, a random instance id, the writer's clock, its
 * audit public key) when they start and every `ttlMs / 3` after, a `release` when they stop.
 * Every broker applies the records in log order with the same rule, so all agree on who holds each
 * broker id: a hold wins when nobody holds the id, when its holder released it, when it comes from
 * the holder itself, or when the holder's last hold is more than `ttlMs` older; otherwise it is
 * ignored. A starting broker writes its hold, reads up to it, and refuses to start when it did not
 * win. The audit writer asks `assertHeld()` before each write, so an instance that lost its id
 * (paused longer than the TTL, and replaced) stops writing to the chain instead of forking it.
 *
 * The `at` of a record is its writer's clock: brokers' clocks must agree to well within `ttlMs`.
 */
import { randomUUID } from 'node:crypto';
import { SealbusError } from '../errors/index.js';
import { parseJson } from '../json/safe-json.js';
import { InternalTopic, SkipRecord, internalTopicConfig } from '../log/internal-topic.js';
import { encodeRecords, type LogRecord } from '../log/record-batch.js';
import type { LogStore } from '../log/types.js';
import type { AuditPublicJwk } from './checkpoint.js';

export const BROKERS_TOPIC = '__sealbus.brokers';
/** A broker whose last hold is older than this has lost its id. */
export const BROKER_LEASE_TTL_MS = 15_000;
const RECORD_MAX_BYTES = 8 * 1024;

export interface BrokerLeaseOptions {
  readonly store: LogStore;
  readonly brokerId: string;
  /** Published with each hold: what `GET /v1/audit/keys?broker=` answers for this broker. */
  readonly auditKey: AuditPublicJwk;
  readonly clock?: () => number;
  /** Tests only: every broker on a store must use the same value. */
  readonly ttlMs?: number;
  /** Unreadable records, failed renewals. Never fatal by itself. */
  readonly report: (err: unknown) => void;
}

interface Holder {
  readonly instance: string;
  lastSeen: number;
  released: boolean;
  key: AuditPublicJwk | null;
}

interface LeaseRecord {
  readonly op: 'hold' | 'release';
  readonly brokerId: string;
  readonly instance: string;
  readonly at: number;
  readonly key: AuditPublicJwk | null;
}

function parseRecord(record: LogRecord): LeaseRecord {
  const value = record.value === null ? null : (parseJson(record.value, 'broker record') as Record<string, unknown>);
  const ok =
    value !== null &&
    typeof value === 'object' &&
    value['v'] === 1 &&
    (value['op'] === 'hold' || value['op'] === 'release') &&
    typeof value['brokerId'] === 'string' &&
    typeof value['instance'] === 'string' &&
    typeof value['at'] === 'number' &&
    Number.isSafeInteger(value['at']);
  if (!ok) throw new SkipRecord(new Error(`offset ${record.offset} of ${BROKERS_TOPIC} is not a broker record`));
  const key = value['key'];
  return {
    op: value['op'] as LeaseRecord['op'],
    brokerId: value['brokerId'] as string,
    instance: value['instance'] as string,
    at: value['at'] as number,
    key: typeof key === 'object' && key !== null && !Array.isArray(key) ? (key as AuditPublicJwk) : null,
  };
}

export class BrokerLease {
  readonly brokerId: string;
  /** This run of the broker: a new one at every start. */
  readonly instance = randomUUID();
  readonly #options: BrokerLeaseOptions;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #holders = new Map<string, Holder>();
  readonly #topic: InternalTopic;
  /** When (by this clock) a hold of ours was last confirmed by reading it back. */
  #confirmedAt = 0;
  #renewing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;

  private constructor(options: BrokerLeaseOptions) {
    this.brokerId = options.brokerId;
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? BROKER_LEASE_TTL_MS;
    this.#clock = options.clock ?? Date.now;
    this.#topic = new InternalTopic({
      store: options.store,
      topic: BROKERS_TOPIC,
      // A day of holds is kept: every broker's latest one is always within it.
      config: internalTopicConfig({ segmentBytes: 1024 * 1024, maxRecordBytes: RECORD_MAX_BYTES, maxBatchBytes: 4 * RECORD_MAX_BYTES, retentionMs: 86_400_000 }),
      apply: (record) => this.#apply(parseRecord(record)),
      report: options.report,
    });
  }

  /**
   * Takes the broker id, or throws SEALBUS_ERR_BROKER_ID_IN_USE when another live instance holds
   * it (nothing is written then, unless two started at once and this one lost the race).
   */
  static async acquire(options: BrokerLeaseOptions): Promise<BrokerLease> {
    const lease = new BrokerLease(options);
    try {
      await lease.#topic.open();
      lease.#refuseIfHeldByOther();
      await lease.#hold();
      lease.#refuseIfHeldByOther();
    } catch (err) {
      lease.#topic.close();
      throw err;
    }
    lease.#topic.follow();
    lease.#timer = setInterval(() => void lease.#renew().catch(options.report), Math.max(1, Math.floor(lease.#ttlMs / 3)));
    lease.#timer.unref();
    return lease;
  }

  /**
   * Resolves when this instance holds its id: at once while a hold was confirmed within half the
   * TTL, else after renewing it. Throws SEALBUS_ERR_BROKER_ID_IN_USE once another instance took it.
   */
  assertHeld(): Promise<void> | undefined {
    if (this.#clock() - this.#confirmedAt < this.#ttlMs / 2 && this.#holds()) return undefined;
    return this.#renew();
  }

  /** The broker ids held now (not released, renewed within the TTL by this clock), with their holder and its last hold. */
  liveBrokers(): { brokerId: string; instance: string; lastSeen: number }[] {
    const now = this.#clock();
    const live: { brokerId: string; instance: string; lastSeen: number }[] = [];
    for (const [brokerId, holder] of this.#holders) {
      if (!holder.released && now - holder.lastSeen <= this.#ttlMs) live.push({ brokerId, instance: holder.instance, lastSeen: holder.lastSeen });
    }
    return live;
  }

  /** The audit public key the broker published with its last hold, or null. */
  keyOf(brokerId: string): AuditPublicJwk | null {
    return this.#holders.get(brokerId)?.key ?? null;
  }

  /** Writes a release (so a restart need not wait out the TTL) and stops renewing. Never throws. */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    try {
      await this.#renewing?.catch(() => undefined);
      if (this.#holds()) await this.#topic.append(this.#encode('release'));
    } catch (err) {
      this.#options.report(err);
    } finally {
      this.#topic.close();
    }
  }

  #holds(): boolean {
    const holder = this.#holders.get(this.brokerId);
    return holder !== undefined && !holder.released && holder.instance === this.instance;
  }

  #refuseIfHeldByOther(): void {
    if (this.#holds()) return;
    const holder = this.#holders.get(this.brokerId);
    const now = this.#clock();
    if (holder === undefined || holder.released || now - holder.lastSeen > this.#ttlMs) return;
    throw new SealbusError('SEALBUS_ERR_BROKER_ID_IN_USE', { brokerId: this.brokerId, holder: holder.instance, ageMs: Math.max(0, now - holder.lastSeen) });
  }

  #renew(): Promise<void> {
    this.#renewing ??= (async () => {
      try {
        await this.#hold();
        if (!this.#holds()) this.#refuseIfHeldByOther();
        if (!this.#holds()) throw new SealbusError('SEALBUS_ERR_BROKER_ID_IN_USE', { brokerId: this.brokerId, holder: 'unknown', ageMs: 0 });
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }

  async #hold(): Promise<void> {
    const sentAt = this.#clock();
    await this.#topic.append(this.#encode('hold', sentAt));
    if (this.#holds()) this.#confirmedAt = sentAt;
  }

  #encode(op: LeaseRecord['op'], at = this.#clock()) {
    const value = { v: 1, op, brokerId: this.brokerId, instance: this.instance, at, ...(op === 'hold' && { key: this.#options.auditKey }) };
    return encodeRecords([{ value: Buffer.from(JSON.stringify(value), 'utf8') }]);
  }

  #apply(record: LeaseRecord): void {
    const holder = this.#holders.get(record.brokerId);
    if (record.op === 'release') {
      if (holder?.instance === record.instance) holder.released = true;
      return;
    }
    if (holder !== undefined && holder.instance === record.instance) {
      holder.lastSeen = Math.max(holder.lastSeen, record.at);
      holder.released = false;
      holder.key = record.key ?? holder.key;
      return;
    }
    if (holder === undefined || holder.released || record.at - holder.lastSeen > this.#ttlMs) {
      this.#holders.set(record.brokerId, { instance: record.instance, lastSeen: record.at, released: false, key: record.key });
    }
  }
}
