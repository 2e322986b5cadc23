import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for.js';

/**
 * Starts a real nats-server with JetStream for a test: loopback only, random ports (`-1`, learned
 * from the server's ports file), a fresh store directory, ready once /healthz says so. `stop()`
 * kills it and removes the directory; a process exit kills it too, so a crashed test leaves no
 * server behind.
 */

export const NATS_SERVER_MISSING =
  'nats-server is not installed: it comes with the Debian package "nats-server" (apt-get install nats-server)';

/** CI sets SEALBUS_REQUIRE_TOOLS=1: a missing nats-server is then a failure, not a skip. */
export const natsServerRequired = process.env.SEALBUS_REQUIRE_TOOLS === '1';

function findBinary(): string | null {
  const candidates = [process.env.NATS_SERVER, 'nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server'];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate.length === 0) continue;
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    if (spawnSync(candidate, ['--version'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  return null;
}

export const natsServerBinary = findBinary();

/** For `describe.skipIf(skipWithoutNatsServer(...))`: warns with the package name when the tests are skipped. */
export function skipWithoutNatsServer(file: string): boolean {
  if (natsServerBinary !== null || natsServerRequired) return false;
  console.warn(`${file} skipped: ${NATS_SERVER_MISSING}. CI sets SEALBUS_REQUIRE_TOOLS=1, which makes this a failure.`);
  return true;
}

export interface NatsServerOptions {
  /** Clients must present this token. */
  readonly token?: string;
  /** TLS on the client port; with `verify`, clients need a certificate signed by `caFile`. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string; readonly verify: boolean };
  /** Largest message; sealbus batches default to 16 MiB, so the default here leaves room for them. */
  readonly maxPayload?: number;
  readonly readyTimeoutMs?: number;
}

export interface RunningNatsServer {
  /** The client URL (nats://127.0.0.1:port). */
  readonly url: string;
  readonly monitorUrl: string;
  readonly pid: number;
  /** Everything the server wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

function quote(value: string): string {
  return JSON.stringify(value);
}

function configText(dir: string, options: NatsServerOptions): string {
  const lines = [
    'host: 127.0.0.1',
    'port: -1',
    'http: "127.0.0.1:-1"',
    `max_payload: ${options.maxPayload ?? 20 * 1024 * 1024}`,
    `ports_file_dir: ${quote(dir)}`,
    `jetstream { store_dir: ${quote(join(dir, 'store'))} }`,
  ];
  if (options.token !== undefined) lines.push(`authorization { token: ${quote(options.token)} }`);
  const tls = options.tls;
  if (tls !== undefined) {
    lines.push(`tls { cert_file: ${quote(tls.certFile)}, key_file: ${quote(tls.keyFile)}, ca_file: ${quote(tls.caFile)}, verify: ${tls.verify} }`);
  }
  return `${lines.join('\n')}\n`;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<RunningNatsServer> {
  if (natsServerBinary === null) throw new Error(NATS_SERVER_MISSING);
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-nats-'));
  const configFile = join(dir, 'nats.conf');
  await writeFile(configFile, configText(dir, options), { mode: 0o600 });
  const child = spawn(natsServerBinary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited(child);
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let ports: { nats: string[]; monitoring: string[] } | null = null;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log}`);
        const name = (await readdir(dir)).find((file) => file.endsWith(`_${child.pid}.ports`));
        if (name === undefined) return false;
        const text = await readFile(join(dir, name), 'utf8');
        if (!text.endsWith('}')) return false;
        ports = JSON.parse(text) as { nats: string[]; monitoring: string[] };
        return true;
      },
      'nats-server wrote its ports file',
      options.readyTimeoutMs ?? 10_000,
    );
    const { nats, monitoring } = ports!;
    const url = nats[0]!.replace(/^tls:/, 'nats:');
    const monitorUrl = monitoring[0]!;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log}`);
        const response = await fetch(`${monitorUrl}/healthz`).catch(() => null);
        return response?.status === 200;
      },
      'nats-server /healthz answered ok',
      options.readyTimeoutMs ?? 10_000,
    );
    return { url, monitorUrl, pid: child.pid!, output: () => log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
