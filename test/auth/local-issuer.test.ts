import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { ISSUER_KEY_FILE, KEYRING_FILE, LocalIssuer, TokenVerifier } from '../../src/auth/index.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { certificateIdentity } from './helpers/tokens.js';
import { codeOf } from '../helpers/error-code.js';

const tempDir = useTempDirs('sealbus-keys-');

async function folder(): Promise<string> {
  return join(await tempDir(), 'keys');
}

describe('LocalIssuer', () => {
  it('creates an Ed25519 key readable by its owner only, and loads the same key next time', async () => {
    const dir = await folder();
    const first = await LocalIssuer.loadOrCreate(dir, { issuer: 'sealbus-local' });
    expect(first.keyFile).toBe(join(dir, `issuer-${first.kid}.key`));
    expect((await stat(first.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, KEYRING_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o077).toBe(0);
    const second = await LocalIssuer.loadOrCreate(dir, { issuer: 'sealbus-local' });
    expect(second.kid).toBe(first.kid);
  });

  it('never replaces an existing key, even when two brokers start at once', async () => {
    const dir = await folder();
    await mkdir(dir, { recursive: true });
    const existing = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(dir, ISSUER_KEY_FILE), existing, { mode: 0o600 });
    const [a, b] = await Promise.all([
      LocalIssuer.loadOrCreate(dir, { issuer: 'x' }),
      LocalIssuer.loadOrCreate(dir, { issuer: 'x' }),
    ]);
    expect(await readFile(join(dir, ISSUER_KEY_FILE), 'utf8')).toBe(existing);
    expect(a.kid).toBe(b.kid);
    expect(a.kid).toBe(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: String(createPublicKey(existing).export({ format: 'jwk' }).x) }));

    const empty = await folder();
    const [c, d] = await Promise.all([LocalIssuer.loadOrCreate(empty, { issuer: 'x' }), LocalIssuer.loadOrCreate(empty, { issuer: 'x' })]);
    expect(c.kid).toBe(d.kid);
  });

  it('refuses a key others can read, and a key that is not Ed25519', async () => {
    const dir = await folder();
    const issuer = await LocalIssuer.loadOrCreate(dir, { issuer: 'x' });
    await chmod(issuer.keyFile, 0o644);
    expect(await codeOf(LocalIssuer.loadOrCreate(dir, { issuer: 'x' }))).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');

    const rsaDir = await folder();
    await mkdir(rsaDir, { recursive: true });
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(rsaDir, ISSUER_KEY_FILE), p256, { mode: 0o600 });
    expect(await codeOf(LocalIssuer.loadOrCreate(rsaDir, { issuer: 'x' }))).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
  });

  it('serves only the public key, with its RFC 7638 thumbprint as kid', async () => {
    const issuer = await LocalIssuer.loadOrCreate(await folder(), { issuer: 'sealbus-local' });
    const { keys } = issuer.jwks();
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: issuer.kid });
    expect(key).not.toHaveProperty('d');
    expect(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: String(key?.x) })).toBe(issuer.kid);
    expect(Object.isFrozen(issuer.jwks())).toBe(true);
  });

  it('issues tokens with every claim the verifier requires', async () => {
    const clock = { now: 1_700_000_000_000 };
    const issuer = await LocalIssuer.loadOrCreate(await folder(), { issuer: 'sealbus-local', now: () => clock.now });
    const thumbprint = 'A'.repeat(43);
    const token = await issuer.issueToken({
      sub: 'alice',
      ttlSeconds: 3600,
      audience: 'sealbus',
      bindThumbprint: thumbprint,
      groups: ['ops'],
      scopes: ['produce', 'consume'],
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: issuer.kid, typ: 'sealbus+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: 'sealbus-local',
      sub: 'alice',
      aud: 'sealbus',
      iat: 1_700_000_000,
      exp: 1_700_003_600,
      cnf: { 'x5t#S256': thumbprint },
      groups: ['ops'],
      scope: 'produce consume',
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const verifier = new TokenVerifier({ issuers: [issuer.trust()], audience: 'sealbus', now: () => clock.now });
    const identity = await verifier.verify(token, certificateIdentity('laptop', thumbprint));
    expect(identity).toMatchObject({ principal: 'alice', scopes: ['produce', 'consume'], bound: true });
  });

  it('says what it signed: jti, times in milliseconds, the signing kid, and the requesting actor as "act"', async () => {
    const issuer = await LocalIssuer.loadOrCreate(await folder(), { issuer: 'sealbus-local', now: () => 1_700_000_000_500 });
    const issued = await issuer.issueTokenWithClaims({ sub: 'svc', ttlSeconds: 60, audience: 'sealbus', jti: 'j-1', actor: 'admin' });
    expect(issued).toEqual({ token: expect.any(String), jti: 'j-1', issuedAt: 1_700_000_000_000, expiresAt: 1_700_000_060_000, kid: issuer.kid });
    expect(decodeJwt(issued.token)).toMatchObject({ jti: 'j-1', iat: 1_700_000_000, exp: 1_700_000_060, act: { sub: 'admin' } });
    expect(decodeJwt(await issuer.issueToken({ sub: 'svc', ttlSeconds: 60, audience: 'sealbus' }))).not.toHaveProperty('act');
  });

  it('signs with the new key after a rotation and refuses tokens of the retired key, cached or not', async () => {
    const clock = { now: 1_700_000_000_000 };
    const issuer = await LocalIssuer.loadOrCreate(await folder(), { issuer: 'sealbus-local', now: () => clock.now });
    const verifier = new TokenVerifier({ issuers: [issuer.trust({ requireBinding: false })], audience: 'sealbus', now: () => clock.now });
    const device = certificateIdentity('laptop');
    const oldKid = issuer.kid;
    const cached = await issuer.issueToken({ sub: 'alice', ttlSeconds: 7200, audience: 'sealbus' });
    const uncached = await issuer.issueToken({ sub: 'bob', ttlSeconds: 7200, audience: 'sealbus' });
    expect(await verifier.verify(cached, device)).toMatchObject({ principal: 'alice', keyId: oldKid });

    const rotation = await issuer.rotate(3_600_000);
    expect(issuer.kid).toBe(rotation.kid);
    const fresh = await issuer.issueToken({ sub: 'carol', ttlSeconds: 7200, audience: 'sealbus' });
    expect(decodeProtectedHeader(fresh).kid).toBe(rotation.kid);
    expect(issuer.jwks().keys.map((key) => key.kid)).toEqual([rotation.kid, oldKid]);
    // During the overlap both keys are accepted.
    expect(await verifier.verify(cached, device)).toMatchObject({ keyId: oldKid });
    expect(await verifier.verify(fresh, device)).toMatchObject({ keyId: rotation.kid });

    clock.now = rotation.retireAt;
    expect(issuer.trust().isKeyRetired?.(oldKid)).toBe(true);
    expect(issuer.trust().isKeyRetired?.(rotation.kid)).toBe(false);
    expect(await codeOf(verifier.verify(cached, device))).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    expect(await codeOf(verifier.verify(uncached, device))).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    expect(await codeOf(verifier.verify(fresh, device))).toBe('accepted');
  });

  it('picks up a rotation made by another process on reload', async () => {
    const dir = await folder();
    const broker = await LocalIssuer.loadOrCreate(dir, { issuer: 'sealbus-local' });
    const cli = await LocalIssuer.loadOrCreate(dir, { issuer: 'sealbus-local' });
    const { kid } = await cli.rotate(60_000);
    expect(broker.kid).not.toBe(kid);
    expect(await broker.reload()).toBe(true);
    expect(broker.kid).toBe(kid);
    expect(broker.keyFile).toBe(join(dir, `issuer-${kid}.key`));
    expect(decodeProtectedHeader(await broker.issueToken({ sub: 'alice', ttlSeconds: 60, audience: 'sealbus' })).kid).toBe(kid);
  });

  it.each([
    [{ sub: '', ttlSeconds: 60 }],
    [{ sub: 'a\nb', ttlSeconds: 60 }],
    [{ sub: 'alice', ttlSeconds: 0 }],
    [{ sub: 'alice', ttlSeconds: 1.5 }],
    [{ sub: 'alice', ttlSeconds: 60, bindThumbprint: 'not-a-thumbprint' }],
    [{ sub: 'alice', ttlSeconds: 60, scopes: ['two words'] }],
    [{ sub: 'alice', ttlSeconds: 60, actor: 'line\nbreak' }],
  ])('refuses to issue %j', async (opts) => {
    const issuer = await LocalIssuer.loadOrCreate(await folder(), { issuer: 'sealbus-local' });
    expect(await codeOf(issuer.issueToken({ audience: 'sealbus', ...opts }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });
});
