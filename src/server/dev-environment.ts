import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  certificateThumbprint,
  createCertificateAuthority,
  issueCertificate,
  PRIVATE_MODE,
  replaceFile,
  readCertificateFiles,
  writeCertificateFiles,
  type PemPair,
} from '../auth/index.js';
import { configFromObject, type SealbusConfig } from '../config/index.js';
import type { RunningBroker } from './start.js';

/** The principal `sealbus dev` makes an administrator. */
export const DEV_ADMIN = 'admin';

export interface DevEnvironment {
  readonly dir: string;
  readonly config: SealbusConfig;
  readonly files: { readonly ca: string; readonly adminCert: string; readonly adminKey: string; readonly env: string };
}

async function loadOrCreatePair(dir: string, name: string, create: () => Promise<PemPair>): Promise<PemPair> {
  if (existsSync(join(dir, `${name}.crt`)) && existsSync(join(dir, `${name}.key`))) return readCertificateFiles(dir, name);
  const pair = await create();
  await writeCertificateFiles(dir, name, pair);
  return pair;
}

/** The commented example policies shipped in `policies/`, which `sealbus dev` enforces. */
export const EXAMPLE_POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));

/**
 * Creates, when missing, everything a development broker needs under `dir`: a CA, a server
 * certificate for localhost, an admin client certificate, and the configuration pointing at them.
 * The checks are the production ones; only the material is generated for you.
 */
export async function prepareDevEnvironment(
  dirInput: string,
  options: { port?: number; host?: string; logLevel?: SealbusConfig['log']['level']; policyDir?: string } = {},
): Promise<DevEnvironment> {
  const dir = resolve(dirInput);
  const certs = join(dir, 'certs');
  await mkdir(certs, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreatePair(certs, 'ca', () => createCertificateAuthority({ commonName: 'sealbus development CA' }));
  await loadOrCreatePair(certs, 'server', () =>
    issueCertificate({ ca, commonName: 'localhost', server: { hosts: ['localhost', '127.0.0.1', '::1'] }, extendedKeyUsage: 'server' }),
  );
  await loadOrCreatePair(certs, DEV_ADMIN, () => issueCertificate({ ca, commonName: DEV_ADMIN, client: true, extendedKeyUsage: 'client' }));
  const config = configFromObject(
    {
      listen: { host: options.host ?? '127.0.0.1', port: options.port ?? 8443 },
      tls: { cert: 'certs/server.crt', key: 'certs/server.key', ca: 'certs/ca.crt' },
      store: { dir: 'data' },
      // The shipped example set: `admin` may do everything, the other example principals a little.
      policy: { dir: options.policyDir ?? EXAMPLE_POLICIES },
      log: { level: options.logLevel ?? 'warn' },
    },
    `sealbus dev (${dir})`,
    dir,
  );
  return {
    dir,
    config,
    files: {
      ca: join(certs, 'ca.crt'),
      adminCert: join(certs, `${DEV_ADMIN}.crt`),
      adminKey: join(certs, `${DEV_ADMIN}.key`),
      env: join(dir, 'admin.env'),
    },
  };
}

/**
 * Mints an admin token bound to the admin certificate and writes `admin.env` (mode 0600) with
 * everything the CLI and SDK need to connect. Returns the token.
 */
export async function writeAdminEnv(env: DevEnvironment, broker: RunningBroker, ttlSeconds = 7 * 24 * 3600): Promise<string> {
  const certPem = await readFile(env.files.adminCert, 'utf8');
  const token = await broker.issuer.issueToken({
    sub: DEV_ADMIN,
    ttlSeconds,
    audience: env.config.auth.audience,
    bindThumbprint: certificateThumbprint(certPem),
  });
  const url = `https://localhost:${broker.port}`;
  const lines = [
    `SEALBUS_URL=${url}`,
    `SEALBUS_CA=${env.files.ca}`,
    `SEALBUS_CERT=${env.files.adminCert}`,
    `SEALBUS_KEY=${env.files.adminKey}`,
    `SEALBUS_TOKEN=${token}`,
  ];
  // Created 0600 and renamed into place: the token is never readable by others, not even briefly.
  await replaceFile(env.files.env, `${lines.join('\n')}\n`, PRIVATE_MODE);
  return token;
}
