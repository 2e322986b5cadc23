/**
 * Quotas per principal: produce bytes, consume bytes and requests per second, each a token bucket
 * (token-bucket.ts) shared by every connection of the principal, HTTP and WebSocket alike. One map
 * lookup and a few arithmetic operations per request or batch, never per record; nothing is
 * allocated unless a request is refused.
 *
 * Memory is bounded: a principal's buckets are dropped once they are full again (an idle principal
 * is then the same as a new one), and at most `maxTrackedPrincipals` are kept; past that the oldest
 * are dropped, which can only ever give them a fresh burst, never refuse them wrongly.
 */
import type { QuotaSettings, SealbusConfig } from '../../config/types.js';
import { SealbusError } from '../../errors/index.js';
import { TokenBucket } from './token-bucket.js';

export type QuotaName = 'produce' | 'consume' | 'requests';

interface PrincipalBuckets {
  readonly produce: TokenBucket | null;
  readonly consume: TokenBucket | null;
  readonly requests: TokenBucket | null;
}

export interface QuotaStats {
  /** Principals whose buckets are held now. */
  readonly trackedPrincipals: number;
  /** Requests refused with SEALBUS_ERR_QUOTA_EXCEEDED, by the quota that refused them. */
  readonly refused: Readonly<Record<QuotaName, number>>;
  /** WebSocket deliveries held back by the consume quota, and the milliseconds they waited in all. */
  readonly throttledDeliveries: number;
  readonly throttledMs: number;
  /** Bytes delivered to consumers (WebSocket pushes and HTTP fetches), quota or not. */
  readonly consumedBytes: number;
}

const UNITS: Record<QuotaName, string> = { produce: 'bytes', consume: 'bytes', requests: 'requests' };

export class QuotaBook {
  readonly #settings: SealbusConfig['quotas'];
  readonly #clock: () => number;
  readonly #principals = new Map<string, PrincipalBuckets>();
  readonly #refused: Record<QuotaName, number> = { produce: 0, consume: 0, requests: 0 };
  #throttledDeliveries = 0;
  #throttledMs = 0;
  #consumedBytes = 0;
  /** Called on every refusal (metrics); never given the principal's credentials. */
  onRefused: (quota: QuotaName) => void = () => {};

  constructor(settings: SealbusConfig['quotas'], clock: () => number) {
    this.#settings = settings;
    this.#clock = clock;
  }

  /**
   * A request that may be refused (an HTTP request, a PRODUCE or SUBSCRIBE frame): null when
   * admitted, else the refusal. A refused request still counts against the request rate, so a
   * client that ignores the retry-after stays refused rather than being answered faster.
   */
  admitRequest(principal: string): SealbusError | null {
    return this.#admitRequest(this.#bucketsOf(principal), this.#clock());
  }

  /** A batch of `bytes` produced, which is also one request: null when admitted, else the refusal. */
  admitProduce(principal: string, bytes: number): SealbusError | null {
    const buckets = this.#bucketsOf(principal);
    const now = this.#clock();
    const refused = this.#admitRequest(buckets, now);
    if (refused !== null || buckets.produce === null) return refused;
    if (buckets.produce.waitMs(now) > 0) return this.#refuse('produce', buckets.produce, now);
    buckets.produce.charge(bytes, now);
    return null;
  }

  /** A fetch (HTTP) is refused while the consume quota is in debt; its bytes are charged once known. */
  admitFetch(principal: string): SealbusError | null {
    const buckets = this.#bucketsOf(principal);
    const now = this.#clock();
    const refused = this.#admitRequest(buckets, now);
    if (refused !== null || buckets.consume === null) return refused;
    return buckets.consume.waitMs(now) > 0 ? this.#refuse('consume', buckets.consume, now) : null;
  }

