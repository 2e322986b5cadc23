/**
 * Producer ids on a replicated (R3) store: brokers asking at the same moment must never get the
 * same id, or two producers would pass for each other's retries (acknowledged records lost or
 * stored twice). A compare-and-set counter gave [1, 2, 2, 3] here on nats-server 2.9.10
 * (nats-io/nats-server#4320); ids now come from the bucket's revisions, which the stream's leader
 * assigns one per write.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLogStore } from '../../../src/log/jetstream/jetstream-log-store.js';
import { natsBackendFiles, type NatsBackendFiles } from '../../helpers/nats-backend.js';
import { startNatsCluster, type RunningNatsCluster } from '../../helpers/nats-cluster.js';
import { skipWithoutNatsServer } from '../../helpers/nats-server.js';

const skip = skipWithoutNatsServer('test/log/jetstream/producer-ids-r3.test.ts');

describe.skipIf(skip)('producer ids on an R3 JetStream store', () => {
  let files: NatsBackendFiles;
  let cluster: RunningNatsCluster;
  const stores: JetStreamLogStore[] = [];

  beforeAll(async () => {
    files = await natsBackendFiles();
    cluster = await startNatsCluster({ token: files.token, tls: { certFile: files.serverCert, keyFile: files.serverKey, caFile: files.ca, verify: true } });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await cluster?.stop();
    if (files !== undefined) await rm(files.dir, { recursive: true, force: true });
  });

  it('hands out distinct ids to brokers asking at once', async () => {
    const streamPrefix = `r${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < 3; i++) {
      const store = new JetStreamLogStore({
        servers: cluster.urls.map((url) => url.replace(/^nats:/, 'tls:')),
        tls: { ca: files.ca, cert: files.clientCert, key: files.clientKey },
        tokenFile: files.tokenFile,
        replicas: 3,
        streamPrefix,
      });
      await store.open();
      stores.push(store);
    }
    const ids: number[] = [];
    for (let round = 0; round < 5; round++) {
      const granted = await Promise.all(stores.flatMap((store) => Array.from({ length: 4 }, () => store.initProducer(null))));
      for (const { producerId, epoch } of granted) {
        expect(epoch).toBe(0);
        ids.push(producerId);
      }
    }
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
    expect(ids.every((id) => Number.isSafeInteger(id) && id >= 1)).toBe(true);
  }, 60_000);
});
