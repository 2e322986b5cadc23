import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Consumer, webSocketTransport, type ConsumedRecord, type ConsumerOptions } from '../../src/client/index.js';
import { SealbusError } from '../../src/errors/index.js';
import { FakeBroker } from './helpers/fake-broker.js';

let broker: FakeBroker;
const consumers: Consumer[] = [];

beforeEach(async () => {
  broker = await FakeBroker.start();
});

afterEach(async () => {
  await Promise.allSettled(consumers.splice(0).map((consumer) => consumer.close()));
  await broker.close();
});

function consumer(options: Partial<ConsumerOptions> = {}): Consumer {
  const created = new Consumer({ transport: webSocketTransport({ url: broker.url, token: 't', keepAliveMs: 0 }), ...options });
  consumers.push(created);
  return created;
}

/** Reads `n` records from the consumer's iterator (without closing it). */
async function take(c: Consumer, n: number): Promise<ConsumedRecord[]> {
  const iterator = c[Symbol.asyncIterator]();
  const records: ConsumedRecord[] = [];
  while (records.length < n) {
    const next = await iterator.next();
    if (next.done === true) break;
    records.push(next.value);
  }
  return records;
}

const valuesOf = (records: readonly ConsumedRecord[]): string[] => records.map((r) => r.value?.toString() ?? '<null>');

