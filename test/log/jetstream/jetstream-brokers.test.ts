/**
 * What only a shared store has: several brokers (stores) over one NATS server, appending to the
 * same partition, seeing each other's topics, producers and waits. The shared suite runs one
 * store at a time; these run two or three at once.
 */
import type { PubAck } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecords } from '../../../src/log/record-batch.js';
import type { LogStore } from '../../../src/log/types.js';
import { codeOf, codeOfThrow, rejectionOf } from '../../helpers/error-code.js';
import { skipWithoutNatsServer, startNatsServer, type RunningNatsServer } from '../../helpers/nats-server.js';
import { waitFor } from '../../helpers/wait-for.js';
import { readAll, values } from '../helpers/log-test-kit.js';
import { Brokers } from './jetstream-kit.js';

const skip = skipWithoutNatsServer('test/log/jetstream/jetstream-brokers.test.ts');

describe.skipIf(skip)('JetStream store shared by several brokers', () => {
  let server: RunningNatsServer;
  let brokers: Brokers;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    brokers = new Brokers(server.url);
  });
  afterEach(async () => {
    await brokers.cleanup();
  });

  it('keeps one partition contiguous when three brokers append to it at once: no gap, no fork', async () => {
    const stores = [await brokers.start(), await brokers.start(), await brokers.start()];
    await stores[0]!.createTopic('t', { partitions: 1 });
    const acks = await Promise.all(
      Array.from({ length: 90 }, (_, i) => stores[i % 3]!.append('t', 0, { records: values(`b${i % 3}n${i}`, 1 + (i % 4)) }).then((ack) => ({ ack, i }))),
    );
    const byOffset = [...acks].sort((a, b) => a.ack.baseOffset - b.ack.baseOffset);
    let expected = 0;
    for (const { ack } of byOffset) {
      expect(ack.baseOffset).toBe(expected);
      expected += ack.count;
    }
    for (const store of stores) {
      const stored = await readAll(store, 't', 0);
      expect(stored.size).toBe(expected);
      // Every acknowledged batch is stored exactly where its ack said.
      for (const { ack, i } of acks) expect(stored.get(ack.baseOffset)).toBe(`b${i % 3}n${i}-0`);
    }
  });

  it('never lets a pipelined run continue past a message that lost the race: the rest is planned again', async () => {
    // Broker a publishes two batches at once; broker b appends between a's first and second.
    // a's first is refused; its second must be refused too (it expects a's first before it), or it
    // would land after b's batch with offsets planned after a's first.
    let seam: (send: () => Promise<PubAck>, call: number) => Promise<PubAck> = (send) => send();
    let calls = 0;
    const a = await brokers.start({ publishSeam: (send) => seam(send, ++calls) });
    const b = await brokers.start();
    await a.createTopic('t', { partitions: 1 });
    await a.append('t', 0, { records: values('first', 1) });
    let firstSent: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => (firstSent = resolve));
    seam = async (send, call) => {
      if (call === 2) {
        await b.append('t', 0, { records: values('b', 1) });
        const ack = send();
        firstSent();
        return ack;
      }
      if (call === 3) await sent;
      return send();
    };
    const acks = await Promise.all([a.append('t', 0, { records: values('x', 2) }), a.append('t', 0, { records: values('y', 1) })]);
    expect(calls).toBeGreaterThanOrEqual(5);
    expect(acks.map((ack) => ack.baseOffset)).toEqual([2, 4]);
    expect([...(await readAll(b, 't', 0)).values()]).toEqual(['first-0', 'b-0', 'x-0', 'x-1', 'y-0']);
  });

  it('sees topics created and deleted through another broker; a deletion ends its waits', async () => {
    const [a, b] = [await brokers.start(), await brokers.start()];
    await a.createTopic('orders', { partitions: 2, retentionMs: 60_000 });
    // An operation names the topic before the watch delivered it: the bucket is asked.
    expect((await b.append('orders', 1, { records: values('via-b', 2) })).baseOffset).toBe(0);
    await waitFor(() => codeOfThrow(() => b.topicConfig('orders')) === 'accepted', 'broker b knows the topic');
    expect(b.topicConfig('orders').retentionMs).toBe(60_000);
    expect((await a.describeTopic('orders')).partitions[1]!.highWatermark).toBe(2);
    await expect(b.createTopic('orders', { partitions: 1 })).rejects.toMatchObject({ code: 'SEALBUS_ERR_TOPIC_EXISTS' });
    const orphaned = rejectionOf(b.waitForData('orders', 0, 0, new AbortController().signal));
    await a.deleteTopic('orders');
    expect((await orphaned).code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    await waitFor(() => codeOfThrow(() => b.topicConfig('orders')) === 'SEALBUS_ERR_TOPIC_NOT_FOUND', 'broker b forgot the topic');
    expect(await codeOf(b.append('orders', 0, { records: values('late', 1) }))).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
  });

  it("wakes a wait on one broker when another appends, and reads the other broker's batches", async () => {
    const [a, b] = [await brokers.start(), await brokers.start({ waitPollMs: 60_000 })];
    await a.createTopic('t', { partitions: 1 });
    await a.append('t', 0, { records: values('first', 1) });
    expect([...(await readAll(b, 't', 0)).values()]).toEqual(['first-0']);
    // The poll is a minute away: only the other broker's announcement can wake this in time.
    const woke = b.waitForData('t', 0, 1, new AbortController().signal);
    await a.append('t', 0, { records: values('second', 2) });
    expect(await woke).toBe(3);
    expect((await b.read('t', 0, 1, { maxBytes: 1024 })).nextOffset).toBe(3);
  });

  it('recognises a producer retry sent to another broker, and fences an old instance there', async () => {
    const [a, b] = [await brokers.start(), await brokers.start()];
    await a.createTopic('t', { partitions: 1 });
    const old = await a.initProducer('billing');
    const first = await a.append('t', 0, { records: values('a', 2), producer: { ...old, baseSequence: 0 } });
    // The client lost the ack and retries through broker b, whose view has not seen the batch yet.
    expect(await b.append('t', 0, { records: values('a', 2), producer: { ...old, baseSequence: 0 } })).toEqual({ ...first, duplicate: true });
    // Its next batch goes through b too: b must not take the sequence for a gap.
    expect((await b.append('t', 0, { records: values('b', 1), producer: { ...old, baseSequence: 2 } })).baseOffset).toBe(2);
    const fresh = await b.initProducer('billing');
    expect(fresh).toEqual({ producerId: old.producerId, epoch: old.epoch + 1 });
    // Broker a never saw the new epoch in its cache: the bucket vouches for it.
    await a.append('t', 0, { records: values('new', 1), producer: { ...fresh, baseSequence: 0 } });
    expect(await codeOf(a.append('t', 0, { records: values('stale', 1), producer: { ...old, baseSequence: 3 } }))).toBe('SEALBUS_ERR_PRODUCER_FENCED');
    expect([...(await readAll(b, 't', 0)).values()]).toEqual(['a-0', 'a-1', 'b-0', 'new-0']);
  });

  it('shares committed offsets and producer ids between brokers', async () => {
    const [a, b] = [await brokers.start(), await brokers.start()];
    await a.createTopic('t', { partitions: 2 });
    await a.commitOffsets('billing', [{ topic: 't', partition: 1, offset: 4, metadata: 'm' }]);
    expect((await b.fetchOffsets('billing')).map((o) => [o.partition, o.offset, o.metadata])).toEqual([[1, 4, 'm']]);
    expect(await b.listGroups()).toEqual(['billing']);
    await b.deleteGroup('billing');
    expect(await a.fetchOffsets('billing')).toEqual([]);
    const ids = await Promise.all([a, b, a, b].map((store) => store.initProducer(null)));
    expect(new Set(ids.map((id) => id.producerId)).size).toBe(4);
  });

  it('keeps a producer in sequence after retention removed its batches, on a broker that opens later', async () => {
    const a = await brokers.start();
    await a.createTopic('t', { partitions: 1, segmentBytes: 1024, retentionBytes: 1500 });
    const producer = await a.initProducer('p');
    for (let i = 0; i < 3; i++) await a.append('t', 0, { records: values(`p${i}`, 1, 300), producer: { ...producer, baseSequence: i } });
    for (let i = 0; i < 12; i++) await a.append('t', 0, { records: values(`x${i}`, 1, 300) });
    expect((await a.enforceRetention()).deletedSegments).toBeGreaterThan(0);
    expect((await a.describeTopic('t')).partitions[0]!.logStartOffset).toBeGreaterThan(3);
    const b = await brokers.start();
    expect((await b.append('t', 0, { records: values('p3', 1), producer: { ...producer, baseSequence: 3 } })).baseOffset).toBe(15);
    expect(await codeOf(b.append('t', 0, { records: values('p9', 1), producer: { ...producer, baseSequence: 9 } }))).toBe('SEALBUS_ERR_PRODUCER_SEQUENCE_GAP');
  });

  it('finds any offset and any time on a broker that never saw the batches (binary search over the stream)', async () => {
    const a = await brokers.start();
    await a.createTopic('t', { partitions: 1 });
    const acks = [];
    for (let i = 0; i < 60; i++) acks.push(await a.append('t', 0, { records: values(`b${i}`, 1 + (i % 5)) }));
    const b: LogStore = await brokers.start();
    for (const target of [0, 1, 7, 50, 101, acks.at(-1)!.baseOffset + acks.at(-1)!.count - 1]) {
      const holder = acks.find((ack) => ack.baseOffset <= target && target < ack.baseOffset + ack.count)!;
      const result = await b.read('t', 0, target, { maxBytes: 1 });
      expect(decodeRecords(result.batches[0]!)[0]!.offset).toBe(holder.baseOffset);
    }
    expect(await b.offsetForTimestamp('t', 0, acks[0]!.timestamp)).toBe(0);
    expect(await b.offsetForTimestamp('t', 0, acks.at(-1)!.timestamp + 1)).toBe(acks.at(-1)!.baseOffset + acks.at(-1)!.count);
  });
});
