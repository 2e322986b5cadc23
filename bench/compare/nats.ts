/**
 * NATS JetStream: nats-server with JetStream on file storage, TLS with client certificates
 * verified, driven by its Node client (`@nats-io/transport-node` + `@nats-io/jetstream`): publish
 * with a PubAck per message, read back with an ordered consumer.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { atFixedRate, keepInFlight, stopProcess } from '../dev-broker.js';
import { orStop, removeDir, startServer, tempDir } from './processes.js';
import type { Session, Target } from './target.js';
import { makeTlsFiles } from './tls.js';
import { BINARY_VALUE } from './workload.js';

/** The Debian package installs it in /usr/sbin; elsewhere it is on the PATH. */
export function natsServerBinary(): string {
  return ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((file) => existsSync(file)) ?? 'nats-server';
}

/** A stream per topic: stream names may not hold dots, subjects may. */
const streamName = (topic: string): string => topic.replace(/\./g, '_');

async function startNats(): Promise<Session> {
  const dir = await tempDir('nats');
  const tls = await makeTlsFiles(dir);
  const config = join(dir, 'nats.conf');
  await writeFile(
    config,
    [
      'host: 127.0.0.1',
      'port: -1',
      // verify: every client must present a certificate of this CA, as sealbus requires.
      `tls { cert_file: "${tls.serverCert}", key_file: "${tls.serverKey}", ca_file: "${tls.ca}", verify: true, timeout: 5 }`,
      `jetstream { store_dir: "${join(dir, 'jetstream')}", max_memory_store: 256MB, max_file_store: 64GB }`,
      '',
    ].join('\n'),
  );
  const { child, match } = await startServer(natsServerBinary(), ['-c', config], /Listening for client connections on [^\n]*:(\d+)[\s\S]*Server is ready/);
  const { nc, jsm } = await orStop(child, dir, async () => {
    const nc = await connect({ servers: `127.0.0.1:${match[1]}`, tls: { caFile: tls.ca, certFile: tls.clientCert, keyFile: tls.clientKey } });
    return { nc, jsm: await jetstreamManager(nc) };
  });
  // A publish times out after 5 s by default; with 20,000 in flight a slow run would fail: 60 s.
  const js = jetstream(nc, { timeout: 60_000 });
  return {
    pid: child.pid!,
    version: `nats-server ${nc.info?.version ?? '?'}`,
    async setup(topic) {
      await jsm.streams.add({ name: streamName(topic), subjects: [topic], storage: StorageType.File });
    },
    async produce(topic, count, yieldEvery) {
      return keepInFlight(count, () => js.publish(topic, BINARY_VALUE), yieldEvery);
    },
    async consume(topic, count) {
      const started = performance.now();
      // An ordered consumer: the client's way to read a stream from its start, no acks (as a
      // sealbus consumer assigned to partitions); 4 MiB buffered, as the sealbus consumer's window.
      const consumer = await js.consumers.get(streamName(topic));
      const messages = await consumer.consume({ max_bytes: 4 * 1024 * 1024 });
      let seen = 0;
      for await (const message of messages) {
        void message;
        if (++seen >= count) break;
      }
      const rate = count / ((performance.now() - started) / 1000);
      await messages.close();
      return rate;
    },
    async latency(topic, rate, seconds) {
      return atFixedRate(rate, seconds, () => js.publish(topic, BINARY_VALUE), 0);
    },
    async drop() {},
    async stop() {
      await nc.close();
      await stopProcess(child);
      removeDir(dir);
    },
  };
}

export function natsTarget(): Target {
  return {
    id: 'nats',
    system: 'nats',
    label: 'NATS JetStream, file storage',
    security: 'mTLS (client certificate verified); no per-subject permissions, no audit',
    durability:
      'ack after write to the OS page cache; fsync at the latest every 2 min (the default sync interval; 2.9 cannot change it). Loses acknowledged records on power loss, not on a process crash',
    payload: 'bytes, not parsed',
    start: startNats,
  };
}
