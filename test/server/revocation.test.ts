import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrl, issueCertificate, type PemPair } from '../../src/auth/index.js';
import { openRawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/**
 * Certificates from the attacker's side over real TLS, and revocation without a restart: a CRL
 * update refuses new requests and closes the live sessions of the revoked certificate.
 */
describe('client certificates at the broker', () => {
  let t: TestBroker;
  let crlFile: string;
  let ca: PemPair;

  beforeAll(async () => {
    t = await startTestBroker({
      configure: async (config, env) => {
        ca = { certPem: await readFile(join(env.dir, 'certs', 'ca.crt'), 'utf8'), keyPem: await readFile(join(env.dir, 'certs', 'ca.key'), 'utf8') };
        crlFile = join(env.dir, 'crl.pem');
        await writeFile(crlFile, await createCrl({ ca, revoked: [] }));
        return { ...config, tls: { ...config.tls, crl: crlFile } };
      },
    });
  });
  afterAll(async () => t?.close());

  it('refuses an expired certificate', async () => {
    const expired = await issueCertificate({ ca, commonName: 'admin', client: true, notBefore: new Date(Date.now() - 10 * 86_400_000), validDays: 2 });
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: expired.certPem, key: expired.keyPem, token: t.admin.token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_CERT_EXPIRED');
  });

  it('refuses a certificate whose extended key usage excludes client authentication', async () => {
    const serverOnly = await issueCertificate({ ca, commonName: 'admin', server: { hosts: ['localhost'] }, extendedKeyUsage: 'server' });
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: serverOnly.certPem, key: serverOnly.keyPem, token: t.admin.token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_CERT_USAGE');
  });

  it('accepts a SPIFFE certificate with a token bound to it, and refuses an unbound token on it', async () => {
    const spiffe = await issueCertificate({ ca, commonName: 'svc', spiffeId: 'spiffe://example.org/svc', client: true });
    const token = await t.broker.issuer.issueToken({ sub: 'spiffe://example.org/svc', ttlSeconds: 60, audience: 'sealbus', bindThumbprint: spiffe.fingerprint256 });
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: spiffe.certPem, key: spiffe.keyPem, token } });
    expect(res.status).toBe(200);
    const listed = await t.request('GET', '/v1/topics', {
      credentials: { cert: spiffe.certPem, key: spiffe.keyPem, token: await t.broker.issuer.issueToken({ sub: 'admin', ttlSeconds: 60, audience: 'sealbus' }) },
    });
    expect(listed.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_UNBOUND');
  });

  it('closes a live session and refuses new requests once the CRL revokes the certificate', async () => {
    const victim = await t.client('victim');
    const opened = await openRawSession(t, victim);
    if (!opened.ok) throw new Error(`upgrade refused: ${opened.body.code}`);
    expect((await t.request('GET', '/healthz', { credentials: victim })).status).toBe(200);

    const { X509Certificate } = await import('node:crypto');
    const serialNumber = new X509Certificate(victim.cert).serialNumber;
    const next = `${crlFile}.next`;
    await writeFile(next, await createCrl({ ca, revoked: [{ serialNumber }] }));
    await rename(next, crlFile); // atomic replace, as an operator's tooling would do

    expect(await opened.session.closed()).toEqual({ code: 4001, reason: 'SEALBUS_ERR_AUTH_CERT_REVOKED' });
    const refused = await t.request('GET', '/v1/topics', { credentials: victim });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
    // Everyone else is unaffected.
    expect((await t.request('GET', '/v1/topics')).status).toBe(200);
  });
});
