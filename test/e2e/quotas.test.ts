import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Consumer, Producer, webSocketTransport, type ConnectionOptions } from '../../src/client/index.js';
import { DEFAULT_RETRY, backoffDelay, retryDelay } from '../../src/client/backoff.js';
import { SealbusError } from '../../src/errors/index.js';
import { ACTIONS } from '../../src/policy/index.js';
import { FakeBroker } from '../client/helpers/fake-broker.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

describe('Producer told to slow down (retry-after)', () => {
  let broker: FakeBroker;
  afterEach(async () => broker?.close());

  it('waits at least the hint and at most a tenth more; without a hint, the usual backoff', () => {
    const hinted = new SealbusError('SEALBUS_ERR_QUOTA_EXCEEDED', {}, { details: { retryAfterMs: 1000 } });
    expect(retryDelay(hinted, 1, DEFAULT_RETRY, () => 0)).toBe(1000);
    expect(retryDelay(hinted, 1, DEFAULT_RETRY, () => 0.999)).toBe(1100);
    // A hint past an hour is a fault, not a throttle (and would overflow a timer).
    const absurd = new SealbusError('SEALBUS_ERR_QUOTA_EXCEEDED', {}, { details: { retryAfterMs: 2 ** 32 } });
    expect(retryDelay(absurd, 1, DEFAULT_RETRY, () => 0)).toBe(3_600_000);
    const plain = new SealbusError('SEALBUS_ERR_TIMEOUT', { ms: 1, what: 'x' });
    expect(retryDelay(plain, 3, DEFAULT_RETRY, () => 0.5)).toBe(backoffDelay(3, DEFAULT_RETRY, () => 0.5));
  });

  it('waits at least the retry-after before resending, and a refusal uses no attempt', async () => {
    broker = await FakeBroker.start();
    broker.addTopic('orders', 1);
    const RETRY_AFTER = 40;
    let refusals = 0;
    let refusedAt = 0;
    const gaps: number[] = [];
    broker.hook = (frame, client) => {
      if (frame.type !== 'PRODUCE') return undefined;
      if (refusedAt > 0) gaps.push(Date.now() - refusedAt);
      if (refusals >= 8) return undefined;
      refusals++;
      const error = new SealbusError('SEALBUS_ERR_QUOTA_EXCEEDED', { quota: 'produce', limit: '1 bytes', retryAfterMs: RETRY_AFTER });
      client.send({ type: 'ERROR', requestId: frame.requestId, code: error.code, message: error.message, retriable: true, retryAfterMs: RETRY_AFTER });
      refusedAt = Date.now();
      return 'handled';
    };
    // Two attempts only, and a backoff far below the hint: only the hint can explain the waits.
    const producer = new Producer({
      transport: webSocketTransport({ url: broker.url, token: 't', keepAliveMs: 0 }),
      lingerMs: 0,
      maxBatchRecords: 1,
      maxInFlightPerPartition: 1,
      retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
      random: () => 0.5,
    });
    try {
      const sent = await Promise.all(['a', 'b', 'c'].map((value) => producer.send({ topic: 'orders', partition: 0, value })));
      expect(sent.map((m) => m.offset)).toEqual([0, 1, 2]);
    } finally {
      await producer.close();
    }
    expect(refusals).toBe(8);
    expect(broker.records('orders', 0).map((r) => r.value!.toString())).toEqual(['a', 'b', 'c']);
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const gap of gaps.slice(0, 8)) expect(gap).toBeGreaterThanOrEqual(RETRY_AFTER);
  });
});

describe('a producer over its quota, against the broker', () => {
  let t: TestBroker;
  let metered: ConnectionOptions;
  let admin: ConnectionOptions;

  beforeAll(async () => {
    t = await startTestBroker({
      policies: {
        'everything.yaml': `
version: 1
rules:
  - id: everything
    effect: allow
    principals: [{name: admin}, {name: metered}]
    resources: [{topic: ">"}, {group: ">"}, {cluster: true}]
    actions: [${ACTIONS.join(', ')}]
`,
      },
      configure: (config) => ({
        ...config,
        quotas: { ...config.quotas, principals: { metered: { produceBytesPerSecond: 200_000, produceBurstBytes: 50_000 } } },
      }),
    });
    const user = await t.client('metered');
    admin = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token };
    metered = { url: t.url, ca: t.ca, cert: user.cert, key: user.key, token: user.token };
    expect((await t.request('POST', '/v1/topics', { body: { name: 'metered.e2e', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('still delivers everything, slower, in order, with no loss and no duplicate', async () => {
    const COUNT = 300;
    const value = (i: number): string => `${String(i).padStart(5, '0')}-${'x'.repeat(2000)}`;
    const producer = new Producer({ connection: metered, maxBatchBytes: 16_384, lingerMs: 2 });
    const started = Date.now();
    const sent = await Promise.all(Array.from({ length: COUNT }, (_, i) => producer.send({ topic: 'metered.e2e', value: value(i) })));
    const elapsed = Date.now() - started;
    await producer.close();

    expect(sent.map((m) => m.offset)).toEqual(sent.map((_, i) => i));
    // About 600 kB at 200 kB/s after a 50 kB burst: well over two seconds; refused batches on the way.
    expect(elapsed).toBeGreaterThan(2000);
    expect(t.broker.limits.stats().quotas.refused.produce).toBeGreaterThan(0);

    const consumer = new Consumer({ connection: admin });
    consumer.assign([{ topic: 'metered.e2e', partition: 0, start: 'earliest' }]);
    const received: string[] = [];
    for await (const record of consumer) {
      received.push(record.value!.toString());
      if (received.length === COUNT) break;
    }
    await consumer.close();
    expect(received).toEqual(Array.from({ length: COUNT }, (_, i) => value(i)));
    const end = await t.request('GET', '/v1/topics/metered.e2e');
    expect(JSON.stringify(end.body)).toContain(`"highWatermark":${COUNT}`);
  });
});
