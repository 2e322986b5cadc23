import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SealbusError } from '../../src/errors/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import { decodeRecords, encodeBatch } from '../../src/log/record-batch.js';
import { Producer, webSocketTransport, type ProducerOptions } from '../../src/client/index.js';
import type { ProduceFrame } from '../../src/protocol/index.js';
import { FakeBroker, errorFrame } from './helpers/fake-broker.js';

let broker: FakeBroker;
const producers: Producer[] = [];

beforeEach(async () => {
  broker = await FakeBroker.start();
  broker.addTopic('orders', 4);
});

afterEach(async () => {
  await Promise.allSettled(producers.splice(0).map((producer) => producer.close()));
  await broker.close();
});

function producer(options: Partial<ProducerOptions> = {}): Producer {
  const created = new Producer({ transport: webSocketTransport({ url: broker.url, token: 'token-1', keepAliveMs: 0 }), ...options });
  producers.push(created);
  return created;
}

function values(topic: string, partition: number): string[] {
  return broker.records(topic, partition).map((record) => record.value?.toString() ?? '<null>');
}

/** The values of a PRODUCE frame's records. */
function producedValues(frame: ProduceFrame): string[] {
  return decodeRecords(encodeBatch({ baseOffset: 0, timestamp: 0 }, frame.records)).map((record) => record.value?.toString() ?? '<null>');
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SealbusError) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('Producer batching', () => {
  it('puts records sent within the linger into one PRODUCE per partition', async () => {
    const p = producer({ lingerMs: 50 });
    const sent = ['a', 'b', 'c'].map((value) => p.send({ topic: 'orders', partition: 2, value }));
    const results = await Promise.all(sent);
    expect(results.map((r) => [r.partition, r.offset])).toEqual([[2, 0], [2, 1], [2, 2]]);
    expect(broker.frames('PRODUCE').map((f) => [f.partition, f.records.count])).toEqual([[2, 3]]);
    expect(values('orders', 2)).toEqual(['a', 'b', 'c']);
  });

  it('closes a batch at maxBatchRecords without waiting for the linger', async () => {
    const p = producer({ lingerMs: 3_600_000, maxBatchRecords: 2 });
    const sent = ['1', '2', '3', '4'].map((value) => p.send({ topic: 'orders', partition: 0, value }));
    await Promise.all(sent); // would hang for an hour if full batches waited for the linger
    expect(broker.frames('PRODUCE').map((f) => f.records.count)).toEqual([2, 2]);
    const fifth = p.send({ topic: 'orders', partition: 0, value: '5' });
    await p.flush();
    await expect(fifth).resolves.toMatchObject({ partition: 0, offset: 4 });
    expect(broker.frames('PRODUCE').map((f) => f.records.count)).toEqual([2, 2, 1]);
  });

  it('closes a batch before it would pass maxBatchBytes', async () => {
    // Each record: 4 (length) + 1 + 4 + 4 + 10 (value) + 2 = 25 bytes; 60 bytes hold two.
    const p = producer({ lingerMs: 3_600_000, maxBatchBytes: 60 });
    const sent = ['0123456789', 'abcdefghij', 'ABCDEFGHIJ'].map((value) => p.send({ topic: 'orders', partition: 1, value }));
    await Promise.all(sent.slice(0, 2).map((s) => s.catch(() => undefined)));
    await p.flush();
    await Promise.all(sent);
    expect(broker.frames('PRODUCE').map((f) => [f.records.count, f.records.bytes.length])).toEqual([[2, 50], [1, 25]]);
  });

  it('groups keyed records by murmur2 partition and keeps each partition in send order', async () => {
    const p = producer({ lingerMs: 20 });
    const keys = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'alice', 'bob'];
    const results = await Promise.all(keys.map((key, i) => p.send({ topic: 'orders', key, value: `${key}-${i}` })));
    results.forEach((result, i) => expect(result.partition).toBe(partitionForKey(Buffer.from(keys[i]!), 4)));
    const produced = broker.frames('PRODUCE');
    expect(new Set(produced.map((f) => f.partition)).size).toBe(produced.length); // one batch per partition
    for (let partition = 0; partition < 4; partition++) {
      const expected = keys.map((key, i) => [key, `${key}-${i}`] as const).filter(([key]) => partitionForKey(Buffer.from(key), 4) === partition);
      expect(values('orders', partition)).toEqual(expected.map(([, value]) => value));
    }
  });

  it('sends unkeyed records to one partition at a time (sticky)', async () => {
    const p = producer({ lingerMs: 20, random: () => 0.5 });
    const results = await Promise.all(['x', 'y', 'z'].map((value) => p.send({ topic: 'orders', value })));
    expect(results.map((r) => r.partition)).toEqual([2, 2, 2]);
    expect(broker.frames('PRODUCE')).toHaveLength(1);
  });
});

