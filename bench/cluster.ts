/**
 * Two brokers over R3 JetStream against one broker on the file store, in the same run (issue 11).
 *
 * - `file`: one `sealbus dev` broker on the embedded file store (fsync before ack, group commit).
 * - `cluster`: a 3-node NATS JetStream cluster on loopback and two `sealbus serve` brokers over it
 *   with `store.replicas: 3`, set up by the functions `npm run cluster` runs (scripts/cluster.ts).
 *
 * Both run with every security check on, the defaults: mTLS, a JWT bound to the client certificate,
 * the example policies, the audit log (an event per batch, fail closed). Both setups are started
 * once; the runs then alternate between them (file, cluster, file, cluster...), so that both rows
 * see the same moments of a busy machine. Each run, on fresh topics of `--partitions`:
 *
 * 1. ack latency: `--rate` records/s for `--seconds` (after a warm-up at that rate, not measured), each
 *    its own publish (`lingerMs: 0`), sent in turn by `--producers` idempotent producers;
 * 2. produce: `--records` 1 KiB records split over `--producers` idempotent producers (the SDK's
 *    batches, `lingerMs: 2`), each with up to BENCH_WINDOW (20,000) sends outstanding;
 * 3. consume: `--consumers` consumers, each reading the whole topic from the start.
 *
 * Producers and consumers take the brokers in turn (number i on broker i mod 2 in the cluster; all
 * on the one broker for the file store); `--brokers 1` puts all of them on the cluster's first
 * broker (both still run). Progress on stderr; the results as markdown on stdout.
 *
 * Usage: npm run bench:cluster -- [--records 40000] [--runs 3] [--rate 2000] [--seconds 5]
 *   [--partitions 4] [--producers 2] [--consumers 2] [--brokers 2] [--yield-every 100]
 * Needs nats-server (Debian: apt-get install nats-server). Every process and folder it starts is
 * removed at the end, on error and on Ctrl-C.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Producer, type ConnectionOptions } from '../src/client/index.js';
import { natsPki, startServe, stopServe, writeAdminEnv, writeBrokerConfigs, type BrokerProcess } from '../scripts/cluster.js';
import { startNatsCluster, type RunningNatsCluster } from '../test/helpers/nats-cluster.js';
import { natsServerBinary } from '../test/helpers/nats-server.js';
import { LATENCY_WARMUP_SECONDS, atFixedRate, benchArgs, consumeAll, median, percentile, produceAll, startDevBroker, stopProcess } from './dev-broker.js';
import { currentLoad, describeMachine } from './compare/machine.js';
import { BINARY_VALUE, RECORD_BYTES } from './compare/workload.js';

const args = benchArgs({ records: 40_000, runs: 3, rate: 2000, seconds: 5, partitions: 4, producers: 2, consumers: 2, brokers: 2, 'yield-every': 100 });
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20_000);
for (const name of ['records', 'runs', 'rate', 'seconds', 'partitions', 'producers', 'consumers', 'brokers'] as const) {
  if (!Number.isInteger(args[name]) || args[name] < 1) throw new Error(`--${name} must be a positive integer, not ${args[name]}`);
}

const started = performance.now();
function log(line: string): void {
  const elapsed = Math.round((performance.now() - started) / 1000);
  process.stderr.write(`[${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}] ${line}\n`);
}

/** One run's figures for one setup. */
interface Figures {
  readonly produce: number;
  readonly consume: number;
  readonly p50: number;
  readonly p99: number;
}

interface Setup {
  readonly id: 'file' | 'cluster';
  readonly label: string;
  /** The brokers' connections (admin credentials); client i uses number i mod length. */
  readonly connections: readonly ConnectionOptions[];
  readonly ack: string;
}

// Everything started, so that it is stopped and removed on every way out.
const dirs: string[] = [];
let devBroker: ChildProcess | undefined;
const serveBrokers: BrokerProcess[] = [];
let nats: RunningNatsCluster | undefined;
const admins: Admin[] = [];

let stopping: Promise<void> | undefined;
/** Stops the brokers, then the NATS nodes, then removes the folders; once, however often called. */
function stopEverything(): Promise<void> {
  stopping ??= (async () => {
    for (const admin of admins) admin.close();
    const quietly = (what: string) => (err: unknown) => log(`stopping ${what}: ${err instanceof Error ? err.message : String(err)}`);
    // The brokers first (each releases its broker id through NATS), then the NATS nodes.
    await Promise.all(serveBrokers.map((broker) => stopServe(broker).catch(quietly(broker.spec.id))));
    if (devBroker !== undefined) await stopProcess(devBroker).catch(quietly('the file-store broker'));
    await nats?.stop().catch(quietly('the NATS nodes'));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(quietly(dir));
  })();
  return stopping;
}

