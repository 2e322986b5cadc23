/**
 * Two sealbus brokers over a 3-node NATS JetStream cluster, on loopback (`npm run cluster -- [dir]`,
 * docs/cluster.md "Try it on one machine"). Everything secret is made at run time under `dir`
 * (a temporary folder by default): the NATS CA, server and broker certificates and token, and
 * `sealbus dev`'s CA, certificates and issuer keys, which both brokers share. Ctrl-C stops it all.
 *
 * The functions that write the brokers' configurations and run `sealbus serve` are exported for
 * the kill -9 test (test/e2e/cluster-failover.test.ts), so the test runs what the guide runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  LocalIssuer,
  PRIVATE_MODE,
  certificateThumbprint,
  createCertificateAuthority,
  issueCertificate,
  replaceFile,
  writeCertificateFiles,
} from '../src/auth/index.js';
import { loadConfigFile } from '../src/config/index.js';
import { DEV_ADMIN, EXAMPLE_POLICIES, prepareDevEnvironment, type DevEnvironment } from '../src/server/dev-environment.js';
import { freePort, startNatsCluster } from '../test/helpers/nats-cluster.js';
import { waitFor } from '../test/helpers/wait-for.js';

const SEALBUS_BIN = fileURLToPath(new URL('../bin/sealbus.js', import.meta.url));

/** What brokers need to reach the NATS cluster (file paths; the token's value is for nats-server's configuration). */
export interface NatsAccess {
  readonly servers: readonly string[];
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly tokenFile: string;
}

export interface BrokerSpec {
  readonly id: string;
  readonly url: string;
  readonly configFile: string;
}

/** The NATS back end's own CA, a server certificate for loopback, the brokers' client certificate and token (kept when present). */
export async function natsPki(dir: string) {
  const files = {
    ca: join(dir, 'ca.crt'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'broker.crt'), clientKey: join(dir, 'broker.key'), tokenFile: join(dir, 'token'),
  };
  if (!existsSync(files.tokenFile)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const ca = await createCertificateAuthority({ commonName: 'sealbus NATS back-end CA' });
    await writeCertificateFiles(dir, 'ca', ca);
    await writeCertificateFiles(dir, 'server', await issueCertificate({ ca, commonName: 'nats', server: { hosts: ['127.0.0.1', 'localhost'] }, extendedKeyUsage: 'server' }));
    await writeCertificateFiles(dir, 'broker', await issueCertificate({ ca, commonName: 'sealbus-broker', client: true, extendedKeyUsage: 'client' }));
    await writeFile(files.tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: PRIVATE_MODE });
  }
  return { ...files, token: (await readFile(files.tokenFile, 'utf8')).trim() };
}

/**
 * `sealbus dev`'s material in `dir/broker-a` (CA, server and admin certificates), and one
 * configuration file per broker: its own port, store folder and `audit.brokerId`; the same CA,
 * server certificate, issuer keyring, NATS servers and stream prefix (docs/cluster.md).
 */
export async function writeBrokerConfigs(dir: string, nats: NatsAccess, ids: readonly string[] = ['broker-a', 'broker-b']) {
  const env = await prepareDevEnvironment(join(dir, ids[0]!), { port: 0 });
  const certs = join(env.dir, 'certs');
  const brokers: BrokerSpec[] = [];
  for (const id of ids) {
    const home = join(dir, id);
    await mkdir(home, { recursive: true, mode: 0o700 });
    const port = await freePort();
    const config = {
      listen: { host: '127.0.0.1', port },
      tls: { cert: join(certs, 'server.crt'), key: join(certs, 'server.key'), ca: join(certs, 'ca.crt') },
      policy: { dir: EXAMPLE_POLICIES },
      auth: { localIssuer: { keyDir: join(dir, 'issuer') } },
      audit: { brokerId: id },
      store: {
        kind: 'jetstream', dir: join(home, 'data'), servers: nats.servers.map((url) => url.replace(/^nats:/, 'tls:')),
        tls: { ca: nats.ca, cert: nats.clientCert, key: nats.clientKey }, tokenFile: nats.tokenFile, replicas: 3, streamPrefix: 'sealbus',
      },
      log: { level: 'warn' },
    };
    const configFile = join(home, 'sealbus.json');
    await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
    brokers.push({ id, url: `https://localhost:${port}`, configFile });
  }
  return { env, brokers };
}