  /**
   * A request that is never refused (CREDIT, HEARTBEAT, COMMIT: refusing them would stall a
   * consumer or cost it its partitions) still counts, so a flood of them delays the principal's
   * other requests; the debt they can build is at most one burst.
   */
  chargeRequest(principal: string): void {
    const requests = this.#bucketsOf(principal).requests;
    if (requests !== null) requests.charge(1, this.#clock(), requests.burst);
  }

  /** Bytes produced whose size was known only after they were read (an HTTP body without a length). */
  chargeProduce(principal: string, bytes: number): void {
    this.#bucketsOf(principal).produce?.charge(bytes, this.#clock());
  }

  /**
   * Bytes delivered to a consumer. Never refused: returns how long (ms) the next delivery must wait
   * for the quota, 0 when it need not. The debt is bounded by what one read can return.
   */
  chargeConsume(principal: string, bytes: number): number {
    this.#consumedBytes += bytes;
    const consume = this.#bucketsOf(principal).consume;
    if (consume === null) return 0;
    const now = this.#clock();
    consume.charge(bytes, now);
    const wait = consume.waitMs(now);
    if (wait > 0) {
      this.#throttledDeliveries++;
      this.#throttledMs += wait;
    }
    return wait;
  }

  /** Drops the buckets of principals that have been idle long enough to be full again. */
  sweep(): void {
    const now = this.#clock();
    for (const [name, buckets] of this.#principals) {
      if (isIdle(buckets, now)) this.#principals.delete(name);
    }
  }

  stats(): QuotaStats {
    return {
      trackedPrincipals: this.#principals.size,
      refused: { ...this.#refused },
      throttledDeliveries: this.#throttledDeliveries,
      throttledMs: this.#throttledMs,
      consumedBytes: this.#consumedBytes,
    };
  }

  #admitRequest(buckets: PrincipalBuckets, now: number): SealbusError | null {
    const requests = buckets.requests;
    if (requests === null) return null;
    const refused = requests.waitMs(now) > 0;
    // A refused request is charged too, with at most one burst of debt: a flood is forgiven once it stops.
    requests.charge(1, now, refused ? requests.burst : Number.POSITIVE_INFINITY);
    return refused ? this.#refuse('requests', requests, now) : null;
  }

  #refuse(quota: QuotaName, bucket: TokenBucket, now: number): SealbusError {
    const retryAfterMs = bucket.waitMs(now);
    this.#refused[quota]++;
    this.onRefused(quota);
    // A refusal must stay cheap under a flood: its stack trace would be most of its cost, and says nothing.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new SealbusError(
        'SEALBUS_ERR_QUOTA_EXCEEDED',
        { quota, limit: `${bucket.ratePerSecond} ${UNITS[quota]}`, retryAfterMs },
        { details: { quota, retryAfterMs } },
      );
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }

  #bucketsOf(principal: string): PrincipalBuckets {
    const known = this.#principals.get(principal);
    if (known !== undefined) return known;
    if (this.#principals.size >= this.#settings.maxTrackedPrincipals) this.#makeRoom();
    const buckets = this.#create(principal);
    this.#principals.set(principal, buckets);
    return buckets;
  }

  /** Sweeps idle principals; if that frees too little, drops the oldest to 90% of the bound. */
  #makeRoom(): void {
    this.sweep();
    const target = Math.floor(this.#settings.maxTrackedPrincipals * 0.9);
    for (const name of this.#principals.keys()) {
      if (this.#principals.size <= target) break;
      this.#principals.delete(name);
    }
  }

  #create(principal: string): PrincipalBuckets {
    const base = this.#settings.default;
    const own: QuotaSettings | undefined = Object.hasOwn(this.#settings.principals, principal) ? this.#settings.principals[principal] : undefined;
    const pick = (key: keyof QuotaSettings): number | null => {
      const value = own?.[key];
      return value !== undefined ? value : (base[key] ?? null);
    };
    const now = this.#clock();
    const bucket = (rate: number | null, burst: number | null): TokenBucket | null => (rate === null ? null : new TokenBucket(rate, burst ?? rate, now));
    return {
      produce: bucket(pick('produceBytesPerSecond'), pick('produceBurstBytes')),
      consume: bucket(pick('consumeBytesPerSecond'), pick('consumeBurstBytes')),
      requests: bucket(pick('requestsPerSecond'), pick('requestBurst')),
    };
  }
}

function isIdle(buckets: PrincipalBuckets, now: number): boolean {
  return (
    (buckets.produce === null || buckets.produce.isFull(now)) &&
    (buckets.consume === null || buckets.consume.isFull(now)) &&
    (buckets.requests === null || buckets.requests.isFull(now))
  );
}
