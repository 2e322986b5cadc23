import { beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier, type RemoteIssuerKeys } from '../../src/auth/index.js';
import { SealbusError } from '../../src/errors/index.js';
import { AUDIENCE, ISSUER, certificateIdentity, signToken, testSigner, type TestSigner } from './helpers/tokens.js';
import { codeOf } from '../helpers/error-code.js';

const JWKS_URL = 'https://issuer.test/.well-known/jwks.json';
const alice = certificateIdentity('alice');
const NOW = Math.floor(Date.now() / 1000);

let current: TestSigner;
let next: TestSigner;
beforeAll(async () => {
  current = await testSigner('2024-01');
  next = await testSigner('2024-02');
});

/** An OIDC issuer's JWKS endpoint, in memory: counts requests and can fail or rotate keys. */
function fakeIssuer() {
  const state = { requests: [] as string[], keys: [current.publicJwk], failWith: null as number | 'network' | null };
  const fetch: NonNullable<RemoteIssuerKeys['fetch']> = async (url) => {
    state.requests.push(url);
    if (state.failWith === 'network') throw new TypeError('fetch failed');
    if (state.failWith !== null) return new Response('oops', { status: state.failWith });
    return new Response(JSON.stringify({ keys: state.keys }), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { state, fetch };
}

function verifier(fetch: RemoteIssuerKeys['fetch'], cooldownMs = 30_000): TokenVerifier {
  return new TokenVerifier({
    issuers: [{ issuer: ISSUER, jwks: { url: JWKS_URL, fetch, cooldownMs }, requireBinding: false, typ: null }],
    audience: AUDIENCE,
    now: () => NOW * 1000,
  });
}

describe('external issuer keys (remote JWKS)', () => {
  it('fetches the JWKS once and reuses it for other tokens', async () => {
    const issuer = fakeIssuer();
    const v = verifier(issuer.fetch);
    for (const sub of ['a', 'b', 'c']) expect(await codeOf(v.verify(await signToken(current, { nowSec: NOW, claims: { sub } }), alice))).toBe('accepted');
    expect(issuer.state.requests).toEqual([JWKS_URL]);
  });

  it('does not refetch for an unknown kid during the cooldown', async () => {
    const issuer = fakeIssuer();
    const v = verifier(issuer.fetch);
    await v.verify(await signToken(current, { nowSec: NOW }), alice);
    expect(await codeOf(v.verify(await signToken(next, { nowSec: NOW }), alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
    expect(issuer.state.requests).toHaveLength(1);
  });

  it('refetches after the cooldown and accepts a rotated key', async () => {
    const issuer = fakeIssuer();
    const v = verifier(issuer.fetch, 0);
    await v.verify(await signToken(current, { nowSec: NOW }), alice);
    issuer.state.keys = [current.publicJwk, next.publicJwk];
    expect(await codeOf(v.verify(await signToken(next, { nowSec: NOW }), alice))).toBe('accepted');
    expect(issuer.state.requests).toHaveLength(2);
  });

  it.each([[503], ['network' as const]])('answers 503 KEYS_UNAVAILABLE (retriable) when the JWKS cannot be fetched (%s)', async (failure) => {
    const issuer = fakeIssuer();
    issuer.state.failWith = failure;
    let error: unknown;
    try {
      await verifier(issuer.fetch).verify(await signToken(current, { nowSec: NOW }), alice);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SealbusError);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_AUTH_KEYS_UNAVAILABLE', status: 503, retriable: true });
  });

  it('never fetches the URL a token names in "jku"', async () => {
    const issuer = fakeIssuer();
    const token = await signToken(current, { nowSec: NOW, header: { jku: 'https://attacker.example/jwks.json' } });
    expect(await codeOf(verifier(issuer.fetch).verify(token, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_HEADER');
    expect(issuer.state.requests).toEqual([]);
  });

  it('does not fetch keys for a token of an unknown issuer', async () => {
    const issuer = fakeIssuer();
    const token = await signToken(current, { nowSec: NOW, claims: { iss: 'https://other.test' } });
    expect(await codeOf(verifier(issuer.fetch).verify(token, alice))).toBe('SEALBUS_ERR_AUTH_TOKEN_ISSUER');
    expect(issuer.state.requests).toEqual([]);
  });
});
