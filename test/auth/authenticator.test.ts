import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Authenticator,
  LocalIssuer,
  TokenVerifier,
  bearerToken,
  identifyClient,
  loadTlsMaterial,
  type CertificateIdentity,
  type TlsServerMaterial,
} from '../../src/auth/index.js';
import { createPki, tempDir, type Pki } from './helpers/pki.js';
import { startTlsHarness, type TlsHarness } from './helpers/tls-harness.js';
import { AUDIENCE, certificateIdentity } from './helpers/tokens.js';
import { codeOf } from '../helpers/error-code.js';

const never = { verify: () => Promise.reject(new Error('must not be called')) };

describe('Authenticator without a token', () => {
  const alice = certificateIdentity('alice');

  it('requires a token by default: TOKEN_REQUIRED', async () => {
    const authenticator = new Authenticator({ verifier: never, allowCertificateOnly: false });
    expect(await codeOf(authenticator.authenticate({ certificate: alice, authorization: undefined }))).toBe('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
    expect(await codeOf(authenticator.authenticate({ certificate: alice, authorization: '  ' }))).toBe('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
  });

  it('names the principal by the certificate when certificate-only clients are allowed', async () => {
    const authenticator = new Authenticator({ verifier: never, allowCertificateOnly: true });
    const principal = await authenticator.authenticate({ certificate: alice, authorization: undefined });
    expect(principal).toEqual({ name: 'alice', via: 'certificate', certificate: alice, token: null });
  });

  it.each(['Basic YWxpY2U6c2VjcmV0', 'Bearer', 'Bearer a b', 'Token abc.def.ghi', 'Bearer abc\ndef'])(
    'refuses the Authorization header %j: TOKEN_MALFORMED',
    async (header) => {
      const authenticator = new Authenticator({ verifier: never, allowCertificateOnly: true });
      expect(await codeOf(authenticator.authenticate({ certificate: alice, authorization: header }))).toBe('SEALBUS_ERR_AUTH_TOKEN_MALFORMED');
    },
  );

  it('reads the scheme case-insensitively', () => {
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
  });
});

// End to end, as the broker will run it: a real mutual-TLS connection, the local issuer's bound
// token, the verifier and the authenticator.
describe('Authenticator with the local issuer over real TLS', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pki: Pki;
  let material: TlsServerMaterial;
  let harness: TlsHarness;
  let issuer: LocalIssuer;
  let authenticator: Authenticator;

  beforeAll(async () => {
    dir = await tempDir();
    pki = await createPki(dir.path);
    material = await loadTlsMaterial(pki.files);
    harness = await startTlsHarness(material, pki.ca.certPem);
    issuer = await LocalIssuer.loadOrCreate(dir.path, { issuer: 'sealbus-local' });
    const verifier = new TokenVerifier({ issuers: [issuer.trust()], audience: AUDIENCE });
    authenticator = new Authenticator({ verifier, allowCertificateOnly: false });
  });

  afterAll(async () => {
    await harness.close();
    await dir.remove();
  });

  async function identityOf(name: string): Promise<{ identity: CertificateIdentity; fingerprint256: string }> {
    const cert = await pki.client(name);
    const connection = await harness.connect(cert);
    return { identity: identifyClient(connection.serverSocket, material), fingerprint256: cert.fingerprint256 };
  }

  it('names the principal by the token and keeps both identities', async () => {
    const device = await identityOf('laptop-7');
    const token = await issuer.issueToken({ sub: 'alice', ttlSeconds: 600, audience: AUDIENCE, bindThumbprint: device.fingerprint256, groups: ['ops'] });
    const principal = await authenticator.authenticate({ certificate: device.identity, authorization: `Bearer ${token}` });
    expect(principal.name).toBe('alice');
    expect(principal.via).toBe('token');
    expect(principal.certificate.principal).toBe('laptop-7');
    expect(principal.token).toMatchObject({ issuer: 'sealbus-local', subject: 'alice', groups: ['ops'], bound: true });
  });

  it('rejects a stolen bound token presented over another client certificate: TOKEN_BINDING', async () => {
    const alice = await identityOf('alice');
    const mallory = await identityOf('mallory');
    const token = await issuer.issueToken({ sub: 'alice', ttlSeconds: 600, audience: AUDIENCE, bindThumbprint: alice.fingerprint256 });
    expect(await codeOf(authenticator.authenticate({ certificate: mallory.identity, authorization: `Bearer ${token}` }))).toBe(
      'SEALBUS_ERR_AUTH_TOKEN_BINDING',
    );
  });

  it('rejects an unbound token of the local issuer: TOKEN_UNBOUND', async () => {
    const alice = await identityOf('alice');
    const token = await issuer.issueToken({ sub: 'alice', ttlSeconds: 600, audience: AUDIENCE });
    expect(await codeOf(authenticator.authenticate({ certificate: alice.identity, authorization: `Bearer ${token}` }))).toBe(
      'SEALBUS_ERR_AUTH_TOKEN_UNBOUND',
    );
  });
});
