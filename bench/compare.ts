/**
 * sealbus side by side with NATS JetStream and Redis Streams, on this machine, in one run: each
 * server started on a free loopback port with a temporary data folder, each driven by its own Node
 * client with the same workload (1 KiB records; produce with many in flight, then read everything
 * back; publish-to-ack latency at a fixed rate), each row's durability setting next to its figures.
 * sealbus runs with every security feature on, then with each one the product lets you turn off,
 * off. A raw-disk row (disk.ts) measures what an fsync before each ack costs with no server at
 * all. The latency test runs with every row's server up, the rows taking turns one second at a
 * time (run.ts). Progress on stderr, one line per step; the results as markdown on stdout.
 *
 * Usage: npm run bench:compare -- [--records 100000] [--runs 3] [--rate 5000] [--seconds 5]
 *   [--partitions 4] [--yield-every 100] [--only nats,sealbus-binary,...] [--json FILE]
 *   [--svg FILE (default bench/results/compare-latency.svg)]
 * Needs nats-server and redis-server on the machine (docs/benchmarks.md: which packages).
 * BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the sealbus brokers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { benchArgs } from './dev-broker.js';
import { currentLoad, describeMachine } from './compare/machine.js';
import { diskTarget } from './compare/disk.js';
import { natsTarget } from './compare/nats.js';
import { cleanUp, cleanUpOnExit } from './compare/processes.js';
import { redisTarget } from './compare/redis.js';
import { json, markdown } from './compare/report.js';
import { measureLatency, measureThroughput, startRow, stopRow, type LiveRow, type Settings } from './compare/run.js';
import { FEATURE_COSTS, NOT_OFF, sealbusTargets, writePolicySets } from './compare/sealbus.js';
import { latencySvg } from './compare/svg.js';

const args = benchArgs({
  records: 100_000,
  runs: 3,
  rate: 5000,
  seconds: 5,
  partitions: 4,
  'yield-every': 100,
  only: '',
  json: '',
  svg: 'bench/results/compare-latency.svg',
});
const settings: Settings = {
  records: args.records,
  runs: args.runs,
  rate: args.rate,
  seconds: args.seconds,
  partitions: args.partitions,
  yieldEvery: args['yield-every'],
};

const started = performance.now();
function log(line: string): void {
  const elapsed = Math.round((performance.now() - started) / 1000);
  const clock = `${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}`;
  process.stderr.write(`[${clock}] ${line}\n`);
}

async function writeOutput(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  log(`wrote ${file}`);
}

async function main(): Promise<void> {
  cleanUpOnExit();
  const machine = describeMachine();
  const policies = await writePolicySets();
  const all = [natsTarget(), redisTarget('everysec'), redisTarget('always'), diskTarget(), ...sealbusTargets(policies, settings.partitions)];
  const only = args.only === '' ? null : new Set(args.only.split(',').map((id) => id.trim()));
  const unknown = [...(only ?? [])].filter((id) => !all.some((t) => t.id === id));
  if (unknown.length > 0) throw new Error(`--only: no row ${unknown.join(', ')}; the rows are ${all.map((t) => t.id).join(', ')}`);
  const targets = all.filter((t) => only === null || only.has(t.id));
  log(
    `${targets.length} rows (${targets.map((t) => t.id).join(', ')}); each: latency at ${settings.rate}/s for ${settings.seconds} s, then ` +
      `${settings.runs} × (produce + consume ${settings.records} records); load average ${machine.loadAtStart.join(' ')} on ${machine.cpus} CPUs`,
  );
  const live: LiveRow[] = [];
  try {
    for (const target of targets) live.push(await startRow(target, log));
    await measureLatency(live, settings, log);
    for (const row of live) {
      await measureThroughput(row, settings, log);
      await stopRow(row);
    }
  } finally {
    for (const row of live) await stopRow(row);
  }
  const rows = live.map((row) => row.result);
  machine.loadAtEnd = currentLoad();
  const servers = Object.fromEntries(rows.filter((r) => r.version !== undefined).map((r) => [r.version!.split(' ')[0]!, r.version!]));
  const report = { settings, machine, servers, rows, featureCosts: FEATURE_COSTS, notOff: NOT_OFF };
  process.stdout.write(markdown(report));
  if (args.json !== '') await writeOutput(args.json, json(report));
  if (args.svg !== '') {
    const curves = rows.flatMap((r) => (r.latency === undefined ? [] : [{ id: `${r.id} (p99 ${r.latency.p99.toFixed(1)} ms)`, points: r.latency.curve, dashed: r.system !== 'sealbus' }]));
    await writeOutput(args.svg, latencySvg(`publish-to-ack latency at ${settings.rate.toLocaleString('en-US')} records/s, ${settings.seconds} s per row`, curves));
  }
  log(`done in ${Math.round((performance.now() - started) / 1000)} s`);
}

try {
  await main();
} finally {
  cleanUp();
}
