/**
 * What is read from NATS is not trusted: a message some other writer put into a partition stream
 * (no sealbus header, a damaged batch, offsets that do not continue the partition) is refused with
 * SEALBUS_ERR_STORE_DATA_INVALID, never served and never built upon, while the batches before it
 * stay readable.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BATCH_META_HEADER, encodeBatchMeta } from '../../../src/log/jetstream/batch-message.js';
import { keyToken } from '../../../src/log/jetstream/names.js';
import { decodeRecords, encodeBatch } from '../../../src/log/record-batch.js';
import type { LogStore } from '../../../src/log/types.js';
import { codeOf } from '../../helpers/error-code.js';
import { skipWithoutNatsServer, startNatsServer, type RunningNatsServer } from '../../helpers/nats-server.js';
import { text, values } from '../helpers/log-test-kit.js';
import { Brokers } from './jetstream-kit.js';

const skip = skipWithoutNatsServer('test/log/jetstream/jetstream-untrusted.test.ts');

describe.skipIf(skip)('JetStream store against foreign or damaged messages', () => {
  let server: RunningNatsServer;
  let brokers: Brokers;
  let raw: NatsConnection;
  let store: LogStore;
  let subject: string;

  beforeAll(async () => {
    server = await startNatsServer();
    raw = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await raw?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    brokers = new Brokers(server.url);
    store = await brokers.start();
    await store.createTopic('t', { partitions: 1 });
    await store.append('t', 0, { records: values('good', 3) });
    const jsm = await jetstreamManager(raw);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${brokers.prefix}_log_`)) subject = (await jsm.streams.info(name)).config.subjects[0]!;
    }
  });
  afterEach(async () => {
    await brokers.cleanup();
  });

  /** Publishes straight into the partition's stream, as a foreign writer could. */
  async function inject(body: Uint8Array, header?: string): Promise<void> {
    const hdrs = headers();
    if (header !== undefined) hdrs.set(BATCH_META_HEADER, header);
    await jetstream(raw).publish(subject, body, { headers: hdrs });
  }

  async function expectRefused(): Promise<void> {
    expect(await codeOf(store.read('t', 0, 3, { maxBytes: 1024 }))).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    expect(await codeOf(store.append('t', 0, { records: values('after', 1) }))).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    // A broker opening later refuses it as well: it is the partition's last message.
    const later = await brokers.start();
    expect(await codeOf(later.describeTopic('t'))).toBe('SEALBUS_ERR_STORE_DATA_INVALID');
    const before = await store.read('t', 0, 0, { maxBytes: 1 << 20 });
    expect(before.batches.flatMap((batch) => decodeRecords(batch)).map((record) => text(record.value))).toEqual(['good-0', 'good-1', 'good-2']);
  }

  it('refuses a message without the sealbus header', async () => {
    await inject(Buffer.from('not a batch'));
    await expectRefused();
  });

  it('refuses a batch whose bytes fail their checksum', async () => {
    const position = (await store.describeTopic('t')).partitions[0]!.sizeBytes;
    const timestamp = Date.now() + 1000;
    const batch = encodeBatch({ baseOffset: 3, timestamp }, values('bad', 1));
    const header = encodeBatchMeta({ baseOffset: 3, count: 1, timestamp, position, bytes: batch.length, segment: 0, segmentStart: 0, producer: null });
    batch[batch.length - 1]! ^= 0xff;
    await inject(batch, header);
    await expectRefused();
  });

  it('ignores hostile committed offsets written into the bucket by another writer, and keeps the real one', async () => {
    await store.commitOffsets('g', [{ topic: 't', partition: 0, offset: 2, metadata: 'real' }]);
    const topicId = await streamTopicId();
    const kv = await new Kvm(jetstream(raw)).open(`${brokers.prefix}_offsets`);
    const key = (group: string): string => `${keyToken(group)}.${topicId}.0`;
    const hostile: [string, string][] = [
      [key('deep'), `${'['.repeat(5000)}${']'.repeat(5000)}`],
      [key('huge'), JSON.stringify({ topic: 't', partition: 0, offset: 2 ** 60, metadata: '', committedAt: 1 })],
      [key('typed'), JSON.stringify({ topic: 't', partition: '0', offset: '5', metadata: 7, committedAt: 1 })],
      [key('text'), 'not json'],
      [key('array'), '[1, 2, 3]'],
    ];
    for (const [k, value] of hostile) await kv.put(k, value);
    await kv.put(key('g'), '{"topic": "t", "partition": 0, "offset": 9, "metadata": "x", "committedAt": 1, "committedAt": "dup"}');
    for (const group of ['deep', 'huge', 'typed', 'text', 'array']) expect(await brokers.start().then((other) => other.fetchOffsets(group))).toEqual([]);
    // The real commit was overwritten by a malformed one: the group has no usable offset, nothing made up.
    expect(await (await brokers.start()).fetchOffsets('g')).toEqual([]);
  });

  async function streamTopicId(): Promise<string> {
    const jsm = await jetstreamManager(raw);
    for await (const name of jsm.streams.names()) {
      const found = new RegExp(`^${brokers.prefix}_log_(.+)_0$`).exec(name);
      if (found !== null) return found[1]!;
    }
    throw new Error('no partition stream');
  }

  it('refuses a well-formed batch that does not continue the offsets', async () => {
    const position = (await store.describeTopic('t')).partitions[0]!.sizeBytes;
    const timestamp = Date.now() + 1000;
    const batch = encodeBatch({ baseOffset: 8, timestamp }, values('gap', 1));
    await inject(batch, encodeBatchMeta({ baseOffset: 8, count: 1, timestamp, position, bytes: batch.length, segment: 0, segmentStart: 0, producer: null }));
    await expectRefused();
  });
});
