import { X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, createCrl, issueCertificate, writeCertificateFiles, type PemPair } from '../../src/auth/index.js';
import { x509 } from '../../src/auth/x509-lib.js';
import { CLIENT_AUTH, DAY_MS, SERVER_AUTH, tempDir } from './helpers/pki.js';
import { codeOf } from '../helpers/error-code.js';

let ca: PemPair;
beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'Unit CA', now: new Date('2025-01-01T00:00:00Z') });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function ekuOf(cert: x509.X509Certificate): string[] {
  return (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String);
}

describe('createCertificateAuthority', () => {
  it('makes a P-256 CA that may sign certificates and CRLs only', async () => {
    const cert = new x509.X509Certificate(ca.certPem);
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    expect(constraints).toMatchObject({ ca: true, pathLength: 0, critical: true });
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    expect(usage?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(usage?.critical).toBe(true);
    expect(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(await cert.isSelfSigned()).toBe(true);
    expect(cert.notAfter.getTime() - new Date('2025-01-01T00:00:00Z').getTime()).toBe(3650 * DAY_MS);
  });

  it('refuses a common name with control characters', async () => {
    expect(await codeOf(createCertificateAuthority({ commonName: 'CA\nfake' }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });
});

describe('issueCertificate', () => {
  it('issues a client certificate: CN, SPIFFE URI SAN, EKU clientAuth, signed by the CA', async () => {
    const now = new Date('2025-02-01T00:00:00Z');
    const issued = await issueCertificate({ ca, commonName: 'alice', spiffeId: 'spiffe://dev.example/alice', now });
    const cert = new x509.X509Certificate(issued.certPem);
    expect(cert.subject).toBe('CN=alice');
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([{ type: 'url', value: 'spiffe://dev.example/alice' }]);
    expect(ekuOf(cert)).toEqual([CLIENT_AUTH]);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(issued.serialNumber).toBe(cert.serialNumber.replace(/^0+/, ''));
    const node = new NodeX509(issued.certPem);
    expect(node.verify(new NodeX509(ca.certPem).publicKey)).toBe(true);
    expect(issued.fingerprint256).toBe(Buffer.from(node.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'));
    expect(cert.notBefore.getTime()).toBe(now.getTime() - 5 * 60_000);
  });

  it('issues a server certificate with DNS and IP SANs and EKU serverAuth (both with client: true)', async () => {
    const issued = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['Broker.example', '10.0.0.1', '::1'] } });
    const cert = new x509.X509Certificate(issued.certPem);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
      { type: 'dns', value: 'broker.example' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
    expect(ekuOf(cert)).toEqual([SERVER_AUTH]);
    const both = await issueCertificate({ ca, commonName: 'peer', server: { hosts: ['peer'] }, client: true });
    expect(ekuOf(new x509.X509Certificate(both.certPem))).toEqual([SERVER_AUTH, CLIENT_AUTH]);
  });

  it('never outlives its CA', async () => {
    const issued = await issueCertificate({ ca, commonName: 'long', validDays: 36_500 });
    expect(new x509.X509Certificate(issued.certPem).notAfter.getTime()).toBe(new x509.X509Certificate(ca.certPem).notAfter.getTime());
  });

  it.each([
    ['an invalid SPIFFE ID', { spiffeId: 'spiffe://Bad/x' }],
    ['a host that is neither DNS nor IP', { server: { hosts: ['bad host'] } }],
    ['a server without hosts', { server: { hosts: [] } }],
    ['a zero validity', { validDays: 0 }],
  ])('refuses %s', async (_what, extra) => {
    expect(await codeOf(issueCertificate({ ca, commonName: 'x', ...extra }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });

  it('refuses to sign with a certificate that is not a CA, or with a key of another CA', async () => {
    const leaf = await issueCertificate({ ca, commonName: 'leaf' });
    expect(await codeOf(issueCertificate({ ca: leaf, commonName: 'x' }))).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    const other = await createCertificateAuthority({ commonName: 'Other' });
    expect(await codeOf(issueCertificate({ ca: { certPem: ca.certPem, keyPem: other.keyPem }, commonName: 'x' }))).toBe(
      'SEALBUS_ERR_AUTH_MATERIAL_INVALID',
    );
  });
});

describe('writeCertificateFiles', () => {
  it('writes the key with mode 0600 and never overwrites', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const issued = await issueCertificate({ ca, commonName: 'alice' });
    const files = await writeCertificateFiles(dir.path, 'alice', issued);
    expect((await stat(files.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(files.certFile)).mode & 0o777).toBe(0o644);

    const again = await issueCertificate({ ca, commonName: 'alice' });
    expect(await codeOf(writeCertificateFiles(dir.path, 'alice', again))).toBe('SEALBUS_ERR_AUTH_FILE_EXISTS');
    expect(await readFile(files.keyFile, 'utf8')).toBe(issued.keyPem);

    // Only the certificate left behind: still nothing is written, not even the key.
    await writeFile(join(dir.path, 'bob.crt'), 'old');
    expect(await codeOf(writeCertificateFiles(dir.path, 'bob', again))).toBe('SEALBUS_ERR_AUTH_FILE_EXISTS');
    expect(await stat(join(dir.path, 'bob.key')).then(() => 'exists', () => 'absent')).toBe('absent');
  });

  it.each(['../escape', '.hidden', 'a/b', ''])('refuses the file name %j', async (name) => {
    expect(await codeOf(writeCertificateFiles('/tmp', name, ca))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });
});

describe('createCrl', () => {
  it('lists each serial once, signed by the CA, with a nextUpdate', async () => {
    const a = await issueCertificate({ ca, commonName: 'a' });
    const now = new Date('2025-03-01T00:00:00Z');
    const pem = await createCrl({ ca, revoked: [a, a, { serialNumber: 'FF01' }], now, nextUpdateDays: 7 });
    expect(pem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true);
    const crl = new x509.X509Crl(pem);
    expect(crl.entries.map((entry) => entry.serialNumber.replace(/^0+/, ''))).toEqual([a.serialNumber, 'ff01']);
    expect(await crl.verify({ publicKey: new x509.X509Certificate(ca.certPem) })).toBe(true);
    expect(crl.nextUpdate?.getTime()).toBe(now.getTime() + 7 * DAY_MS);
    expect(crl.issuer).toBe('CN=Unit CA');
  });

  it('refuses a serial that is not hexadecimal', async () => {
    expect(await codeOf(createCrl({ ca, revoked: [{ serialNumber: 'xyz' }] }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });
});
