import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_SERVER_MISSING, natsServerBinary } from './nats-server.js';
import { waitFor } from './wait-for.js';

/**
 * Starts a NATS cluster with JetStream on loopback, for tests and `scripts/cluster.ts`: `size`
 * nodes (3 by default), each with its own client, route and monitoring port and its own data
 * folder, routes between all of them (with a random route password), ready once every node
 * reports the same JetStream meta leader. Nodes can be killed one by one (a real SIGKILL);
 * `stop()` ends every node and, unless `dir` was given, removes the folder. A process exit kills
 * the nodes too, so a crashed test leaves no server behind.
 */

export interface NatsClusterOptions {
  readonly size?: number;
  /** Clients must present this token. */
  readonly token?: string;
  /** TLS on the client ports; with `verify`, clients need a certificate signed by `caFile`. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string; readonly verify: boolean };
  /** Where the nodes' configurations and data go (kept by `stop()`); a fresh temporary folder otherwise. */
  readonly dir?: string;
  readonly readyTimeoutMs?: number;
  /** Out of the caller's process group, so that a Ctrl-C in a terminal reaches the caller alone (scripts/cluster.ts stops brokers first). */
  readonly detached?: boolean;
}

export interface NatsNode {
  readonly name: string;
  /** `nats://127.0.0.1:port` (a TLS client connects to `tls://` on the same port). */
  readonly url: string;
  readonly monitorUrl: string;
  readonly pid: number;
  running(): boolean;
  /** Sends `signal` and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface RunningNatsCluster {
  readonly dir: string;
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL. */
  readonly urls: readonly string[];
  /** The node leading JetStream's meta group, as the running nodes see it; null while none is elected. */
  metaLeader(): Promise<string | null>;
  /** The streams whose name starts with `prefix`, as the first running node that answers lists them. */
  streamNames(prefix: string): Promise<string[]>;
  /** The name of the node leading `stream`, or null when no running node reports one. */
  streamLeader(stream: string): Promise<string | null>;
  /** Everything the nodes wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A free loopback port (closed again before use: a small race, fine on a test machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function json(url: string): Promise<any> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
  return response?.status === 200 ? await response.json() : null;
}

interface StreamDetail {
  readonly name: string;
  readonly cluster?: { readonly leader?: string };
}

/** The streams a node holds a replica of (monitoring `/jsz`), or null when it does not answer. */
async function streamDetails(node: NatsNode): Promise<StreamDetail[] | null> {
  const jsz = await json(`${node.monitorUrl}/jsz?accounts=true&streams=true`);
  if (jsz === null) return null;
  return (jsz.account_details ?? []).flatMap((account: { stream_detail?: StreamDetail[] }) => account.stream_detail ?? []);
}

interface Ports {
  readonly client: number;
  readonly route: number;
  readonly monitor: number;
}

function configText(name: string, dir: string, ports: Ports, all: readonly Ports[], routePassword: string, options: NatsClusterOptions): string {
  const q = JSON.stringify;
  const routes = all.filter((other) => other !== ports).map((other) => q(`nats-route://route:${routePassword}@127.0.0.1:${other.route}`));
  const lines = [
    `server_name: ${name}`,
    'host: 127.0.0.1',
    `port: ${ports.client}`,
    `http: "127.0.0.1:${ports.monitor}"`,
    // Room for sealbus batches (16 MiB by default, see docs/cluster.md).
    `max_payload: ${20 * 1024 * 1024}`,
    `jetstream { store_dir: ${q(dir)} }`,
    'cluster {',
    '  name: sealbus',
    '  host: 127.0.0.1',
    `  port: ${ports.route}`,
    `  authorization { user: route, password: ${q(routePassword)} }`,
    `  routes: [${routes.join(', ')}]`,
    '}',
  ];
  if (options.token !== undefined) lines.push(`authorization { token: ${q(options.token)} }`);
  const tls = options.tls;
  if (tls !== undefined) {
    lines.push(`tls { cert_file: ${q(tls.certFile)}, key_file: ${q(tls.keyFile)}, ca_file: ${q(tls.caFile)}, verify: ${tls.verify} }`);
  }
  return `${lines.join('\n')}\n`;
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<RunningNatsCluster> {
  if (natsServerBinary === null) throw new Error(NATS_SERVER_MISSING);
  const size = options.size ?? 3;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sealbus-nats-cluster-')));
  const ports: Ports[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const routePassword = randomBytes(16).toString('hex');
  let log = '';
  const children: ChildProcess[] = [];
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`;
    const nodeDir = join(dir, name);
    await mkdir(nodeDir, { recursive: true, mode: 0o700 });
    const configFile = join(nodeDir, 'nats.conf');
    await writeFile(configFile, configText(name, nodeDir, ports[i]!, ports, routePassword, options), { mode: 0o600 });
    const child = spawn(natsServerBinary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
    children.push(child);
    const append = (chunk: Buffer): void => void (log += `[${name}] ${chunk.toString('utf8')}`);
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    nodes.push({
      name,
      url: `nats://127.0.0.1:${ports[i]!.client}`,
      monitorUrl: `http://127.0.0.1:${ports[i]!.monitor}`,
      pid: child.pid!,
      running: () => child.exitCode === null && child.signalCode === null,
      async kill(signal) {
        child.kill(signal);
        await exited(child);
      },
    });
  }

  const running = (): NatsNode[] => nodes.filter((node) => node.running());
  const metaLeader = async (): Promise<string | null> => {
    for (const node of running()) {
      const leader = (await json(`${node.monitorUrl}/jsz`))?.meta_cluster?.leader;
      if (typeof leader === 'string' && leader.length > 0) return leader;
    }
    return null;
  };
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killAll);
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited(child);
        clearTimeout(timer);
      }),
    );
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
  };
  const cluster: RunningNatsCluster = {
    dir,
    nodes,
    urls: nodes.map((node) => node.url),
    metaLeader,
    async streamNames(prefix) {
      for (const node of running()) {
        const details = await streamDetails(node);
        if (details !== null) return details.map((detail) => detail.name).filter((name) => name.startsWith(prefix));
      }
      return [];
    },
    async streamLeader(stream) {
      for (const node of running()) {
        const leader = (await streamDetails(node))?.find((detail) => detail.name === stream)?.cluster?.leader;
        if (typeof leader === 'string' && leader.length > 0) return leader;
      }
      return null;
    },
    output: () => log,
    stop,
  };

  try {
    const deadline = options.readyTimeoutMs ?? 30_000;
    await waitFor(
      async () => {
        const dead = children.find((child) => child.exitCode !== null);
        if (dead !== undefined) throw new Error(`a nats-server node exited with ${dead.exitCode}:\n${log}`);
        // Ready when every node answers /healthz (JetStream included) and all name the same meta leader.
        const leaders = await Promise.all(
          nodes.map(async (node) => ((await json(`${node.monitorUrl}/healthz`)) === null ? null : ((await json(`${node.monitorUrl}/jsz`))?.meta_cluster?.leader ?? null))),
        );
        return leaders[0] !== null && leaders[0] !== '' && leaders.every((leader) => leader === leaders[0]);
      },
      `the ${size} nats-server nodes agree on a JetStream meta leader`,
      deadline,
    );
    return cluster;
  } catch (err) {
    await stop();
    throw err instanceof Error ? new Error(`${err.message}\n${log}`) : err;
  }
}
