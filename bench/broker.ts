/**
 * Broker benchmark: SDK producer → broker (mTLS + bound JWT, fsync before every ack) → SDK consumer,
 * 1 KiB records. The broker runs in its own process (`sealbus dev`), as it would in production;
 * this process is the load generator. Prints produce and consume records/s and the ack latency
 * at a fixed rate. Usage: npm run bench:broker [-- --records 200000 --runs 3 --rate 5000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Admin, Consumer, Producer, type ConnectionOptions } from '../src/client/index.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '5' },
    partitions: { type: 'string', default: '4' },
    only: { type: 'string', default: '' },
  },
});
const RECORDS = Number(args.records);
const RUNS = Number(args.runs);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const PARTITIONS = Number(args.partitions);
const VALUE = Buffer.alloc(1024, 'x');

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function startDevBroker(dir: string): Promise<{ child: ChildProcess; connection: ConnectionOptions }> {
  const bin = fileURLToPath(new URL('../bin/sealbus.js', import.meta.url));
  // BENCH_BROKER_NODE_ARGS (e.g. "--cpu-prof") profiles the broker process.
  const nodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, bin, 'dev', '--data', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ctrl-C stops the broker')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  const env = Object.fromEntries(
    readFileSync(join(dir, 'admin.env'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  return {
    child,
    connection: {
      url: env.SEALBUS_URL!,
      ca: readFileSync(env.SEALBUS_CA!),
      cert: readFileSync(env.SEALBUS_CERT!),
      key: readFileSync(env.SEALBUS_KEY!),
      token: env.SEALBUS_TOKEN!,
    },
  };
}

async function produceRun(connection: ConnectionOptions, topic: string): Promise<number> {
  const producer = new Producer({ connection, lingerMs: 2 });
  const started = performance.now();
  const window = Number(process.env.BENCH_WINDOW ?? 20_000); // records outstanding at once: bounded like a real application
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < RECORDS; i++) {
    pending.push(producer.send({ topic, value: VALUE }));
    if (pending.length >= window) await Promise.all(pending.splice(0, window / 2));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return RECORDS / seconds;
}

async function consumeRun(connection: ConnectionOptions, topic: string, expected: number): Promise<number> {
  const consumer = new Consumer({ connection, windowBytes: 4 * 1024 * 1024 });
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, start: 'earliest' as const })));
  const started = performance.now();
  let seen = 0;
  for await (const record of consumer) {
    void record;
    if (++seen >= expected) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await consumer.close();
  return expected / seconds;
}

async function latencyRun(connection: ConnectionOptions, topic: string): Promise<{ p50: number; p99: number; p999: number }> {
  const producer = new Producer({ connection, lingerMs: 0 });
  const latencies: number[] = [];
  const total = RATE * SECONDS;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = performance.now();
    inflight.push(producer.send({ topic, value: VALUE }).then(() => void latencies.push(performance.now() - sentAt)));
  }
  await Promise.all(inflight);
  await producer.close();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9) };
}

function describeLatency(latency: { p50: number; p99: number; p999: number } | null): string {
  if (latency === null) return 'not measured';
  return `p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, p99.9 ${latency.p999.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-'));
  const { child, connection } = await startDevBroker(dir);
  try {
    const admin = new Admin({ connection });
    // Latency first, on a fresh store, then again after the throughput runs: fsync latency after
    // gigabytes of writes includes the kernel's writeback of them, and both figures are honest.
    await admin.createTopic({ name: 'bench.latency', partitions: PARTITIONS });
    const fresh = args.only === 'produce' ? null : await latencyRun(connection, 'bench.latency');
    const produce: number[] = [];
    const consume: number[] = [];
    for (let run = 0; run < (args.only === 'latency' ? 0 : RUNS); run++) {
      const topic = `bench.run${run}`;
      await admin.createTopic({ name: topic, partitions: PARTITIONS });
      produce.push(await produceRun(connection, topic));
      consume.push(args.only === 'produce' ? 0 : await consumeRun(connection, topic, RECORDS));
      process.stdout.write(`run ${run + 1}/${RUNS}: produce ${Math.round(produce[run]!)} rec/s, consume ${Math.round(consume[run]!)} rec/s\n`);
    }
    const loaded = args.only === 'produce' || args.only === 'latency' ? null : await latencyRun(connection, 'bench.latency');
    admin.close();
    const mb = (rate: number): string => ((rate * VALUE.length) / 1e6).toFixed(1);
    process.stdout.write(
      [
        '',
        `sealbus broker benchmark: ${RECORDS} records of 1 KiB, ${PARTITIONS} partitions, mTLS + bound JWT, fsync before ack; median of ${RUNS} runs`,
        `| measure | value |`,
        `| --- | --- |`,
        `| produce (acked, durable) | ${Math.round(median(produce))} rec/s (${mb(median(produce))} MB/s) |`,
        `| consume | ${Math.round(median(consume))} rec/s (${mb(median(consume))} MB/s) |`,
        `| ack latency at ${RATE}/s for ${SECONDS} s, fresh store | ${describeLatency(fresh)} |`,
        `| ack latency at ${RATE}/s for ${SECONDS} s, after the throughput runs | ${describeLatency(loaded)} |`,
        '',
      ].join('\n'),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
