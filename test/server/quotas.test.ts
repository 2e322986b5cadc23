import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/index.js';
import type { SealbusConfig } from '../../src/config/index.js';
import { QuotaBook, TokenBucket, addressKey } from '../../src/server/limits/index.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

function quotas(input: object): SealbusConfig['quotas'] {
  return configFromObject({ tls: { cert: 'c', key: 'k', ca: 'a' }, store: { dir: 'd' }, quotas: input }, 'test', '/tmp').quotas;
}

describe('TokenBucket', () => {
  it('admits while not in debt, lets a cost larger than the burst through once, then waits it off at the rate', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1000, 500, clock.now());
    expect(bucket.waitMs(clock.now())).toBe(0);
    bucket.charge(2500, clock.now());
    expect(bucket.balance(clock.now())).toBe(-2000);
    expect(bucket.waitMs(clock.now())).toBe(2000);
    clock.advance(1500);
    expect(bucket.waitMs(clock.now())).toBe(500);
    clock.advance(500);
    expect(bucket.waitMs(clock.now())).toBe(0);
    clock.advance(60_000);
    expect(bucket.balance(clock.now())).toBe(500);
    expect(bucket.isFull(clock.now())).toBe(true);
  });

  it('forgives a debt beyond maxDebt, and treats a clock going back as no time passed', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 10, clock.now());
    for (let i = 0; i < 1000; i++) bucket.charge(1, clock.now(), 10);
    expect(bucket.balance(clock.now())).toBe(-10);
    clock.advance(-5000);
    expect(bucket.balance(clock.now())).toBe(-10);
    clock.advance(1000);
    expect(bucket.balance(clock.now())).toBe(0);
  });
});

describe('QuotaBook', () => {
  it('refuses requests past the rate with SEALBUS_ERR_QUOTA_EXCEEDED, naming the quota and the wait, and admits them again once paid', () => {
    const clock = manualClock();
    const book = new QuotaBook(quotas({ default: { requestsPerSecond: 10 } }), clock.now);
    const answers = Array.from({ length: 11 }, () => book.admitRequest('alice'));
    expect(answers.every((a) => a === null)).toBe(true);
    const refused = book.admitRequest('alice')!;
    expect(refused.code).toBe('SEALBUS_ERR_QUOTA_EXCEEDED');
    expect(refused.status).toBe(429);
    expect(refused.retriable).toBe(true);
    expect(refused.details).toEqual({ quota: 'requests', retryAfterMs: 200 });
    expect(refused.message).toBe('The requests quota (10 requests per second) is exceeded; retry after 200 ms');
    // Another principal has its own bucket.
    expect(book.admitRequest('bob')).toBeNull();
    clock.advance(200);
    expect(book.admitRequest('alice')).toBeNull();
    expect(book.stats().refused).toEqual({ produce: 0, consume: 0, requests: 1 });
  });

  it('keeps refusing a client that ignores the retry-after, but forgives it one burst after it stops', () => {
    const clock = manualClock();
    const book = new QuotaBook(quotas({ default: { requestsPerSecond: 100, requestBurst: 100 } }), clock.now);
    for (let i = 0; i < 10_000; i++) book.admitRequest('flood');
    expect(book.stats().refused.requests).toBeGreaterThan(9_800);
    const wait = book.admitRequest('flood')!.details!['retryAfterMs'] as number;
    expect(wait).toBeLessThanOrEqual(1000);
    clock.advance(wait);
    expect(book.admitRequest('flood')).toBeNull();
  });

  it('charges produce bytes per batch: a batch is admitted while the quota is not in debt, the next waits the debt off', () => {
    const clock = manualClock();
    const book = new QuotaBook(quotas({ default: { produceBytesPerSecond: 1_000_000, produceBurstBytes: 100_000 } }), clock.now);
    expect(book.admitProduce('p', 400_000)).toBeNull();
    const refused = book.admitProduce('p', 1)!;
    expect(refused.details).toEqual({ quota: 'produce', retryAfterMs: 300 });
    expect(refused.message).toContain('1000000 bytes per second');
    clock.advance(299);
    expect(book.admitProduce('p', 1)?.code).toBe('SEALBUS_ERR_QUOTA_EXCEEDED');
    clock.advance(1);
    expect(book.admitProduce('p', 1)).toBeNull();
  });

  it('delays consumers instead of refusing them: chargeConsume returns the wait and counts it', () => {
    const clock = manualClock();
    const book = new QuotaBook(quotas({ default: { consumeBytesPerSecond: 1000, consumeBurstBytes: 1000 } }), clock.now);
    expect(book.chargeConsume('c', 1000)).toBe(0);
    expect(book.chargeConsume('c', 500)).toBe(500);
    expect(book.stats()).toMatchObject({ throttledDeliveries: 1, throttledMs: 500, consumedBytes: 1500 });
    // A fetch over HTTP is refused while the consume quota is in debt.
    expect(book.admitFetch('c')?.details).toEqual({ quota: 'consume', retryAfterMs: 500 });
  });

  it('merges per-principal overrides over the default, key by key; null is no limit', () => {
    const clock = manualClock();
    const book = new QuotaBook(
      quotas({ default: { requestsPerSecond: 5 }, principals: { batch: { requestsPerSecond: null }, slow: { produceBytesPerSecond: 10 } } }),
      clock.now,
    );
    for (let i = 0; i < 10_000; i++) expect(book.admitRequest('batch')).toBeNull();
    // `slow` keeps the default request rate and gets its own produce rate, burst one second of it.
    expect(book.admitProduce('slow', 10)).toBeNull();
    expect(book.admitProduce('slow', 10)).toBeNull();
    expect(book.admitProduce('slow', 10)?.details).toEqual({ quota: 'produce', retryAfterMs: 1000 });
    // Three requests so far: the default burst of 5 leaves room for three more (the last into debt).
    expect([1, 2, 3, 4].map(() => book.admitRequest('slow')?.details?.['quota'] ?? 'admitted')).toEqual(['admitted', 'admitted', 'admitted', 'requests']);
    // Prototype keys are principal names like any other, never the object's own properties.
    expect(book.admitRequest('__proto__')).toBeNull();
    expect(book.admitRequest('constructor')).toBeNull();
  });

  it('has generous defaults: 150k records/s of 1 KiB in batches of 500 is never throttled', () => {
    const clock = manualClock();
    const book = new QuotaBook(quotas({}), clock.now);
    for (let second = 0; second < 5; second++) {
      for (let batch = 0; batch < 300; batch++) {
        expect(book.admitProduce('bench', 500 * 1024)).toBeNull();
        clock.advance(1000 / 300);
      }
    }
    expect(book.stats().refused).toEqual({ produce: 0, consume: 0, requests: 0 });
  });

  it('holds no memory for idle principals, and at most maxTrackedPrincipals ever', () => {
    const clock = manualClock();
    const book = new QuotaBook(quotas({ default: { requestsPerSecond: 100 }, maxTrackedPrincipals: 100 }), clock.now);
    for (let i = 0; i < 50; i++) book.admitRequest(`p${i}`);
    expect(book.stats().trackedPrincipals).toBe(50);
    clock.advance(1000);
    book.sweep();
    expect(book.stats().trackedPrincipals).toBe(0);
    for (let i = 0; i < 10_000; i++) book.admitRequest(`q${i}`);
    expect(book.stats().trackedPrincipals).toBeLessThanOrEqual(100);
  });
});

describe('addressKey', () => {
  it('counts IPv4 (also mapped) per address and IPv6 per /64', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
