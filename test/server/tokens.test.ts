import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalIssuer, certificateThumbprint } from '../../src/auth/index.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** Tokens from the attacker's side, over HTTPS with the admin's own valid certificate. */
describe('bearer tokens at the broker', () => {
  let t: TestBroker;
  let thumbprint: string;
  beforeAll(async () => {
    t = await startTestBroker();
    thumbprint = certificateThumbprint(t.admin.cert);
  });
  afterAll(async () => t?.close());

  const claims = () => ({ sub: 'admin', cnf: { 'x5t#S256': thumbprint } });
  async function expectCode(token: string, code: string): Promise<void> {
    const res = await t.request('GET', '/v1/topics', { credentials: { cert: t.admin.cert, key: t.admin.key, token } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(code);
    expect(JSON.stringify(res.body)).not.toContain(token);
  }

  it('refuses alg none', async () => {
    const token = new UnsecuredJWT(claims()).setIssuer('sealbus-local').setAudience('sealbus').setIssuedAt().setExpirationTime('1h').encode();
    await expectCode(token, 'SEALBUS_ERR_AUTH_TOKEN_ALG');
  });

  it('refuses a token signed by another key under the local issuer name', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', typ: 'sealbus+jwt', kid: 'forged' })
      .setIssuer('sealbus-local')
      .setAudience('sealbus')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    await expectCode(token, 'SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
  });

  it('refuses an expired token, one for another audience, and an untrusted issuer', async () => {
    // The broker's own issuer key, with a clock two hours behind: a genuine token that has expired.
    const pastIssuer = await LocalIssuer.loadOrCreate(t.env.config.auth.localIssuer.keyDir!, {
      issuer: 'sealbus-local',
      now: () => Date.now() - 2 * 3600_000,
    });
    const expired = await pastIssuer.issueToken({ sub: 'admin', ttlSeconds: 60, audience: 'sealbus', bindThumbprint: thumbprint });
    await expectCode(expired, 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
    const elsewhere = await t.broker.issuer.issueToken({ sub: 'admin', ttlSeconds: 600, audience: 'another-service', bindThumbprint: thumbprint });
    await expectCode(elsewhere, 'SEALBUS_ERR_AUTH_TOKEN_AUDIENCE');
    const { privateKey } = await generateKeyPair('EdDSA');
    const stranger = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', typ: 'sealbus+jwt' })
      .setIssuer('https://idp.example')
      .setAudience('sealbus')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    await expectCode(stranger, 'SEALBUS_ERR_AUTH_TOKEN_ISSUER');
  });

  it('refuses a malformed bearer value', async () => {
    await expectCode('not-a-jwt', 'SEALBUS_ERR_AUTH_TOKEN_MALFORMED');
  });
});
