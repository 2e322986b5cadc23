/**
 * What the broker benchmarks share: a `sealbus dev` broker in its own process (as in production;
 * this process is the load generator), and the median of runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

export async function startDevBroker(dir: string): Promise<{ child: ChildProcess; connection: ConnectionOptions }> {
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

/**
 * Produces `count` copies of `value` as fast as acks allow, with a bounded number outstanding (as a
 * real application would); with `keys`, sealed and signed for an encrypted topic. Returns records/s.
 */
export async function produceAll(connection: ConnectionOptions, topic: string, count: number, value: Buffer, keys?: ClientKeys): Promise<number> {
  const producer = new Producer({ connection, lingerMs: 2, ...(keys !== undefined && { encryption: { keys } }) });
  const started = performance.now();
  const window = Number(process.env.BENCH_WINDOW ?? 20_000);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    pending.push(producer.send({ topic, value }));
    if (pending.length >= window) await Promise.all(pending.splice(0, window / 2));
  }
  await Promise.all(pending);
  const rate = count / ((performance.now() - started) / 1000);
  await producer.close();
  return rate;
}

/** Consumes `count` records from every partition's start; with `keys`, verified and opened. Returns records/s. */
export async function consumeAll(connection: ConnectionOptions, topic: string, partitions: number, count: number, keys?: ClientKeys): Promise<number> {
  const consumer = new Consumer({ connection, windowBytes: 4 * 1024 * 1024, ...(keys !== undefined && { decryption: { keys } }) });
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

/** Runs `work` against a fresh `sealbus dev` broker in a temporary folder, then stops it and removes the folder. */
export async function withDevBroker(work: (connection: ConnectionOptions) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-'));
  const { child, connection } = await startDevBroker(dir);
  try {
    await work(connection);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}
