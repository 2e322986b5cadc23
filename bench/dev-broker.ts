/**
 * What the broker benchmarks share: a `sealbus dev` broker in its own process (as in production;
 * this process is the load generator), and the median of runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Consumer, Producer, type ClientKeys, type ConnectionOptions } from '../src/client/index.js';

/**
 * A benchmark's `--name value` options, each defaulting as given; numeric defaults make numeric
 * options (refused when not a number).
 */
export function benchArgs<T extends Record<string, number | string>>(defaults: T): T {
  const options = Object.fromEntries(Object.entries(defaults).map(([name, value]) => [name, { type: 'string' as const, default: String(value) }]));
  const { values } = parseArgs({ options });
  return Object.fromEntries(
    Object.entries(defaults).map(([name, fallback]) => {
      const given = String(values[name]);
      if (typeof fallback === 'string') return [name, given];
      const number = Number(given);
      if (!Number.isFinite(number)) throw new Error(`--${name} must be a number, not ${given}`);
      return [name, number];
    }),
  ) as T;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Starts a broker in its own process and waits until it listens. Without `config`, that is
 * `sealbus dev`; with it, the same development setup (`bench/compare/tuned-broker.ts`) with these
 * configuration keys merged over it (e.g. `{ audit: { dataAccess: 'none' } }`), for benchmarks of
 * settings `sealbus dev` does not take. `onSpawn` gets the process at once, before it is ready (so
 * that an interrupted start can still be cleaned up).
 */
export async function startDevBroker(
  dir: string,
  options: { config?: Record<string, unknown>; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<{ child: ChildProcess; connection: ConnectionOptions }> {
  const { config } = options;
  // BENCH_BROKER_NODE_ARGS (e.g. "--cpu-prof") profiles the broker process.
  const nodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const command =
    config === undefined
      ? [fileURLToPath(new URL('../bin/sealbus.js', import.meta.url)), 'dev', '--data', dir, '--port', '0']
      : ['--import', 'tsx', fileURLToPath(new URL('./compare/tuned-broker.ts', import.meta.url)), dir];
  const child = spawn(process.execPath, [...nodeArgs, ...command], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: config === undefined ? process.env : { ...process.env, SEALBUS_BENCH_CONFIG: JSON.stringify(config) },
  });
  options.onSpawn?.(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    // BENCH_BROKER_STDOUT=FILE keeps what the broker prints (with --trace-gc, its collections).
    const copy = process.env.BENCH_BROKER_STDOUT;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (copy !== undefined) appendFileSync(copy, chunk);
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

/**
 * Produces `count` copies of `value` as fast as acks allow, with a bounded number outstanding (as a
 * real application would); with `keys`, sealed and signed for an encrypted topic. Returns records/s.
 * `yieldEvery`: as keepInFlight's.
 */
export async function produceAll(connection: ConnectionOptions, topic: string, count: number, value: Buffer, keys?: ClientKeys, yieldEvery = 0): Promise<number> {
  const producer = new Producer({ connection, lingerMs: 2, ...(keys !== undefined && { encryption: { keys, ...cryptoThreads() } }) });
  const rate = await keepInFlight(count, () => producer.send({ topic, value }), yieldEvery);
  await producer.close();
  return rate;
}

/**
 * Calls `send` `count` times with up to BENCH_WINDOW (default 20,000) calls outstanding, as a real
 * application with many records in flight would, whatever the client. Returns completed calls/s.
 * With `yieldEvery`, lets the event loop run after every that many calls, as records arriving
 * from elsewhere would: acks are then read and bytes written while the window fills, instead of
 * after a burst of `window` synchronous calls (which hides no cost but serializes client and server).
 */
export async function keepInFlight(count: number, send: () => Promise<unknown>, yieldEvery = 0): Promise<number> {
  const started = performance.now();
  const window = Number(process.env.BENCH_WINDOW ?? 20_000);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    pending.push(send());
    if (pending.length >= window) await Promise.all(pending.splice(0, window / 2));
    else if (yieldEvery > 0 && i % yieldEvery === yieldEvery - 1) await new Promise(setImmediate);
  }
  await Promise.all(pending);
  return count / ((performance.now() - started) / 1000);
}

/**
 * Calls `send` `rate` times a second for `seconds` and returns each call's latency (from the call
 * to its settling) in ms, sorted. When behind schedule it still lets the event loop run every few
 * calls, so that acks are read as they come rather than after a catch-up burst.
 */
/**
 * Seconds at the measured rate before measuring. Connections, key and schema lookups, compiled
 * validators and worker threads are set up in the first; the JIT takes the next two to settle (a
 * sealbus broker's p99 over its first second measured was 3 to 4 times its p99 after the third).
 * Every system's row gets the same, so that each is measured as a service that has been running a while.
 */
export const LATENCY_WARMUP_SECONDS = 3;

export async function atFixedRate(rate: number, seconds: number, send: () => Promise<unknown>, warmupSeconds = LATENCY_WARMUP_SECONDS): Promise<number[]> {
  if (warmupSeconds > 0) await paced(rate, warmupSeconds, send, []);
  const latencies: number[] = [];
  await paced(rate, seconds, send, latencies);
  return latencies.sort((a, b) => a - b);
}

/** Sends `rate` times a second for `seconds`, each on its own, recording each publish-to-ack time. */
async function paced(rate: number, seconds: number, send: () => Promise<unknown>, latencies: number[]): Promise<void> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    else if (i % 16 === 15) await new Promise(setImmediate);
    const sentAt = performance.now();
    inflight.push(send().then(() => void latencies.push(performance.now() - sentAt)));
  }
  await Promise.all(inflight);
}

/** The `p`th percentile (0 to 100) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** BENCH_CRYPTO_THREADS overrides the SDK's default worker threads for sealing and opening. */
function cryptoThreads(): { threads?: number } {
  const threads = process.env.BENCH_CRYPTO_THREADS;
  return threads === undefined ? {} : { threads: Number(threads) };
}

/** Consumes `count` records from every partition's start; with `keys`, verified and opened. Returns records/s. */
export async function consumeAll(connection: ConnectionOptions, topic: string, partitions: number, count: number, keys?: ClientKeys): Promise<number> {
  const consumer = new Consumer({ connection, windowBytes: 4 * 1024 * 1024, ...(keys !== undefined && { decryption: { keys, ...cryptoThreads() } }) });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, start: 'earliest' as const })));
  const started = performance.now();
  let seen = 0;
  for await (const record of consumer) {
    if (keys !== undefined && record.producer === undefined) throw new Error('an encrypted record came without a verified producer');
    if (++seen >= count) break;
  }
  const rate = count / ((performance.now() - started) / 1000);
  await consumer.close();
  return rate;
}

/**
 * Runs `work` against a fresh `sealbus dev` broker in a temporary folder (with `config`: those
 * configuration keys over the dev setup, as startDevBroker's), then stops it and removes the folder.
 */
export async function withDevBroker(work: (connection: ConnectionOptions, brokerPid: number) => Promise<void>, config?: Record<string, unknown>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-'));
  const { child, connection } = await startDevBroker(dir, config === undefined ? {} : { config });
  try {
    await work(connection, child.pid!);
  } finally {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  }
}

/** SIGTERM (a broker then closes its store cleanly and writes its --cpu-prof); SIGKILL after 10 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
