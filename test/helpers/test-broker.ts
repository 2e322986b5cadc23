import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateThumbprint, issueCertificate, type PemPair } from '../../src/auth/index.js';
import type { SealbusConfig } from '../../src/config/index.js';
import { DEV_ADMIN, prepareDevEnvironment, writeAdminEnv, type DevEnvironment } from '../../src/server/dev-environment.js';
import { startBroker, type RunningBroker, type StartOptions } from '../../src/server/start.js';

/** A client's credentials: certificate, key and (optionally) a token. */
export interface ClientCredentials {
  readonly cert: string;
  readonly key: string;
  readonly token?: string;
}

export interface TestBroker {
  readonly broker: RunningBroker;
  readonly env: DevEnvironment;
  readonly url: string;
  readonly ca: string;
  readonly caPair: PemPair;
  readonly admin: ClientCredentials & { token: string };
  /** The folder of the policy files in force (only when `policies` was given). */
  readonly policyDir: string | undefined;
  /** Stops the broker and starts it again on the same folder (data, keys, policies), on a new port. */
  restart(): Promise<void>;
  /** Issues a client certificate from the broker's CA and a token bound to it. */
  client(name: string, options?: { ttlSeconds?: number; bound?: boolean }): Promise<ClientCredentials & { token: string }>;
  request(
    method: string,
    path: string,
    options?: { credentials?: Partial<ClientCredentials> | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }>;
  close(): Promise<void>;
}

/**
 * The one way tests start a broker: `sealbus dev`'s material in a temporary folder, port 0, the
 * production start path. Close it in afterAll/afterEach.
 */
export async function startTestBroker(
  options: StartOptions & {
    configure?: (config: SealbusConfig, env: DevEnvironment) => SealbusConfig | Promise<SealbusConfig>;
    /** Policy files (name → YAML) enforced instead of the shipped example set (`policies/`). */
    policies?: Record<string, string>;
  } = {},
): Promise<TestBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-broker-'));
  let policyDir: string | undefined;
  if (options.policies !== undefined) {
    policyDir = join(dir, 'policies');
    await mkdir(policyDir);
    for (const [name, text] of Object.entries(options.policies)) await writeFile(join(policyDir, name), text);
  }
  const env = await prepareDevEnvironment(dir, { port: 0, logLevel: 'silent', ...(policyDir !== undefined && { policyDir }) });
  const config = (await options.configure?.(env.config, env)) ?? env.config;
  let broker: RunningBroker;
  try {
    broker = await startBroker(config, options);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const adminToken = await writeAdminEnv(env, broker);
  const ca = await readFile(env.files.ca, 'utf8');
  const caPair = { certPem: ca, keyPem: await readFile(join(dir, 'certs', 'ca.key'), 'utf8') };
  const admin = { cert: await readFile(env.files.adminCert, 'utf8'), key: await readFile(env.files.adminKey, 'utf8'), token: adminToken };
  let url = `https://localhost:${broker.port}`;

  const request: TestBroker['request'] = (method, path, opts = {}) => {
    const credentials = opts.credentials === undefined ? admin : opts.credentials;
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { ...opts.headers };
    if (credentials?.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url + path,
        {
          method,
          ca,
          ...(credentials?.cert !== undefined && { cert: credentials.cert }),
          ...(credentials?.key !== undefined && { key: credentials.key }),
          headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? null : JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };

  return {
    get broker() {
      return broker;
    },
    env,
    get url() {
      return url;
    },
    ca,
    caPair,
    admin,
    policyDir,
    async client(name, clientOptions = {}) {
      const pair = await issueCertificate({ ca: caPair, commonName: name, client: true, extendedKeyUsage: 'client' });
      const token = await broker.issuer.issueToken({
        sub: name,
        ttlSeconds: clientOptions.ttlSeconds ?? 3600,
        audience: config.auth.audience,
        ...(clientOptions.bound !== false && { bindThumbprint: certificateThumbprint(pair.certPem) }),
      });
      return { cert: pair.certPem, key: pair.keyPem, token };
    },
    request,
    async restart() {
      await broker.close();
      broker = await startBroker(config, options);
      url = `https://localhost:${broker.port}`;
    },
    async close() {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { DEV_ADMIN };
