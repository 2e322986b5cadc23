import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../src/client/index.js';
import { ProducerBatch } from '../../src/client/producer-batch.js';
import { ProducerSender } from '../../src/client/producer-sender.js';
import { SessionSource } from '../../src/client/session-source.js';
import { SealbusError } from '../../src/errors/index.js';
import { encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import type { EncodedRecords } from '../../src/log/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { FakeBroker, errorFrame } from './helpers/fake-broker.js';

// Batches sealed off the main thread finish in any order; the sender still sends a partition's
// batches in the order they were produced.

let broker: FakeBroker;
let sessions: SessionSource;
let sender: ProducerSender;
/** Sealing in progress, by the value of the batch's first record; the test settles each one. */
let sealing: Map<string, { resolve: () => void; reject: (error: SealbusError) => void }>;
let seals: string[];
let recipientsChanged: string[];

beforeEach(async () => {
  broker = await FakeBroker.start();
  broker.addTopic('orders', 2);
  sessions = new SessionSource(webSocketTransport({ url: broker.url, token: 'token-1', keepAliveMs: 0 }));
  sealing = new Map();
  seals = [];
  recipientsChanged = [];
  const encoder = (_topic: string, records: readonly RecordInput[]): Promise<EncodedRecords> => {
    const name = records[0]!.value!.toString();
    seals.push(name);
    return new Promise((resolve, reject) => sealing.set(name, { resolve: () => resolve(encodeRecords(records)), reject }));
  };
  sender = new ProducerSender(sessions, {
    idempotent: true,
    name: '',
    maxInFlight: 16,
    maxInFlightPerPartition: 5,
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
    deliveryTimeoutMs: 60_000,
    random: () => 0.5,
    clock: Date.now,
    seal: (batch) => batch.seal(encoder),
    stale: async (topic, code) => void recipientsChanged.push(code === 'SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE' ? topic : `${topic} (schema)`),
  });
});

afterEach(async () => {
  sender.stop();
  await sessions.close();
  await broker.close();
});

let nextId = 1;

/** Enqueues a one-record batch; resolves with its offset or the error code. */
function produce(partition: number, value: string): Promise<number | string> {
  const batch = new ProducerBatch(nextId++, 'orders', partition, Date.now());
  const result = new Promise<number | string>((resolve) => {
    batch.records.push({ input: { value: Buffer.from(value) }, size: 0, resolve: (metadata) => resolve(metadata.offset), reject: (error) => resolve(error.code) });
  });
  sender.enqueue(batch);
  return result;
}

const stored = (partition: number) => broker.records('orders', partition).map((record) => record.value!.toString());

function sealed(name: string): void {
  const pending = sealing.get(name);
  if (pending === undefined) throw new Error(`${name} is not being sealed`);
  sealing.delete(name);
  pending.resolve();
}

describe('ProducerSender with batches sealed asynchronously', () => {
  it('starts sealing every batch at once, but sends a partition in order: later batches wait for the earlier ones', async () => {
    const results = [produce(0, 'a1'), produce(0, 'a2'), produce(0, 'a3'), produce(1, 'b1')];
    expect(seals).toEqual(['a1', 'a2', 'a3', 'b1']);
    sealed('a3');
    sealed('a2');
    sealed('b1');
    // Partition 1 does not wait for partition 0.
    await broker.waitForFrame((frame) => frame.type === 'PRODUCE' && frame.partition === 1);
    expect(broker.frames('PRODUCE').filter((frame) => frame.partition === 0)).toEqual([]);
    sealed('a1');
    expect(await Promise.all(results)).toEqual([0, 1, 2, 0]);
    expect(stored(0)).toEqual(['a1', 'a2', 'a3']);
    expect(broker.frames('PRODUCE').filter((frame) => frame.partition === 0).map((frame) => frame.producer?.baseSequence)).toEqual([0, 1, 2]);
  });

  it('rejects a batch whose sealing failed, in its turn, with that error; the batches behind it go', async () => {
    const results = [produce(0, 'a1'), produce(0, 'a2'), produce(0, 'a3')];
    sealing.get('a2')!.reject(new SealbusError('SEALBUS_ERR_CRYPTO_WORKER_FAILED', { operation: 'sealing', reason: 'test' }));
    sealing.delete('a2');
    sealed('a3');
    sealed('a1');
    expect(await Promise.all(results)).toEqual([0, 'SEALBUS_ERR_CRYPTO_WORKER_FAILED', 1]);
    expect(stored(0)).toEqual(['a1', 'a3']);
  });

  it('seals a batch again, asynchronously, when the broker says its recipients are stale, and keeps it ahead of the next one', async () => {
    let refused = false;
    broker.hook = (frame, client) => {
      if (frame.type === 'PRODUCE' && !refused) {
        refused = true;
        client.send(errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE', { topic: 'orders', reason: 'test' })));
        return 'handled';
      }
      return undefined;
    };
    const first = produce(0, 'a1');
    sealed('a1');
    await broker.waitForFrame((frame) => frame.type === 'PRODUCE');
    const second = produce(0, 'a2');
    sealed('a2');
    // a1 is sealed anew once the recipients are fetched again; a2, sealed already, waits behind it.
    await waitFor(() => sealing.has('a1'), 'a1 is sealed again');
    expect(recipientsChanged).toEqual(['orders']);
    sealed('a1');
    expect(await Promise.all([first, second])).toEqual([0, 1]);
    expect(seals.filter((name) => name === 'a1')).toHaveLength(2);
    expect(stored(0)).toEqual(['a1', 'a2']);
  });
});