// Last resort (an exception, process.exit): kill what is left, remove the folders, synchronously.
process.once('exit', () => {
  devBroker?.kill('SIGKILL');
  for (const broker of serveBrokers) broker.child.kill('SIGKILL');
  for (const node of nats?.nodes ?? []) {
    try {
      if (node.running()) process.kill(node.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});
// Ctrl-C: stop in order; kept installed, so that a second Ctrl-C does not orphan the (detached) NATS nodes and brokers.
let interrupted = false;
const onSignal = (): void => {
  process.stderr.write(interrupted ? 'still stopping...\n' : '\ninterrupted: stopping the brokers and NATS nodes, removing their folders\n');
  if (interrupted) return;
  interrupted = true;
  void stopEverything().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function startFileSetup(): Promise<Setup> {
  const dir = await tempDir('sealbus-bench-cluster-file-');
  const { connection } = await startDevBroker(dir, { onSpawn: (child) => void (devBroker = child) });
  return { id: 'file', label: '1 broker, file store', connections: [connection], ack: 'after fsync (group commit), on the one machine' };
}

async function startClusterSetup(): Promise<Setup> {
  const dir = await tempDir('sealbus-bench-cluster-');
  const pki = await natsPki(join(dir, 'nats-pki'));
  // Detached: a Ctrl-C reaches this process alone, which stops the brokers before the NATS nodes.
  nats = await startNatsCluster({ dir: join(dir, 'nats'), detached: true, token: pki.token, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca, verify: true } });
  log(`NATS: ${nats.nodes.map((node) => `${node.name} ${node.url}`).join(', ')}`);
  const { env, brokers: specs } = await writeBrokerConfigs(dir, { servers: nats.urls, ...pki });
  if (args.brokers > specs.length) throw new Error(`--brokers: the cluster has ${specs.length} brokers`);
  for (const spec of specs) {
    serveBrokers.push(await startServe(spec, env, { detached: true }));
    log(`${spec.id}: ${spec.url}`);
  }
  const { token } = await writeAdminEnv(env, specs[0]!);
  const credentials = { ca: readFileSync(env.files.ca), cert: readFileSync(env.files.adminCert), key: readFileSync(env.files.adminKey), token };
  return {
    id: 'cluster',
    label: `${specs.length} brokers, R3 JetStream (3 NATS nodes)${args.brokers < specs.length ? `, clients on ${args.brokers}` : ''}`,
    connections: specs.slice(0, args.brokers).map((spec) => ({ url: spec.url, ...credentials })),
    ack: 'after the stream leader and one more of the 3 replicas stored it; no fsync (nats-server 2.9: every 2 min)',
  };
}

async function measure(setup: Setup, run: number): Promise<Figures> {
  const connectionOf = (i: number): ConnectionOptions => setup.connections[i % setup.connections.length]!;
  const admin = new Admin({ connection: connectionOf(0) });
  admins.push(admin);
  const latencyTopic = `bench.cluster.${setup.id}.latency${run}`;
  const topic = `bench.cluster.${setup.id}.run${run}`;
  await admin.createTopic({ name: latencyTopic, partitions: args.partitions });
  await admin.createTopic({ name: topic, partitions: args.partitions });

  // 1. Ack latency at a fixed rate, each record its own publish, the producers in turn.
  const producers = Array.from({ length: args.producers }, (_, i) => new Producer({ connection: connectionOf(i), lingerMs: 0 }));
  let next = 0;
  const latencies = await atFixedRate(args.rate, args.seconds, () => producers[next++ % producers.length]!.send({ topic: latencyTopic, value: BINARY_VALUE }));
  await Promise.all(producers.map((producer) => producer.close()));

  // 2. Produce: the records split over the producers, all at once; the rate is the total over the wall time.
  const shares = Array.from({ length: args.producers }, (_, i) => Math.floor(args.records / args.producers) + (i < args.records % args.producers ? 1 : 0));
  let t0 = performance.now();
  await Promise.all(shares.map((count, i) => produceAll(connectionOf(i), topic, count, BINARY_VALUE, undefined, args['yield-every'])));
  const produce = args.records / ((performance.now() - t0) / 1000);

  // 3. Consume: every consumer reads the whole topic; the rate is records delivered in total over the wall time.
  t0 = performance.now();
  await Promise.all(Array.from({ length: args.consumers }, (_, i) => consumeAll(connectionOf(i), topic, args.partitions, args.records)));
  const consume = (args.consumers * args.records) / ((performance.now() - t0) / 1000);

  // Not timed: leave the next run an empty store (and the NATS cluster fewer streams).
  for (const name of [latencyTopic, topic]) await admin.deleteTopic(name).catch((err: unknown) => log(`deleting ${name}: ${err instanceof Error ? err.message : String(err)}`));
  admin.close();
  admins.splice(admins.indexOf(admin), 1);
  return { produce, consume, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const mb = (rate: number): string => ((rate * RECORD_BYTES) / 1e6).toFixed(1);
const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const times = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');

function report(setups: readonly Setup[], results: Map<Setup['id'], Figures[]>, machine: ReturnType<typeof describeMachine>, natsVersion: string): string {
  const med = (id: Setup['id'], figure: keyof Figures): number => median(results.get(id)!.map((f) => f[figure]));
  const row = (setup: Setup): string =>
    `| ${setup.label} | ${int(med(setup.id, 'produce'))} | ${mb(med(setup.id, 'produce'))} | ${int(med(setup.id, 'consume'))} | ${mb(med(setup.id, 'consume'))} | ${ms(med(setup.id, 'p50'))} / ${ms(med(setup.id, 'p99'))} | ${setup.ack} |`;
  const ratio = (figure: keyof Figures): string => times(med('cluster', figure) / med('file', figure));
  const runs = args.runs;
  const perRun = (id: Setup['id'], figure: keyof Figures, format: (n: number) => string): string => results.get(id)!.map((f) => format(f[figure])).join(', ');
  const lines = [
    '',
    `${int(args.records)} records of ${RECORD_BYTES} bytes per run over ${args.producers} idempotent producers (the SDK's batches, linger 2 ms; up to ${int(WINDOW)} sends outstanding each, the event loop let run every ${args['yield-every']}), ` +
      `then read from the start by ${args.consumers} consumers (each reads all of them; consume rec/s counts every delivery). ` +
      `Ack latency: ${int(args.rate)} records/s for ${args.seconds} s, each its own publish, the ${args.producers} producers in turn, after ${LATENCY_WARMUP_SECONDS} s not measured. ` +
      `Topics of ${args.partitions} partitions. Clients take the brokers in turn. Every security check on (mTLS, bound JWT, example policies, audit event per batch, fail closed). ` +
      `Medians of ${runs} run${runs === 1 ? '' : 's'}, the two setups alternating.`,
    '',
    `| setup | produce rec/s | MB/s | consume rec/s | MB/s | ack p50 / p99 at ${int(args.rate)}/s (ms) | an ack means |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...setups.map(row),
    `| cluster ÷ file | ${ratio('produce')} | | ${ratio('consume')} | | ${ratio('p50')} / ${ratio('p99')} | |`,
    '',
    'Every run (produce rec/s; consume rec/s; p99 ms):',
    '',
    ...setups.map((s) => `- ${s.id}: ${perRun(s.id, 'produce', int)}; ${perRun(s.id, 'consume', int)}; ${perRun(s.id, 'p99', ms)}`),
    '',
    `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.ramGiB} GiB; ${machine.disk}; ${machine.os}; Node ${machine.node}; sealbus ${machine.sealbus}; ${natsVersion}. ` +
      `Load average (1, 5, 15 min) at the start ${machine.loadAtStart.join(', ')}, at the end ${currentLoad().join(', ')}. All servers and clients share these cores.`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const natsVersion = natsServerBinary === null ? 'nats-server missing' : spawnSync(natsServerBinary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  log(`${args.runs} run(s) of: latency at ${args.rate}/s for ${args.seconds} s, produce ${args.records} records, consume; load average ${machine.loadAtStart.join(' ')} on ${machine.cpus} cores`);
  log('starting the file-store broker');
  const file = await startFileSetup();
  log(`file-store broker: ${file.connections[0]!.url}`);
  log('starting 3 NATS nodes and 2 brokers over them (R3)');
  const cluster = await startClusterSetup();
  const setups = [file, cluster];
  const results = new Map<Setup['id'], Figures[]>(setups.map((s) => [s.id, []]));
  for (let run = 0; run < args.runs; run++) {
    for (const setup of setups) {
      log(`run ${run + 1}/${args.runs}, ${setup.id}...`);
      const figures = await measure(setup, run);
      results.get(setup.id)!.push(figures);
      log(`run ${run + 1}/${args.runs}, ${setup.id}: produce ${int(figures.produce)} rec/s, consume ${int(figures.consume)} rec/s, ack p50 ${ms(figures.p50)} ms, p99 ${ms(figures.p99)} ms`);
    }
  }
  process.stdout.write(report(setups, results, machine, natsVersion));
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  if (!interrupted) process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  if (!interrupted) {
    log('stopping');
    await stopEverything();
    log(`done in ${Math.round((performance.now() - started) / 1000)} s`);
    // Clients' timers or sockets must not keep a finished benchmark alive.
    process.exit(failed ? 1 : 0);
  }
}
