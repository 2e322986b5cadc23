/**
 * What the broker benchmarks share: a `sealbus dev` broker in its own process (as in production;
 * this process is the load generator), and the median of runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionOptions } from '../src/client/index.js';

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
