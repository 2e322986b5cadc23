import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, isSealbusError, type ConnectionOptions, type ConsumedRecord } from '../../src/client/index.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** The SDK against a real broker: mTLS, bound token, default fsync, WebSocket produce and consume. */
describe('SDK against the broker', () => {
  let t: TestBroker;
  let connection: ConnectionOptions;
  beforeAll(async () => {
    t = await startTestBroker();
    connection = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: () => t.admin.token };
  });
  afterAll(async () => t?.close());

  it('produces keyed records durably and consumes them back in order, per partition', async () => {
    const admin = new Admin({ connection });
    await admin.createTopic({ name: 'sdk.orders', partitions: 3 });
    admin.close();

    const producer = new Producer({ connection, lingerMs: 2 });
    const sent = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => producer.send({ topic: 'sdk.orders', key: `customer-${i % 17}`, value: `order-${i}` })),
    );
    await producer.close();
    // A key always lands on one partition, and offsets within a partition are dense.
    const partitionOfKey = new Map<string, number>();
    sent.forEach((meta, i) => {
      const key = `customer-${i % 17}`;
      expect(partitionOfKey.get(key) ?? meta.partition).toBe(meta.partition);
      partitionOfKey.set(key, meta.partition);
    });
    for (const partition of [0, 1, 2]) {
      const offsets = sent.filter((m) => m.partition === partition).map((m) => m.offset).sort((a, b) => a - b);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }

    const consumer = new Consumer({ connection });
    consumer.assign([0, 1, 2].map((partition) => ({ topic: 'sdk.orders', partition, start: 'earliest' as const })));
    const received: ConsumedRecord[] = [];
    for await (const record of consumer) {
      received.push(record);
      if (received.length === 2000) break;
    }
    await consumer.close();
    const byValue = new Map(received.map((r) => [r.value!.toString(), r]));
    expect(byValue.size).toBe(2000);
    sent.forEach((meta, i) => {
      const record = byValue.get(`order-${i}`)!;
      expect([record.partition, record.offset]).toEqual([meta.partition, meta.offset]);
      expect(record.key!.toString()).toBe(`customer-${i % 17}`);
    });
    for (const partition of [0, 1, 2]) {
      const offsets = received.filter((r) => r.partition === partition).map((r) => r.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  });

  it('surfaces the catalog code of a refused request as a typed, non-retriable error', async () => {
    const carol = await t.client('carol');
    const producer = new Producer({ connection: { ...connection, cert: carol.cert, key: carol.key, token: carol.token }, retry: { maxAttempts: 1 } });
    const refused = await producer.send({ topic: 'sdk.orders', value: 'x' }).catch((err: unknown) => err);
    expect(isSealbusError(refused, 'SEALBUS_ERR_FORBIDDEN')).toBe(true);
    expect((refused as { retriable: boolean }).retriable).toBe(false);
    await producer.close();
  });
});
