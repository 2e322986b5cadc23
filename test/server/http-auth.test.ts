import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../src/auth/index.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/**
 * The front door, from the attacker's side: every request without the right certificate and token
 * is refused over real TLS with its exact code, before any route runs.
 */
describe('HTTPS authentication', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
  });
  afterAll(async () => t?.close());

  it('serves the admin with certificate and bound token', async () => {
    const res = await t.request('GET', '/v1/topics');
    expect(res.status).toBe(200);
    expect(res.body.topics).toEqual(expect.any(Array));
  });

  it('refuses a request without a client certificate', async () => {
    const res = await t.request('GET', '/v1/topics', { credentials: { token: t.admin.token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_CERT_REQUIRED');
  });

  it('refuses a certificate from another CA, even with a valid token', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'attacker CA' });
    const forged = await issueCertificate({ ca: otherCa, commonName: 'admin', client: true, extendedKeyUsage: 'client' });
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: forged.certPem, key: forged.keyPem, token: t.admin.token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_CERT_UNTRUSTED');
  });

  it('refuses a request without a token', async () => {
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: t.admin.cert, key: t.admin.key } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
  });

  it("refuses the admin's bound token on another certificate of the same CA", async () => {
    const mallory = await t.client('mallory');
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: mallory.cert, key: mallory.key, token: t.admin.token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_BINDING');
  });

  it('refuses an unbound token of the local issuer', async () => {
    const bob = await t.client('bob', { bound: false });
    const res = await t.request('GET', '/v1/topics', { credentials: bob });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_UNBOUND');
  });

  it('denies an authenticated principal that is not an admin (default deny)', async () => {
    const carol = await t.client('carol');
    const res = await t.request('POST', '/v1/topics', { credentials: carol, body: { name: 'carols' } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    // Listing shows only what a principal may describe: carol sees nothing, though topics exist.
    expect((await t.request('POST', '/v1/topics', { body: { name: 'admins.only' } })).status).toBe(201);
    const listed = await t.request('GET', '/v1/topics', { credentials: carol });
    expect([listed.status, listed.body]).toEqual([200, { topics: [] }]);
    expect((await t.request('GET', '/v1/topics')).body.topics.map((topic: { name: string }) => topic.name)).toContain('admins.only');
    // Asking for it by name is refused before its existence is revealed.
    expect((await t.request('GET', '/v1/topics/admins.only', { credentials: carol })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    expect((await t.request('GET', '/v1/topics/no.such.topic', { credentials: carol })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
  });

  it('answers health and JWKS with a certificate but no token, and nothing without a certificate', async () => {
    const cert = { cert: t.admin.cert, key: t.admin.key };
    expect((await t.request('GET', '/healthz', { credentials: cert })).status).toBe(200);
    const ready = await t.request('GET', '/readyz', { credentials: cert });
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    const jwks = await t.request('GET', '/.well-known/jwks.json', { credentials: cert });
    expect(jwks.body.keys[0].kty).toBe('OKP');
    expect(jwks.body.keys[0].d).toBeUndefined();
    expect((await t.request('GET', '/healthz', { credentials: null })).body.code).toBe('SEALBUS_ERR_AUTH_CERT_REQUIRED');
  });
});
