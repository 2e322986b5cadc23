import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCertificateAuthority } from '../../../src/auth/certificate-authority.js';
import { replaceFile } from '../../../src/auth/private-files.js';
import { type IssuedCertificate, signCertificate } from '../../../src/auth/certificate-issue.js';
import { createCertificateAuthority, createCrl, issueCertificate, type PemPair } from '../../../src/auth/index.js';
import { x509 } from '../../../src/auth/x509-lib.js';

export const DAY_MS = 86_400_000;
export const CLIENT_AUTH = x509.ExtendedKeyUsage.clientAuth;
export const SERVER_AUTH = x509.ExtendedKeyUsage.serverAuth;

/** A temporary folder removed by `remove()`; every test that writes files uses one. */
export async function tempDir(prefix = 'sealbus-auth-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Builds a client certificate that issueCertificate would refuse to make (several CNs, a
 * multi-valued RDN, several URI SANs...): the certificates an attacker's CA could hand out.
 */
export async function craftCertificate(
  ca: PemPair,
  opts: {
    subject: x509.JsonName;
    subjectAltNames?: x509.JsonGeneralName[];
    extendedKeyUsage?: string[] | null;
    notBefore?: Date;
    notAfter?: Date;
    isCa?: boolean;
    keyUsage?: number;
  },
): Promise<IssuedCertificate> {
  const loaded = await loadCertificateAuthority(ca);
  const now = Date.now();
  return signCertificate({
    ca: loaded,
    subject: opts.subject,
    ...(opts.subjectAltNames !== undefined && { subjectAltNames: opts.subjectAltNames }),
    extendedKeyUsage: opts.extendedKeyUsage === undefined ? [CLIENT_AUTH] : opts.extendedKeyUsage,
    notBefore: opts.notBefore ?? new Date(now - DAY_MS),
    notAfter: opts.notAfter ?? new Date(now + DAY_MS),
    ...(opts.isCa !== undefined && { isCa: opts.isCa }),
    ...(opts.keyUsage !== undefined && { keyUsage: opts.keyUsage }),
  });
}

/** A CA with a server certificate for 127.0.0.1, written to `dir` with an empty CRL. */
export interface Pki {
  readonly ca: PemPair;
  readonly server: IssuedCertificate;
  readonly files: { certFile: string; keyFile: string; caFile: string; crlFile: string };
  client(name: string, opts?: { spiffeId?: string }): Promise<IssuedCertificate>;
  /** Replaces the CRL file atomically (rename), as `sealbus certs revoke` does. */
  revoke(...certificates: { serialNumber: string }[]): Promise<void>;
}

export async function createPki(dir: string, name = 'Test CA'): Promise<Pki> {
  const ca = await createCertificateAuthority({ commonName: name });
  const server = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['127.0.0.1', 'localhost'] } });
  const files = {
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    caFile: join(dir, 'ca.crt'),
    crlFile: join(dir, 'crl.pem'),
  };
  await writeFile(files.certFile, server.certPem);
  await writeFile(files.keyFile, server.keyPem, { mode: 0o600 });
  await writeFile(files.caFile, ca.certPem);
  await writeFile(files.crlFile, await createCrl({ ca, revoked: [] }));
  return {
    ca,
    server,
    files,
    client: (commonName, opts = {}) => issueCertificate({ ca, commonName, ...opts }),
    revoke: async (...certificates) => {
      const crl = await createCrl({ ca, revoked: certificates.map((c) => ({ serialNumber: c.serialNumber })) });
      await replaceFile(files.crlFile, crl, 0o644);
    },
  };
}