describe('Producer idempotence', () => {
  it('stamps batches with the producer id and consecutive sequences per partition', async () => {
    const p = producer({ lingerMs: 0, name: 'billing' });
    await p.send({ topic: 'orders', partition: 0, value: 'a' });
    await Promise.all([p.send({ topic: 'orders', partition: 0, value: 'b' }), p.send({ topic: 'orders', partition: 0, value: 'c' })]);
    await p.send({ topic: 'orders', partition: 1, value: 'd' });
    expect(broker.frames('INIT_PRODUCER').map((f) => f.name)).toEqual(['billing']);
    expect(broker.frames('PRODUCE').map((f) => [f.partition, f.producer?.producerId, f.producer?.baseSequence, f.records.count])).toEqual([
      [0, 1, 0, 1],
      [0, 1, 1, 2],
      [1, 1, 0, 1],
    ]);
  });

  it('sends no stamp and no INIT_PRODUCER when not idempotent', async () => {
    const p = producer({ lingerMs: 0, idempotent: false });
    await p.send({ topic: 'orders', partition: 0, value: 'a' });
    expect(broker.frames('INIT_PRODUCER')).toHaveLength(0);
    expect(broker.frames('PRODUCE')[0]!.producer).toBeNull();
  });

  it('fails every later send with PRODUCER_FENCED once fenced', async () => {
    broker.hook = (frame, client) => {
      if (frame.type !== 'PRODUCE') return;
      client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_PRODUCER_FENCED', { producerId: 1, epoch: 0, currentEpoch: 1 })));
      return 'handled';
    };
    const p = producer({ lingerMs: 0 });
    expect(await codeOf(p.send({ topic: 'orders', partition: 0, value: 'a' }))).toBe('SEALBUS_ERR_PRODUCER_FENCED');
    expect(await codeOf(p.send({ topic: 'orders', partition: 1, value: 'b' }))).toBe('SEALBUS_ERR_PRODUCER_FENCED');
    expect(broker.frames('PRODUCE')).toHaveLength(1);
  });
});