/** Mints an admin token bound to the admin certificate with the shared issuer keyring, and writes `admin.env` (mode 0600) for `url`. */
export async function writeAdminEnv(env: DevEnvironment, broker: BrokerSpec, file = join(resolve(env.dir, '..'), 'admin.env')): Promise<{ file: string; token: string }> {
  const config = await loadConfigFile(broker.configFile);
  const issuer = await LocalIssuer.loadOrCreate(config.auth.localIssuer.keyDir!, { issuer: config.auth.localIssuer.issuer });
  const token = await issuer.issueToken({
    sub: DEV_ADMIN, ttlSeconds: 24 * 3600, audience: config.auth.audience,
    bindThumbprint: certificateThumbprint(await readFile(env.files.adminCert, 'utf8')),
  });
  const lines = [`SEALBUS_URL=${broker.url}`, `SEALBUS_CA=${env.files.ca}`, `SEALBUS_CERT=${env.files.adminCert}`, `SEALBUS_KEY=${env.files.adminKey}`, `SEALBUS_TOKEN=${token}`];
  await replaceFile(file, `${lines.join('\n')}\n`, PRIVATE_MODE);
  return { file, token };
}

/** The status of `GET /readyz` (certificate only, no token), or 0 when the broker does not answer. */
function readyStatus(url: string, material: { ca: string; cert: string; key: string }): Promise<number> {
  return new Promise((done) => {
    const req = request(`${url}/readyz`, { ...material, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}

export interface BrokerProcess {
  readonly spec: BrokerSpec;
  readonly child: ChildProcess;
  output(): string;
  running(): boolean;
  /** Sends `signal` and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Runs `sealbus serve --config` in a child process and resolves once its /readyz answers 200. */
export async function startServe(
  spec: BrokerSpec,
  env: DevEnvironment,
  options: { echo?: boolean; timeoutMs?: number; detached?: boolean } = {},
): Promise<BrokerProcess> {
  // `detached`: out of the terminal's process group, so that Ctrl-C reaches the script alone, which stops brokers before NATS.
  const child = spawn(process.execPath, [SEALBUS_BIN, 'serve', '--config', spec.configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  let log = '';
  const onData = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (options.echo === true) process.stderr.write(chunk.toString('utf8').replace(/^(?=.)/gm, `[${spec.id}] `));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (!running()) return;
    const gone = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill(signal);
    await gone;
  };
  const material = { ca: await readFile(env.files.ca, 'utf8'), cert: await readFile(env.files.adminCert, 'utf8'), key: await readFile(env.files.adminKey, 'utf8') };
  try {
    await waitFor(
      async () => {
        if (!running()) throw new Error(`${spec.id} exited (${child.exitCode ?? child.signalCode}):\n${log}`);
        return (await readyStatus(spec.url, material)) === 200;
      },
      `${spec.id} answers /readyz`,
      options.timeoutMs ?? 60_000,
    );
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }
  return { spec, child, output: () => log, running, kill };
}

/** Stops a broker as Ctrl-C does (SIGTERM: it releases its broker id), SIGKILL after `graceMs`. */
export async function stopServe(broker: BrokerProcess, graceMs = 10_000): Promise<void> {
  const timer = setTimeout(() => broker.child.kill('SIGKILL'), graceMs);
  await broker.kill('SIGTERM');
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'sealbus-cluster-'))));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pki = await natsPki(join(dir, 'nats-pki'));
  const nats = await startNatsCluster({ dir: join(dir, 'nats'), detached: true, token: pki.token, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca, verify: true } });
  const brokers: BrokerProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const broker of brokers.reverse()) await stopServe(broker);
    await nats.stop();
  };
  try {
    const { env, brokers: specs } = await writeBrokerConfigs(dir, { servers: nats.urls, ...pki });
    for (const spec of specs) brokers.push(await startServe(spec, env, { echo: true, detached: true }));
    const admin = await writeAdminEnv(env, specs[0]!);
    const lines = [
      '',
      '  sealbus: 2 brokers over a 3-node NATS JetStream cluster (R3), on loopback',
      ...specs.map((spec) => `  ${spec.id}    ${spec.url}   (${spec.configFile})`),
      ...nats.nodes.map((node) => `  nats ${node.name}     ${node.url.replace(/^nats:/, 'tls:')}   monitoring ${node.monitorUrl}`),
      `  material    ${dir} (generated for this try, not for production)`,
      '',
      '  In another shell:',
      `    set -a; . ${admin.file}; set +a`,
      '    npx sealbus topics create demo --partitions 3',
      '    echo hello | npx sealbus produce demo',
      `    SEALBUS_URL=${specs[1]!.url} npx sealbus consume demo --from-beginning --max 1`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (err) {
    await stop();
    throw err;
  }
  // Kept installed while stopping: a second Ctrl-C must not kill the script and orphan its (detached) children.
  await new Promise<void>((done) => {
    let stopping = false;
    const onSignal = (): void => {
      process.stdout.write(stopping ? 'still stopping...\n' : 'stopping...\n');
      stopping = true;
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await stop();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
