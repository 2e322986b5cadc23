/**
 * A NATS back end as brokers reach it in production: its own CA (apart from the brokers'), a
 * server certificate, a client certificate for the brokers and a token, written to a temporary
 * folder (remove `dir` after the test); and the `store` block of a broker configuration that
 * uses it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../src/auth/index.js';
import type { SealbusConfig } from '../../src/config/index.js';
import { startNatsServer, type RunningNatsServer } from './nats-server.js';

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
