import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, identifyClient, issueCertificate, loadTlsMaterial, type TlsServerMaterial } from '../../src/auth/index.js';
import { CLIENT_AUTH, DAY_MS, SERVER_AUTH, createPki, craftCertificate, tempDir, type Pki } from './helpers/pki.js';
import { outcome, startTlsHarness, type TlsHarness } from './helpers/tls-harness.js';

// Each case is an attacker (or a confused client) connecting over real TLS; the broker must answer
// with the exact code, never let the connection through.
describe('identifyClient over real TLS', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pki: Pki;
  let material: TlsServerMaterial;
  let harness: TlsHarness;
  const clock = { now: Date.now() };

  beforeAll(async () => {
    dir = await tempDir();
    pki = await createPki(dir.path);
    material = await loadTlsMaterial({ ...pki.files, now: () => clock.now });
    harness = await startTlsHarness(material, pki.ca.certPem);
  });

  afterAll(async () => {
    await harness.close();
    await dir.remove();
  });

  it('identifies a client certificate of the CA by its CN, with the RFC 8705 thumbprint', async () => {
    const alice = await pki.client('alice');
    const connection = await harness.connect(alice);
    const identity = identifyClient(connection.serverSocket, material);
    expect(identity).toMatchObject({
      principal: 'alice',
      spiffeId: null,
      subject: 'CN=alice',
      issuer: 'CN=Test CA',
      serialNumber: alice.serialNumber,
      fingerprint256: alice.fingerprint256,
    });
    expect(identity.fingerprint256).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('names the principal by the SPIFFE ID when the certificate has one', async () => {
    const workload = await pki.client('payments', { spiffeId: 'spiffe://prod.example/ns/payments/sa/api' });
    expect(outcome(await harness.connect(workload), material)).toBe('ok:spiffe://prod.example/ns/payments/sa/api');
  });

  it('negotiates TLS 1.3 when the client can', async () => {
    const connection = await harness.connect(await pki.client('modern'));
    expect(connection.serverSocket.getProtocol()).toBe('TLSv1.3');
  });

  it('refuses clients below TLS 1.2 at the handshake', async () => {
    const old = await pki.client('old');
    await expect(harness.connect(old, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });

  it('rejects a connection without a client certificate: CERT_REQUIRED', async () => {
    expect(outcome(await harness.connect(null), material)).toBe('SEALBUS_ERR_AUTH_CERT_REQUIRED');
  });

  it('rejects a certificate from another CA: CERT_UNTRUSTED', async () => {
    const rogueCa = await createCertificateAuthority({ commonName: 'Test CA' }); // same name, other key
    const rogue = await issueCertificate({ ca: rogueCa, commonName: 'alice' });
    expect(outcome(await harness.connect(rogue), material)).toBe('SEALBUS_ERR_AUTH_CERT_UNTRUSTED');
  });

  it('rejects a self-signed client certificate: CERT_UNTRUSTED', async () => {
    const selfSigned = await createCertificateAuthority({ commonName: 'alice' });
    expect(outcome(await harness.connect(selfSigned), material)).toBe('SEALBUS_ERR_AUTH_CERT_UNTRUSTED');
  });

  it('rejects an expired certificate: CERT_EXPIRED', async () => {
    const expired = await issueCertificate({ ca: pki.ca, commonName: 'late', now: new Date(Date.now() - 10 * DAY_MS), validDays: 1 });
    expect(outcome(await harness.connect(expired), material)).toBe('SEALBUS_ERR_AUTH_CERT_EXPIRED');
  });

  it('rejects a certificate that is not valid yet: CERT_EXPIRED', async () => {
    const future = await issueCertificate({ ca: pki.ca, commonName: 'early', notBefore: new Date(Date.now() + DAY_MS) });
    expect(outcome(await harness.connect(future), material)).toBe('SEALBUS_ERR_AUTH_CERT_EXPIRED');
  });

  it('rejects a certificate whose EKU is serverAuth only: CERT_USAGE', async () => {
    const serverOnly = await issueCertificate({ ca: pki.ca, commonName: 'impostor', server: { hosts: ['impostor.example'] } });
    expect(outcome(await harness.connect(serverOnly), material)).toBe('SEALBUS_ERR_AUTH_CERT_USAGE');
  });

  it('accepts a certificate without any EKU (the EKU is checked only when present)', async () => {
    const noEku = await issueCertificate({ ca: pki.ca, commonName: 'legacy', extendedKeyUsage: 'none' });
    expect(outcome(await harness.connect(noEku), material)).toBe('ok:legacy');
  });

  it('rejects a certificate with two CNs: CERT_IDENTITY', async () => {
    const twoCns = await craftCertificate(pki.ca, { subject: [{ CN: ['alice'] }, { CN: ['admin'] }] });
    expect(outcome(await harness.connect(twoCns), material)).toBe('SEALBUS_ERR_AUTH_CERT_IDENTITY');
  });

  it('rejects a certificate with a multi-valued RDN: CERT_IDENTITY', async () => {
    const multi = await craftCertificate(pki.ca, { subject: [{ CN: ['alice'], O: ['acme'] }] });
    expect(outcome(await harness.connect(multi), material)).toBe('SEALBUS_ERR_AUTH_CERT_IDENTITY');
  });

  it('rejects a certificate with several URI SANs: CERT_IDENTITY', async () => {
    const twoIds = await craftCertificate(pki.ca, {
      subject: [{ CN: ['workload'] }],
      subjectAltNames: [
        { type: 'url', value: 'spiffe://prod.example/api' },
        { type: 'url', value: 'spiffe://prod.example/admin' },
      ],
    });
    expect(outcome(await harness.connect(twoIds), material)).toBe('SEALBUS_ERR_AUTH_CERT_IDENTITY');
  });

  it('rejects a CN dressed up as a SPIFFE ID: CERT_IDENTITY', async () => {
    const fake = await craftCertificate(pki.ca, { subject: [{ CN: ['spiffe://prod.example/admin'] }] });
    expect(outcome(await harness.connect(fake), material)).toBe('SEALBUS_ERR_AUTH_CERT_IDENTITY');
  });

  it('rejects a CA certificate used as a client certificate: CERT_USAGE', async () => {
    const subCa = await craftCertificate(pki.ca, { subject: [{ CN: ['sub ca'] }], extendedKeyUsage: [CLIENT_AUTH, SERVER_AUTH], isCa: true });
    // OpenSSL accepts it (a CA certificate is a valid TLS client); sealbus does not.
    expect(outcome(await harness.connect(subCa), material)).toBe('SEALBUS_ERR_AUTH_CERT_USAGE');
  });

  it('re-checks the validity period on every call, with the injected clock', async () => {
    const shortLived = await craftCertificate(pki.ca, { subject: [{ CN: ['short'] }], notAfter: new Date(Date.now() + 60 * 60_000) });
    const connection = await harness.connect(shortLived);
    expect(outcome(connection, material)).toBe('ok:short');
    const saved = clock.now;
    clock.now = Date.now() + 2 * 60 * 60_000;
    try {
      // Same connection, cached identity: the certificate expired during the connection.
      expect(outcome(connection, material)).toBe('SEALBUS_ERR_AUTH_CERT_EXPIRED');
    } finally {
      clock.now = saved;
    }
    expect(outcome(connection, material)).toBe('ok:short');
  });

  it('rejects a certificate listed in the CRL: CERT_REVOKED', async () => {
    const mallory = await pki.client('mallory');
    await pki.revoke(mallory);
    try {
      expect(await material.reload()).toBe(true);
      harness.refreshSecureContext();
      expect(outcome(await harness.connect(mallory), material)).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
      expect(outcome(await harness.connect(await pki.client('bob')), material)).toBe('ok:bob');
    } finally {
      await pki.revoke();
      await material.reload();
      harness.refreshSecureContext();
    }
  });
});
