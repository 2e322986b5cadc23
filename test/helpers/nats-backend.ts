/**
 * A NATS back end as brokers reach it in production: its own CA (apart from the brokers'), a
 * server certificate, a client certificate for the brokers and a token, written to a temporary
 * folder (remove `dir` after the test); and the `store` block of a broker configuration that
 * uses it.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../src/auth/index.js';
import type { SealbusConfig } from '../../src/config/index.js';
import type { DevEnvironment } from '../../src/server/dev-environment.js';
import { startNatsServer, type RunningNatsServer } from './nats-server.js';
import type { TestBroker } from './test-broker.js';

export interface NatsBackendFiles {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly tokenFile: string;
  readonly token: string;
}

export async function natsBackendFiles(): Promise<NatsBackendFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-nats-pki-'));
  const ca = await createCertificateAuthority({ commonName: 'nats backend CA' });
  const server = await issueCertificate({ ca, commonName: 'nats', server: { hosts: ['127.0.0.1', 'localhost'] }, extendedKeyUsage: 'server' });
  const client = await issueCertificate({ ca, commonName: 'sealbus-broker', client: true, extendedKeyUsage: 'client' });
  const token = randomBytes(24).toString('hex');
  const files = { dir, ca: join(dir, 'ca.crt'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'), clientCert: join(dir, 'broker.crt'), clientKey: join(dir, 'broker.key'), tokenFile: join(dir, 'token'), token };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.serverCert, server.certPem);
  await writeFile(files.serverKey, server.keyPem, { mode: 0o600 });
  await writeFile(files.clientCert, client.certPem);
  await writeFile(files.clientKey, client.keyPem, { mode: 0o600 });
  await writeFile(files.tokenFile, `${token}\n`, { mode: 0o600 });
  return files;
}

/** A nats-server with JetStream that requires TLS with a client certificate and the token. */
export function startNatsBackend(files: NatsBackendFiles): Promise<RunningNatsServer> {
  return startNatsServer({ token: files.token, tls: { certFile: files.serverCert, keyFile: files.serverKey, caFile: files.ca, verify: true } });
}

/** `config` with its store on the JetStream back end (`tokenFile` replaces the real token, e.g. with a wrong one). */
export function onJetStream(config: SealbusConfig, nats: RunningNatsServer, files: NatsBackendFiles, streamPrefix: string, tokenFile = files.tokenFile): SealbusConfig {
  return {
    ...config,
    store: {
      kind: 'jetstream',
      dir: config.store.dir,
      retentionCheckMs: config.store.retentionCheckMs,
      servers: [nats.url.replace(/^nats:/, 'tls:')],
      tls: { ca: files.ca, cert: files.clientCert, key: files.clientKey },
      tokenFile,
      streamPrefix,
    },
  };
}

/**
 * startTestBroker's `configure` for one of several brokers on one JetStream store: the store, the
 * broker's own id and, for every broker but the first (`shareFrom`), the first one's CA,
 * certificates and issuer keys, so that every broker accepts the same clients and tokens.
 */
export function sharedStoreBroker(nats: RunningNatsServer, files: NatsBackendFiles, streamPrefix: string, brokerId: string, shareFrom?: TestBroker) {
  return async (config: SealbusConfig, env: DevEnvironment): Promise<SealbusConfig> => {
    if (shareFrom !== undefined) await cp(join(shareFrom.env.dir, 'certs'), join(env.dir, 'certs'), { recursive: true, force: true });
    const localIssuer = shareFrom === undefined ? config.auth.localIssuer : { ...config.auth.localIssuer, keyDir: shareFrom.env.config.auth.localIssuer.keyDir! };
    return onJetStream({ ...config, auth: { ...config.auth, localIssuer }, audit: { ...config.audit, brokerId } }, nats, files, streamPrefix);
  };
}

/** Closes a test broker's NATS connection: to the other brokers it is dead (nothing answers for it), without a graceful word. */
export async function cutFromNats(t: TestBroker): Promise<void> {
  const store = t.broker.store as unknown as { opened: { connection: { close(): Promise<void> } } };
  await store.opened.connection.close();
}
