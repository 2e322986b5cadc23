import { beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier, type TokenIdentity } from '../../src/auth/index.js';
import { LruCache } from '../../src/auth/token-cache.js';
import { AUDIENCE, ISSUER, certificateIdentity, signToken, testSigner, type TestSigner } from './helpers/tokens.js';
import { codeOf } from '../helpers/error-code.js';

const alice = certificateIdentity('alice');
const mallory = certificateIdentity('mallory');
const START = Math.floor(Date.now() / 1000);

let signer: TestSigner;
beforeAll(async () => {
  signer = await testSigner();
});

/** A verifier whose key lookups (one per signature verification) are counted, on a settable clock. */
function countingVerifier(opts: { cacheSize?: number; isTokenRevoked?: (token: TokenIdentity) => boolean; maxTokenAgeSec?: number } = {}) {
  const clock = { nowSec: START };
  const counter = { verifications: 0 };
  const verifier = new TokenVerifier({
    issuers: [
      {
        issuer: ISSUER,
        jwks: () => {
          counter.verifications += 1;
          return signer.jwks;
        },
        requireBinding: true,
      },
    ],
    audience: AUDIENCE,
    now: () => clock.nowSec * 1000,
    clockToleranceSec: 0,
    ...opts,
  });
  return { verifier, clock, counter };
}

const boundTo = (fingerprint256: string, claims: Record<string, unknown> = {}) =>
  signToken(signer, { nowSec: START, claims: { cnf: { 'x5t#S256': fingerprint256 }, ...claims } });

describe('verified-token cache', () => {
  it('verifies a token once and serves later uses from the cache', async () => {
    const { verifier, counter } = countingVerifier();
    const token = await boundTo(alice.fingerprint256);
    const first = await verifier.verify(token, alice);
    for (let i = 0; i < 5; i += 1) expect(await verifier.verify(token, alice)).toBe(first);
    expect(counter.verifications).toBe(1);
  });

  it('still checks the binding on a cache hit', async () => {
    const { verifier, counter } = countingVerifier();
    const token = await boundTo(alice.fingerprint256);
    await verifier.verify(token, alice);
    expect(await codeOf(verifier.verify(token, mallory))).toBe('SEALBUS_ERR_AUTH_TOKEN_BINDING');
    expect(counter.verifications).toBe(1);
    expect(await codeOf(verifier.verify(token, alice))).toBe('accepted');
  });

  it('still enforces expiry on a cache hit, with the injected clock', async () => {
    const { verifier, clock, counter } = countingVerifier();
    const token = await boundTo(alice.fingerprint256, { exp: START + 60 });
    await verifier.verify(token, alice);
    clock.nowSec = START + 59;
    expect(await codeOf(verifier.verify(token, alice))).toBe('accepted');
    clock.nowSec = START + 60;
    expect(await codeOf(verifier.verify(token, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
    expect(counter.verifications).toBe(1);
  });

  it('still enforces the maximum token age on a cache hit', async () => {
    const { verifier, clock, counter } = countingVerifier({ maxTokenAgeSec: 300 });
    const token = await boundTo(alice.fingerprint256, { exp: START + 3600 });
    await verifier.verify(token, alice);
    clock.nowSec = START + 301;
    expect(await codeOf(verifier.verify(token, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_TOO_OLD');
    expect(counter.verifications).toBe(1);
  });

  it('asks the revocation hook on every use, cached or not', async () => {
    const revoked = new Set<string>();
    const { verifier } = countingVerifier({ isTokenRevoked: (token) => token.jti !== null && revoked.has(token.jti) });
    const token = await boundTo(alice.fingerprint256, { jti: 'session-7' });
    await verifier.verify(token, alice);
    revoked.add('session-7');
    expect(await codeOf(verifier.verify(token, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
  });

  it('shares one verification between concurrent first uses', async () => {
    const { verifier, counter } = countingVerifier();
    const token = await boundTo(alice.fingerprint256);
    const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token, alice)));
    expect(new Set(results).size).toBe(1);
    expect(counter.verifications).toBe(1);
  });

  it('never caches a rejected token', async () => {
    const { verifier, counter } = countingVerifier();
    const other = await testSigner(signer.kid);
    const forged = await signToken(other, { nowSec: START, claims: { cnf: { 'x5t#S256': alice.fingerprint256 } } });
    expect(await codeOf(verifier.verify(forged, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
    expect(await codeOf(verifier.verify(forged, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
    expect(counter.verifications).toBe(2);
  });

  it('is bounded: the least recently used token is verified again', async () => {
    const { verifier, counter } = countingVerifier({ cacheSize: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((jti) => boundTo(alice.fingerprint256, { jti })));
    for (const token of [a, b, a, c]) await verifier.verify(token as string, alice);
    expect(counter.verifications).toBe(3);
    await verifier.verify(a as string, alice); // recently used: still cached
    expect(counter.verifications).toBe(3);
    await verifier.verify(b as string, alice); // evicted by c
    expect(counter.verifications).toBe(4);
  });

  it('forgets everything on clearCache()', async () => {
    const { verifier, counter } = countingVerifier();
    const token = await boundTo(alice.fingerprint256);
    await verifier.verify(token, alice);
    verifier.clearCache();
    await verifier.verify(token, alice);
    expect(counter.verifications).toBe(2);
  });
});

describe('LruCache', () => {
  it('evicts in least-recently-used order and can be disabled', () => {
    const cache = new LruCache<number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    const off = new LruCache<number>(0);
    off.set('a', 1);
    expect(off.size).toBe(0);
  });
});