describe('Producer retries', () => {
  const fastRetry = { retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 4 } };

  it('retries a retriable failure and keeps partition order with several batches in flight', async () => {
    let failed = false;
    broker.hook = (frame, client) => {
      // The first batch fails after the next ones are already in flight behind it.
      if (frame.type === 'PRODUCE' && !failed) {
        failed = true;
        client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_PROTOCOL_TOO_MANY_IN_FLIGHT', { limit: 1 })));
        return 'handled';
      }
      return undefined;
    };
    const p = producer({ lingerMs: 0, maxBatchRecords: 1, ...fastRetry });
    const sent = ['1', '2', '3', '4'].map((value) => p.send({ topic: 'orders', partition: 3, value }));
    const results = await Promise.all(sent);
    expect(results.map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    expect(values('orders', 3)).toEqual(['1', '2', '3', '4']);
    const attempts = broker.frames('PRODUCE').map((f) => f.producer?.baseSequence);
    // 0 failed; 1..3 were refused as out of sequence and resent after it, numbered the same.
    expect(attempts.slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(attempts.slice(4)).toEqual([0, 1, 2, 3]);
  });

  it('does not retry a non-retriable error, and renumbers the batches behind the failed one', async () => {
    let refused = false;
    broker.hook = (frame, client) => {
      if (frame.type === 'PRODUCE' && frame.records.count === 1 && !refused && frame.producer?.baseSequence === 1) {
        refused = true;
        client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_FORBIDDEN', { principal: 'p', action: 'produce', resource: 'orders' })));
        return 'handled';
      }
      return undefined;
    };
    const p = producer({ lingerMs: 0, maxBatchRecords: 1, ...fastRetry });
    const sent = ['1', '2', '3'].map((value) => p.send({ topic: 'orders', partition: 0, value }));
    const settled = await Promise.allSettled(sent);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN', retriable: false });
    expect(values('orders', 0)).toEqual(['1', '3']);
    const sequences = broker.frames('PRODUCE').map((f) => [producedValues(f).join(), f.producer?.baseSequence]);
    // "2" was sent once only; "3" was refused (gap) and sent again as sequence 1.
    expect(sequences.filter(([value]) => value === '2')).toHaveLength(1);
    expect(sequences.filter(([value]) => value === '3')).toEqual([['3', 2], ['3', 1]]);
  });

  it('resends a batch whose ack was lost with the connection, and the broker de-duplicates it', async () => {
    let dropped = false;
    broker.hook = (frame, client, fake) => {
      if (frame.type === 'PRODUCE' && !dropped) {
        dropped = true;
        fake.store(frame); // stored, but the ack never arrives
        client.socket.terminate();
        return 'handled';
      }
      return undefined;
    };
    const p = producer({ lingerMs: 0, ...fastRetry });
    const result = await p.send({ topic: 'orders', partition: 1, value: 'once' });
    expect(result).toMatchObject({ partition: 1, offset: 0 });
    expect(values('orders', 1)).toEqual(['once']);
    expect(broker.clients).toHaveLength(2);
    expect(broker.frames('INIT_PRODUCER')).toHaveLength(1); // the producer id outlives the session
    expect(broker.frames('PRODUCE').map((f) => f.producer?.baseSequence)).toEqual([0, 0]);
  });

  it('resends a batch that failed after it was stored with its own number, though batches behind it were acked: stored once', async () => {
    // A cluster broker lost the answer of a write that landed later: it answered 503, then stored the batches behind it.
    let failed = false;
    broker.hook = (frame, client, fake) => {
      if (frame.type === 'PRODUCE' && frame.producer?.baseSequence === 0 && !failed) {
        failed = true;
        fake.store(frame);
        client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_STORE_UNAVAILABLE', { what: 'orders/2', reason: 'TimeoutError: timeout' })));
        return 'handled';
      }
      return undefined;
    };
    const p = producer({ lingerMs: 0, maxBatchRecords: 1, ...fastRetry });
    const results = await Promise.all(['1', '2', '3'].map((value) => p.send({ topic: 'orders', partition: 2, value })));
    expect(results.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(values('orders', 2)).toEqual(['1', '2', '3']);
    expect(broker.frames('PRODUCE').map((f) => [producedValues(f).join(), f.producer?.baseSequence])).toEqual([['1', 0], ['2', 1], ['3', 2], ['1', 0]]);
  });

  it('after giving up a batch that may be stored, numbers later batches in a new epoch: none is taken for its duplicate', async () => {
    let failed = false;
    broker.hook = (frame, client, fake) => {
      if (frame.type === 'PRODUCE' && !failed) {
        failed = true;
        fake.store(frame);
        client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_INTERNAL', {})));
        return 'handled';
      }
      return undefined;
    };
    const p = producer({ lingerMs: 0, ...fastRetry });
    expect(await codeOf(p.send({ topic: 'orders', partition: 1, value: 'first' }))).toBe('SEALBUS_ERR_INTERNAL');
    // Numbered 0 again in the same epoch, "second" would be acknowledged as a duplicate of "first", and lost.
    expect(await p.send({ topic: 'orders', partition: 1, value: 'second' })).toMatchObject({ offset: 1 });
    expect(values('orders', 1)).toEqual(['first', 'second']);
    const producers = broker.frames('PRODUCE').map((f) => f.producer?.producerId);
    expect(broker.frames('INIT_PRODUCER')).toHaveLength(2);
    expect(producers[1]).not.toBe(producers[0]);
  });

  it('resolves the batches numbered behind a given-up one with their numbers before the new epoch', async () => {
    const answers = new Map<number, SealbusError>([
      [0, new SealbusError('SEALBUS_ERR_INTERNAL', {})],
      [1, new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'shutting down' })],
    ]);
    broker.hook = (frame, client, fake) => {
      const answer = frame.type === 'PRODUCE' ? answers.get(frame.producer!.baseSequence) : undefined;
      if (frame.type !== 'PRODUCE' || answer === undefined || frame.producer!.producerId !== 1) return undefined;
      answers.delete(frame.producer!.baseSequence);
      fake.store(frame);
      client.send(errorFrame(frame.requestId, answer));
      return 'handled';
    };
    const p = producer({ lingerMs: 0, maxBatchRecords: 1, ...fastRetry });
    const settled = await Promise.allSettled(['0', '1', '2'].map((value) => p.send({ topic: 'orders', partition: 0, value })));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.offset : (s.reason as SealbusError).code))).toEqual(['SEALBUS_ERR_INTERNAL', 1, 2]);
    expect(await p.send({ topic: 'orders', partition: 0, value: '3' })).toMatchObject({ offset: 3 });
    expect(values('orders', 0)).toEqual(['0', '1', '2', '3']);
    // "1" went again as producer 1, sequence 1 (acknowledged as the duplicate it was); "3" as producer 2, sequence 0.
    const sends = broker.frames('PRODUCE').map((f) => [producedValues(f).join(), f.producer?.producerId, f.producer?.baseSequence]);
    expect(sends).toEqual([['0', 1, 0], ['1', 1, 1], ['2', 1, 2], ['1', 1, 1], ['3', 2, 0]]);
  });

  it('backs off before each retry of a failed batch, and resends the batches behind it without using their attempts', async () => {
    const firstBatchAt: number[] = [];
    broker.hook = (frame, client) => {
      if (frame.type !== 'PRODUCE' || frame.producer?.baseSequence !== 0) return undefined;
      firstBatchAt.push(performance.now());
      if (firstBatchAt.length > 2) return undefined;
      client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_PROTOCOL_TOO_MANY_IN_FLIGHT', { limit: 1 })));
      return 'handled';
    };
    // random 0: each wait is half the exponential step: 30 ms, then 60 ms.
    const p = producer({ lingerMs: 0, maxBatchRecords: 1, random: () => 0, retry: { maxAttempts: 3, initialDelayMs: 60, maxDelayMs: 1_000 } });
    const sent = ['1', '2', '3', '4'].map((value) => p.send({ topic: 'orders', partition: 3, value }));
    // Batches 2..4 were refused (gap) twice; had that used attempts, they would fail at the limit of 3.
    await expect(Promise.all(sent)).resolves.toHaveLength(4);
    expect(firstBatchAt).toHaveLength(3);
    // 1 ms of slack: timers may round down by a millisecond.
    expect(firstBatchAt[1]! - firstBatchAt[0]!).toBeGreaterThanOrEqual(29);
    expect(firstBatchAt[2]! - firstBatchAt[1]!).toBeGreaterThanOrEqual(59);
    expect(values('orders', 3)).toEqual(['1', '2', '3', '4']);
  });

  it('sends again a batch refused as out of sequence when every batch before it was acknowledged (the broker is behind its store)', async () => {
    let refused = 0;
    broker.hook = (frame, client) => {
      // Sequence 1, after 0 was acknowledged: a broker whose view of the store has not caught up.
      if (frame.type === 'PRODUCE' && frame.producer?.baseSequence === 1 && refused < 2) {
        refused++;
        client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_PRODUCER_SEQUENCE_GAP', { producerId: 1, sequence: 1, topic: 'orders', partition: 0, expected: 0 })));
        return 'handled';
      }
      return undefined;
    };
    const p = producer({ lingerMs: 0, ...fastRetry });
    expect(await p.send({ topic: 'orders', partition: 0, value: 'first' })).toMatchObject({ offset: 0 });
    expect(await p.send({ topic: 'orders', partition: 0, value: 'second' })).toMatchObject({ offset: 1 });
    expect(refused).toBe(2);
    expect(values('orders', 0)).toEqual(['first', 'second']);
    expect(broker.frames('PRODUCE').map((f) => f.producer?.baseSequence)).toEqual([0, 1, 1, 1]);
  });

  it('fails a batch the broker keeps refusing as out of sequence after maxAttempts, with the gap', async () => {
    broker.hook = (frame, client) => {
      if (frame.type !== 'PRODUCE') return undefined;
      client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_PRODUCER_SEQUENCE_GAP', { producerId: 1, sequence: 0, topic: 'orders', partition: 0, expected: 5 })));
      return 'handled';
    };
    const p = producer({ lingerMs: 0, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    expect(await codeOf(p.send({ topic: 'orders', partition: 0, value: 'a' }))).toBe('SEALBUS_ERR_PRODUCER_SEQUENCE_GAP');
    expect(broker.frames('PRODUCE')).toHaveLength(3);
  });

  it('gives up after maxAttempts and rejects with the last error', async () => {
    broker.hook = (frame, client) => {
      if (frame.type !== 'PRODUCE') return;
      client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_STORAGE_FULL', { topic: 'orders', partition: 0 })));
      return 'handled';
    };
    const p = producer({ lingerMs: 0, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    expect(await codeOf(p.send({ topic: 'orders', partition: 0, value: 'a' }))).toBe('SEALBUS_ERR_STORAGE_FULL');
    expect(broker.frames('PRODUCE')).toHaveLength(3);
  });
});

describe('Producer checks and errors', () => {
  it('rejects an unknown topic with TOPIC_NOT_FOUND and a bad name without asking', async () => {
    const p = producer();
    expect(await codeOf(p.send({ topic: 'missing', value: 'a' }))).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    expect(await codeOf(p.send({ topic: '../etc', value: 'a' }))).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
    expect(broker.frames('METADATA').map((f) => f.topic)).toEqual(['missing']);
  });

  it('rejects a record over the topic limit and a partition out of range, without sending them', async () => {
    broker.addTopic('small', 2, 20);
    const p = producer({ lingerMs: 0 });
    expect(await codeOf(p.send({ topic: 'small', value: 'x'.repeat(20) }))).toBe('SEALBUS_ERR_RECORD_TOO_LARGE');
    expect(await codeOf(p.send({ topic: 'small', partition: 2, value: 'x' }))).toBe('SEALBUS_ERR_PARTITION_NOT_FOUND');
    await expect(p.send({ topic: 'small', partition: 1, value: 'x'.repeat(9) })).resolves.toMatchObject({ partition: 1 });
    expect(broker.frames('PRODUCE')).toHaveLength(1);
  });

  it('rejects with the broker code when the upgrade is refused', async () => {
    broker.refuseUpgrade = { status: 401, body: { code: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED', message: 'The token has expired' } };
    const p = producer();
    const error = await p.send({ topic: 'orders', value: 'a' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED', message: 'The token has expired', retriable: false });
  });

  it('sends the bearer token and the subprotocol on the upgrade', async () => {
    const p = producer({ lingerMs: 0 });
    await p.send({ topic: 'orders', partition: 0, value: 'a' });
    const upgrade = broker.clients[0]!.upgrade;
    expect(upgrade.headers.authorization).toBe('Bearer token-1');
    expect(upgrade.headers['sec-websocket-protocol']).toBe('sealbus.v1');
  });

  it('flushes on close and refuses sends afterwards', async () => {
    const p = producer({ lingerMs: 3_600_000 });
    const pending = p.send({ topic: 'orders', partition: 0, value: 'late' });
    await p.close();
    await expect(pending).resolves.toMatchObject({ offset: 0 });
    expect(await codeOf(p.send({ topic: 'orders', value: 'b' }))).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
  });
});
