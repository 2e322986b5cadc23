/**
 * The shared LogStore suite against the JetStream backend, on a nats-server this file starts.
 *
 * Deviations from the other backends, none hidden: there are no torn-tail, bit-rot or fsync-fault
 * cases to run here (those are the file store's own tests, not part of the shared suite); "reopen"
 * closes the store and opens a new one on the same NATS streams and buckets, which is what a
 * broker restart (or another broker) sees. Each test gets its own stream prefix, and its streams
 * and buckets are deleted afterwards.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { JetStreamLogStore } from '../../../src/log/jetstream/jetstream-log-store.js';
import { skipWithoutNatsServer, startNatsServer, type RunningNatsServer } from '../../helpers/nats-server.js';
import { logStoreSuite, reopenableHarness } from '../log-store-suite.js';
import { newPrefix, removeStreams } from './jetstream-kit.js';

const skip = skipWithoutNatsServer('test/log/jetstream/jetstream-log-store.test.ts');

describe.skipIf(skip)('JetStream backend', () => {
  let server: RunningNatsServer;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  logStoreSuite('jetstream', async ({ clock, defaults }) => {
    const streamPrefix = newPrefix();
    return reopenableHarness(
      async () => new JetStreamLogStore({ servers: [server.url], streamPrefix, clock: clock.read, retentionCheckMs: 0, ...(defaults && { defaults }) }),
      () => removeStreams(server.url, streamPrefix),
    );
  });
});
