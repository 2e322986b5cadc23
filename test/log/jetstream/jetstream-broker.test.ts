/**
 * A broker started from its configuration with `store: {kind: jetstream}`, against a nats-server
 * that requires TLS with client certificates and a token (its own CA, apart from the broker's):
 * the SDK produces and consumes through the broker, the data is in JetStream and not on the
 * broker's disk, and a restarted broker finds everything there.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConnectionOptions, type ConsumedRecord } from '../../../src/client/index.js';
import { natsBackendFiles, onJetStream, startNatsBackend, type NatsBackendFiles } from '../../helpers/nats-backend.js';
import { skipWithoutNatsServer, type RunningNatsServer } from '../../helpers/nats-server.js';
import { startTestBroker, type TestBroker } from '../../helpers/test-broker.js';
import { newPrefix } from './jetstream-kit.js';

const skip = skipWithoutNatsServer('test/log/jetstream/jetstream-broker.test.ts');

describe.skipIf(skip)('a broker on the JetStream store', () => {
  let material: NatsBackendFiles;
  let nats: RunningNatsServer;
  let broker: TestBroker;
  const streamPrefix = newPrefix();

  beforeAll(async () => {
    material = await natsBackendFiles();
    nats = await startNatsBackend(material);
    broker = await startTestBroker({ configure: (config) => onJetStream(config, nats, material, streamPrefix) });
  });
  afterAll(async () => {
    await broker?.close();
    await nats?.stop();
    if (material !== undefined) await rm(material.dir, { recursive: true, force: true });
  });

  function connection(): ConnectionOptions {
    return { url: broker.url, ca: broker.ca, cert: broker.admin.cert, key: broker.admin.key, token: () => broker.admin.token };
  }

  it('produces and consumes through the SDK; the records are in JetStream, not on the broker', async () => {
    const admin = new Admin({ connection: connection() });
    await admin.createTopic({ name: 'cluster.orders', partitions: 2 });
    admin.close();
    const producer = new Producer({ connection: connection(), lingerMs: 2 });
    const sent = await Promise.all(Array.from({ length: 300 }, (_, i) => producer.send({ topic: 'cluster.orders', key: `k${i % 7}`, value: `order-${i}` })));
    await producer.close();
    for (const partition of [0, 1]) {
      const offsets = sent.filter((m) => m.partition === partition).map((m) => m.offset).sort((a, b) => a - b);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }

    await broker.restart();
    const consumer = new Consumer({ connection: connection() });
    consumer.assign([0, 1].map((partition) => ({ topic: 'cluster.orders', partition, start: 'earliest' as const })));
    const received: ConsumedRecord[] = [];
    for await (const record of consumer) {
      received.push(record);
      if (received.length === sent.length) break;
    }
    await consumer.close();
    const byValue = new Map(received.map((record) => [record.value!.toString(), record]));
    sent.forEach((meta, i) => expect([byValue.get(`order-${i}`)?.partition, byValue.get(`order-${i}`)?.offset]).toEqual([meta.partition, meta.offset]));

    expect(existsSync(join(broker.env.config.store.dir, 'topics'))).toBe(false);
    const backend = await connect({
      servers: nats.url,
      token: material.token,
      tls: { caFile: material.ca, certFile: material.clientCert, keyFile: material.clientKey },
    });
    try {
      const jsm = await jetstreamManager(backend);
      const names: string[] = [];
      for await (const name of jsm.streams.names()) if (name.startsWith(`${streamPrefix}_log_`)) names.push(name);
      // Two partitions of the topic, and the broker's internal topics (audit, revocations, keys, schemas).
      expect(names.length).toBeGreaterThanOrEqual(2);
      let messages = 0;
      for (const name of names) messages += (await jsm.streams.info(name)).state.messages;
      expect(messages).toBeGreaterThan(2);
    } finally {
      await backend.close();
    }
  });

  it('refuses to start when NATS refuses its credentials, without printing the secret', async () => {
    const wrong = join(material.dir, 'wrong-token');
    const secret = randomBytes(24).toString('hex');
    await writeFile(wrong, secret, { mode: 0o600 });
    const failure = await startTestBroker({
      configure: (config) => onJetStream(config, nats, material, streamPrefix, wrong),
    }).then(
      async (started) => {
        await started.close();
        return null;
      },
      (err: unknown) => err as { code?: string; message: string },
    );
    expect(failure?.code).toBe('SEALBUS_ERR_STORE_UNAVAILABLE');
    expect(failure?.message).not.toContain(secret);
    expect(failure?.message).not.toContain(material.token);
  });
});
