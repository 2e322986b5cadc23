/**
 * One writer per partition: two brokers over one JetStream store, idempotent SDK producers on both
 * writing the same partitions. Each partition's batches are appended by its owner broker (the
 * other forwards them over NATS), so JetStream refuses no publish, and every record is stored once,
 * in each producer's order. When the owner broker dies without a word (its NATS connection
 * closed), the other broker goes on appending to its partitions itself.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterAppends } from '../../src/broker/cluster/index.js';
import { Admin, Producer, type ConnectionOptions } from '../../src/client/index.js';
import type { JetStreamLogStore } from '../../src/log/index.js';
import { decodeRecords } from '../../src/log/record-batch.js';
import { cutFromNats, natsBackendFiles, sharedStoreBroker, startNatsBackend, type NatsBackendFiles } from '../helpers/nats-backend.js';
import { skipWithoutNatsServer, type RunningNatsServer } from '../helpers/nats-server.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

const skip = skipWithoutNatsServer('test/e2e/cluster-appends.test.ts');

const TOPIC = 'cluster.appends';
const PARTITIONS = 4;
const PER_PRODUCER = 300;

const appends = (t: TestBroker): ClusterAppends => t.broker.appendCluster!;
const jetstream = (t: TestBroker): JetStreamLogStore => t.broker.store as JetStreamLogStore;

/** Every record value of a partition, in offset order, read from the store of `t`. */
async function valuesOf(t: TestBroker, partition: number): Promise<string[]> {
  const values: string[] = [];
  for (let offset = 0; ; ) {
    const read = await t.broker.store.read(TOPIC, partition, offset, { maxBytes: 1 << 20 });
    for (const batch of read.batches) for (const record of decodeRecords(batch)) if (record.offset >= offset) values.push(record.value!.toString('utf8'));
    if (read.nextOffset >= read.highWatermark) return values;
    offset = read.nextOffset;
  }
}

describe.skipIf(skip)('one writer per partition across two brokers', () => {
  let files: NatsBackendFiles;
  let nats: RunningNatsServer;
  let a: TestBroker;
  let b: TestBroker;
  let onA: ConnectionOptions;
  let onB: ConnectionOptions;

  beforeAll(async () => {
    files = await natsBackendFiles();
    nats = await startNatsBackend(files);
    const streamPrefix = `w${randomBytes(5).toString('hex')}`;
    a = await startTestBroker({ configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-a') });
    b = await startTestBroker({ configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-b', a) });
    onA = { url: a.url, ca: a.ca, cert: a.admin.cert, key: a.admin.key, token: a.admin.token };
    onB = { ...onA, url: b.url };
    const admin = new Admin({ connection: onA });
    await admin.createTopic({ name: TOPIC, partitions: PARTITIONS });
    admin.close();
    await waitFor(() => [a, b].every((t) => appends(t).routing.brokers().join() === 'broker-a,broker-b'), 'both brokers see each other', 10_000);
  }, 30_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await nats?.stop();
    if (files !== undefined) await rm(files.dir, { recursive: true, force: true });
  });

  async function produce(connection: ConnectionOptions, name: string, count: number): Promise<void> {
    const producer = new Producer({ connection, lingerMs: 1 });
    try {
      await Promise.all(Array.from({ length: count }, (_, i) => producer.send({ topic: TOPIC, partition: i % PARTITIONS, value: `${name}-${i}` })));
    } finally {
      await producer.close();
    }
  }

  it('stores every record once, in order, with no refused publish, producers on both brokers writing the same partitions', async () => {
    const owners = Array.from({ length: PARTITIONS }, (_, p) => appends(a).routing.writerOf(TOPIC, p));
    expect(Array.from({ length: PARTITIONS }, (_, p) => appends(b).routing.writerOf(TOPIC, p))).toEqual(owners);
    expect(new Set(owners)).toEqual(new Set(['broker-a', 'broker-b']));

    await Promise.all([produce(onA, 'a', PER_PRODUCER), produce(onB, 'b', PER_PRODUCER), produce(onA, 'a2', PER_PRODUCER), produce(onB, 'b2', PER_PRODUCER)]);

    // No broker lost a race on JetStream's expected last sequence: each partition had one writer.
    expect(jetstream(a).refusedPublishes()).toBe(0);
    expect(jetstream(b).refusedPublishes()).toBe(0);
    expect(appends(a).stats.forwarded).toBeGreaterThan(0);
    expect(appends(b).stats.forwarded).toBeGreaterThan(0);
    expect(appends(a).stats.served).toBeGreaterThan(0);
    expect(appends(b).stats.served).toBeGreaterThan(0);

    for (let p = 0; p < PARTITIONS; p++) {
      const values = await valuesOf(b, p);
      expect(new Set(values).size).toBe(values.length);
      expect(values).toHaveLength((4 * PER_PRODUCER) / PARTITIONS);
      for (const name of ['a', 'b', 'a2', 'b2']) {
        const mine = values.filter((v) => v.startsWith(`${name}-`)).map((v) => Number(v.slice(name.length + 1)));
        expect(mine).toEqual(Array.from({ length: PER_PRODUCER / PARTITIONS }, (_, k) => p + k * PARTITIONS));
      }
    }
  }, 30_000);

  it('goes on appending on the surviving broker when the owner broker dies', async () => {
    const ownedByA = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => appends(b).routing.writerOf(TOPIC, p) === 'broker-a');
    expect(ownedByA.length).toBeGreaterThan(0);
    const before = await Promise.all(ownedByA.map((p) => valuesOf(b, p)));
    await cutFromNats(a);
    const producer = new Producer({ connection: onB, lingerMs: 1 });
    try {
      await Promise.all(ownedByA.map((p) => producer.send({ topic: TOPIC, partition: p, value: `after-${p}` })));
    } finally {
      await producer.close();
    }
    expect(appends(b).stats.ownerGone).toBeGreaterThan(0);
    expect(appends(b).routing.writerOf(TOPIC, ownedByA[0]!)).toBe('broker-b');
    for (const [k, p] of ownedByA.entries()) {
      await waitFor(async () => (await valuesOf(b, p)).length === before[k]!.length + 1, `partition ${p} holds the new record`, 5_000);
      expect((await valuesOf(b, p)).at(-1)).toBe(`after-${p}`);
    }
  }, 30_000);
});
