/**
 * Redis Streams: redis-server with the append-only file (`appendfsync always` or `everysec`), TLS
 * with client certificates required, driven by node-redis (`redis`, the client Redis maintains):
 * XADD with many commands in flight (it pipelines them), XREAD 1,000 entries at a time.
 */
import { readFile } from 'node:fs/promises';
import { createClient, RESP_TYPES } from 'redis';
import { atFixedRate, keepInFlight, stopProcess } from '../dev-broker.js';
import { freePort, orStop, removeDir, startServer, tempDir } from './processes.js';
import type { Session, Target } from './target.js';
import { makeTlsFiles } from './tls.js';
import { BINARY_VALUE } from './workload.js';

type Fsync = 'always' | 'everysec';

async function startRedis(fsync: Fsync): Promise<Session> {
  const dir = await tempDir(`redis-${fsync}`);
  const tls = await makeTlsFiles(dir);
  const port = await freePort();
  // No RDB snapshots: the append-only file is the durability under test, and a snapshot's fork in
  // the middle of a run would measure something else. AOF rewrites stay at their defaults.
  const { child } = await startServer(
    'redis-server',
    [
      ...['--bind', '127.0.0.1', '--port', '0', '--tls-port', String(port)],
      ...['--tls-cert-file', tls.serverCert, '--tls-key-file', tls.serverKey, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'yes'],
      ...['--dir', dir, '--appendonly', 'yes', '--appendfsync', fsync, '--save', ''],
      ...['--daemonize', 'no', '--logfile', ''],
    ],
    /Ready to accept connections/,
  );
  const [ca, cert, key] = await Promise.all([readFile(tls.ca), readFile(tls.clientCert), readFile(tls.clientKey)]);
  // A command times out after 5 s by default; with 20,000 in flight on `always`, the last ones wait
  // longer than that for their fsync. A slow row is a result, not an error: 60 s.
  const base = createClient({ socket: { host: '127.0.0.1', port, tls: true, ca, cert, key }, commandOptions: { timeout: 60_000 } });
  base.on('error', (err: Error) => process.stderr.write(`redis client: ${err.message}\n`));
  const info = await orStop(child, dir, async () => {
    await base.connect();
    return base.info('server');
  });
  // Values come back as Buffers, as sealbus and NATS hand them over: no UTF-8 decoding of 1 KiB each.
  const client = base.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const send = (topic: string): Promise<unknown> => client.xAdd(topic, '*', { v: BINARY_VALUE });
  return {
    pid: child.pid!,
    version: `redis-server ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`,
    async setup() {},
    async produce(topic, count, yieldEvery) {
      return keepInFlight(count, () => send(topic), yieldEvery);
    },
    async consume(topic, count) {
      const started = performance.now();
      let last: string | Buffer = '0-0';
      let seen = 0;
      while (seen < count) {
        const reply = await client.xRead({ key: topic, id: last }, { COUNT: 1000 });
        const messages = reply?.[0]?.messages ?? [];
        if (messages.length === 0) throw new Error(`redis stream ${topic} ended after ${seen} of ${count} entries`);
        seen += messages.length;
        last = messages[messages.length - 1]!.id;
      }
      return count / ((performance.now() - started) / 1000);
    },
    async latency(topic, rate, seconds) {
      return atFixedRate(rate, seconds, () => send(topic), 0);
    },
    async drop(topic) {
      await client.del(topic);
    },
    async stop() {
      await base.close();
      await stopProcess(child);
      removeDir(dir);
    },
  };
}

export function redisTarget(fsync: Fsync): Target {
  return {
    id: `redis-${fsync}`,
    system: 'redis',
    label: `Redis Streams, appendfsync ${fsync}`,
    security: 'mTLS (tls-auth-clients yes); no ACL user, no audit',
    durability:
      fsync === 'always'
        ? 'appendfsync always: the AOF is fsynced before the reply (one fsync per event-loop pass)'
        : 'appendfsync everysec: reply after write to the OS; fsync every second (loses up to ~1 s on power loss)',
    payload: 'bytes, not parsed',
    start: () => startRedis(fsync),
  };
}