describe('Consumer', () => {
  it('yields records with their topic, partition, offset, timestamp, key, value and headers', async () => {
    broker.append('orders', 1, [{ key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ name: 'h', value: null }] }, 'second']);
    const c = consumer();
    c.assign([{ topic: 'orders', partition: 1, start: 'earliest' }]);
    const [first, second] = await take(c, 2);
    expect(first).toEqual({
      topic: 'orders',
      partition: 1,
      offset: 0,
      timestamp: 1_700_000_000_000,
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      headers: [{ name: 'h', value: null }],
    });
    expect(second).toMatchObject({ offset: 1, key: null, value: Buffer.from('second') });
  });

  it('skips the records below the requested offset at the start of the first batch', async () => {
    broker.append('orders', 0, ['a', 'b', 'c', 'd']);
    broker.append('orders', 0, ['e']);
    const c = consumer();
    c.assign([{ topic: 'orders', partition: 0, start: { offset: 2 } }]);
    const records = await take(c, 3);
    expect(records.map((r) => r.offset)).toEqual([2, 3, 4]);
    expect(valuesOf(records)).toEqual(['c', 'd', 'e']);
    expect(broker.frames('SUBSCRIBE')[0]!.start).toEqual({ kind: 'offset', offset: 2 });
  });

  it('sends the start position as asked', async () => {
    const c = consumer();
    c.assign([
      { topic: 'a', partition: 0 },
      { topic: 'b', partition: 0, start: 'earliest' },
      { topic: 'c', partition: 0, start: { timestamp: new Date(1_700_000_000_005) } },
    ]);
    await broker.waitForFrame((f) => f.type === 'SUBSCRIBE' && f.topic === 'c');
    expect(broker.frames('SUBSCRIBE').map((f) => [f.topic, f.start])).toEqual([
      ['a', { kind: 'latest' }],
      ['b', { kind: 'earliest' }],
      ['c', { kind: 'timestamp', timestamp: 1_700_000_000_005 }],
    ]);
  });

  it('grants credit as the application consumes, never holding more than its window', async () => {
    const batches = ['1', '2', '3', '4', '5', '6'].map((v) => broker.append('orders', 0, [v.repeat(100)]));
    const batchBytes = batches[0]!.length;
    const c = consumer({ windowBytes: 2 * batchBytes });
    c.assign([{ topic: 'orders', partition: 0, start: 'earliest' }]);
    await broker.waitForFrame((f) => f.type === 'SUBSCRIBE');
    const subscription = broker.subscriptions[0]!;
    expect(subscription.frame.creditBytes).toBe(2 * batchBytes);
    expect(subscription.sent).toHaveLength(2); // the window is full: the broker waits

    const records = await take(c, 6);
    expect(valuesOf(records).map((v) => v[0])).toEqual(['1', '2', '3', '4', '5', '6']);
    const credits = broker.frames('CREDIT').map((f) => f.creditBytes);
    // Each finished batch (half a window, over the quarter-window threshold) is returned at once.
    expect(credits.slice(0, 4)).toEqual([batchBytes, batchBytes, batchBytes, batchBytes]);
    expect(subscription.lowestCredit).toBeGreaterThanOrEqual(0);
  });

  it('resubscribes after a lost connection from where it stopped, without repeats or gaps', async () => {
    broker.append('orders', 0, ['a', 'b']);
    const c = consumer({ retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 2 } });
    c.assign([{ topic: 'orders', partition: 0, start: 'earliest' }]);
    expect(valuesOf(await take(c, 2))).toEqual(['a', 'b']);
    broker.clients[0]!.socket.terminate();
    await broker.waitForConnection(2);
    broker.append('orders', 0, ['c']);
    expect(valuesOf(await take(c, 1))).toEqual(['c']);
    expect(broker.frames('SUBSCRIBE').map((f) => f.start)).toEqual([{ kind: 'earliest' }, { kind: 'offset', offset: 2 }]);
    expect(c.position('orders', 0)).toBe(3);
  });

  it('throws RECORDS_CORRUPTED and delivers nothing of a batch that fails its CRC', async () => {
    broker.append('orders', 0, ['good']);
    const bad = broker.append('orders', 0, ['evil']);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0x01; // flip a bit of the value
    const c = consumer();
    c.assign([{ topic: 'orders', partition: 0, start: 'earliest' }]);
    const iterator = c[Symbol.asyncIterator]();
    expect(valuesOf([(await iterator.next()).value as ConsumedRecord])).toEqual(['good']);
    const error = await iterator.next().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SealbusError);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_RECORDS_CORRUPTED' });
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    await expect(c.closed()).resolves.toMatchObject({ code: 'SEALBUS_ERR_RECORDS_CORRUPTED' });
  });

  it('ends with the error of a non-retriable SUBSCRIPTION_ERROR, and resubscribes after a retriable one', async () => {
    let refused = 0;
    broker.hook = (frame, client) => {
      if (frame.type !== 'SUBSCRIBE') return undefined;
      refused++;
      const error =
        frame.topic === 'secret'
          ? new SealbusError('SEALBUS_ERR_FORBIDDEN', { principal: 'p', action: 'consume', resource: 'secret' })
          : new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'starting' });
      if (frame.topic === 'orders' && refused > 1) return undefined; // the retry is served
      client.send({ type: 'SUBSCRIPTION_ERROR', subscriptionId: frame.subscriptionId, code: error.code, message: error.message, retriable: error.retriable });
      return 'handled';
    };
    broker.append('orders', 0, ['x']);
    const retried = consumer({ retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    retried.assign([{ topic: 'orders', partition: 0, start: 'earliest' }]);
    expect(valuesOf(await take(retried, 1))).toEqual(['x']);

    const refusedConsumer = consumer();
    refusedConsumer.assign([{ topic: 'secret', partition: 0 }]);
    const error = await take(refusedConsumer, 1).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN', retriable: false });
  });

  it('ends the iteration on close(), and closes when the loop is left', async () => {
    broker.append('orders', 0, ['a', 'b']);
    const c = consumer();
    c.assign([{ topic: 'orders', partition: 0, start: 'earliest' }]);
    for await (const record of c) {
      expect(record.offset).toBe(0);
      break;
    }
    await expect(c.closed()).resolves.toBeNull();

    const idle = consumer();
    idle.assign([{ topic: 'orders', partition: 1 }]);
    const iterator = idle[Symbol.asyncIterator]();
    const pending = iterator.next();
    await idle.close();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
  });

  it('refuses an invalid topic name and a partition assigned twice', () => {
    const c = consumer();
    expect(() => c.assign([{ topic: 'a/b', partition: 0 }])).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_TOPIC_NAME_INVALID' }));
    c.assign([{ topic: 'ok', partition: 0 }]);
    expect(() => c.assign([{ topic: 'ok', partition: 0 }])).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_REQUEST_INVALID' }));
  });
});
