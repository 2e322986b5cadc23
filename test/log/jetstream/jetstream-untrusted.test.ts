/**
 * What is read from NATS is not trusted: a message some other writer put into a partition stream
 * (no sealbus header, a damaged batch, offsets that do not continue the partition) is refused with
 * SEALBUS_ERR_STORE_DATA_INVALID, never served and never built upon, while the batches before it
 * stay readable.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BATCH_META_HEADER, encodeBatchMeta } from '../../../src/log/jetstream/batch-message.js';
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

  it('refuses a well-formed batch that does not continue the offsets', async () => {
    const position = (await store.describeTopic('t')).partitions[0]!.sizeBytes;
    const timestamp = Date.now() + 1000;
    const batch = encodeBatch({ baseOffset: 8, timestamp }, values('gap', 1));
    await inject(batch, encodeBatchMeta({ baseOffset: 8, count: 1, timestamp, position, bytes: batch.length, segment: 0, segmentStart: 0, producer: null }));
    await expectRefused();
  });
});
