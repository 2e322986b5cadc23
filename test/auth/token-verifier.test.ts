import { SignJWT, base64url } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier, type IssuerTrust, type TokenVerifierOptions } from '../../src/auth/index.js';
import { isSealbusError } from '../../src/errors/index.js';
import { rejectionOf } from '../helpers/error-code.js';
import { AUDIENCE, ISSUER, certificateIdentity, signToken, testSigner, unsignedToken, type TestSigner } from './helpers/tokens.js';

const alice = certificateIdentity('alice');
const mallory = certificateIdentity('mallory');
const NOW = Math.floor(Date.now() / 1000);

let signer: TestSigner;
let attacker: TestSigner;

beforeAll(async () => {
  signer = await testSigner('key-1');
  attacker = await testSigner('key-1'); // same kid, other key
});

function verifier(trust: Partial<IssuerTrust> = {}, opts: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  return new TokenVerifier({
    issuers: [{ issuer: ISSUER, jwks: signer.jwks, requireBinding: false, ...trust }],
    audience: AUDIENCE,
    now: () => NOW * 1000,
    ...opts,
  });
}


async function codeOf(token: string, v = verifier(), cert = alice): Promise<string> {
  try {
    await v.verify(token, cert);
    return 'accepted';
  } catch (err) {
    if (isSealbusError(err)) return err.code;
    throw err;
  }
}

const bound = (cert = alice) => ({ cnf: { 'x5t#S256': cert.fingerprint256 } });

describe('TokenVerifier accepts', () => {
  it('a valid token and reports both what it says and that it is bound', async () => {
    const token = await signToken(signer, { nowSec: NOW, claims: { ...bound(), groups: ['ops'], scope: 'produce consume' } });
    const identity = await verifier({ requireBinding: true }).verify(token, alice);
    expect(identity).toEqual({
      principal: 'alice',
      issuer: ISSUER,
      subject: 'alice',
      jti: 'jti-1',
      expiresAt: (NOW + 600) * 1000,
      issuedAt: NOW * 1000,
      keyId: 'key-1',
      groups: ['ops'],
      scopes: ['produce', 'consume'],
      bound: true,
    });
  });

  it('an unbound token from an issuer that allows them', async () => {
    const identity = await verifier({ requireBinding: false }).verify(await signToken(signer, { nowSec: NOW }), alice);
    expect(identity.bound).toBe(false);
  });

  it('typ compared as RFC 8725 says, and any typ when the issuer sets typ: null', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { typ: 'application/SEALBUS+JWT' } }))).toBe('accepted');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { typ: 'JWT' } }), verifier({ typ: null }))).toBe('accepted');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { typ: 'at+jwt' } }), verifier({ typ: 'at+jwt' }))).toBe('accepted');
  });

  it('a custom groups claim, "scp" scopes and a subject prefix', async () => {
    const token = await signToken(signer, { nowSec: NOW, claims: { roles: ['a', 'b'], scp: ['read'] } });
    const identity = await verifier({ groupsClaim: 'roles', subjectPrefix: 'idp:' }).verify(token, alice);
    expect(identity).toMatchObject({ principal: 'idp:alice', subject: 'alice', groups: ['a', 'b'], scopes: ['read'] });
  });

  it('scopes: null without a scope claim (no narrowing), [] for an empty one (narrowed to nothing)', async () => {
    const v = verifier();
    expect((await v.verify(await signToken(signer, { nowSec: NOW }), alice)).scopes).toBeNull();
    expect((await v.verify(await signToken(signer, { nowSec: NOW, claims: { scope: '' } }), alice)).scopes).toEqual([]);
    expect((await v.verify(await signToken(signer, { nowSec: NOW, claims: { scope: '  ' } }), alice)).scopes).toEqual([]);
    expect((await v.verify(await signToken(signer, { nowSec: NOW, claims: { scp: [] } }), alice)).scopes).toEqual([]);
  });

  it('a token without kid, reported with keyId null', async () => {
    const identity = await verifier().verify(await signToken(signer, { nowSec: NOW, header: { kid: undefined } }), alice);
    expect(identity.keyId).toBeNull();
  });

  it('a token signed by any of several keys without kid', async () => {
    const second = await testSigner('key-2');
    const jwks = { keys: [{ ...signer.publicJwk, kid: undefined }, { ...second.publicJwk, kid: undefined }] };
    const token = await signToken(second, { nowSec: NOW, header: { kid: undefined } });
    expect(await codeOf(token, verifier({ jwks: JSON.parse(JSON.stringify(jwks)) }))).toBe('accepted');
  });
});

describe('TokenVerifier rejects, with the exact code', () => {
  it('alg "none": TOKEN_ALG', async () => {
    const now = { iss: ISSUER, sub: 'admin', aud: AUDIENCE, iat: NOW, exp: NOW + 600 };
    expect(await codeOf(unsignedToken(now))).toBe('SEALBUS_ERR_AUTH_TOKEN_ALG');
  });

  it('HS256 signed with the public key as the HMAC secret (key confusion): TOKEN_ALG', async () => {
    const secret = base64url.decode(String(signer.publicJwk.x));
    const token = await new SignJWT({ sub: 'admin' })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-1', typ: 'sealbus+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(NOW)
      .setExpirationTime(NOW + 600)
      .sign(secret);
    expect(await codeOf(token)).toBe('SEALBUS_ERR_AUTH_TOKEN_ALG');
  });

  it('an algorithm outside the allow-list even with a valid key: TOKEN_ALG', async () => {
    const es384 = await testSigner('k384', 'ES384');
    const token = await signToken(es384, { nowSec: NOW });
    expect(await codeOf(token, verifier({ jwks: es384.jwks }))).toBe('SEALBUS_ERR_AUTH_TOKEN_ALG');
  });

  it('a signature by another key with the same kid: TOKEN_SIGNATURE', async () => {
    expect(await codeOf(await signToken(attacker, { nowSec: NOW }))).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
  });

  it('a kid the issuer does not have: TOKEN_SIGNATURE', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { kid: 'nope' } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
  });

  it('a tampered payload: TOKEN_SIGNATURE', async () => {
    const [header, , signature] = (await signToken(signer, { nowSec: NOW })).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: ISSUER, sub: 'admin', aud: AUDIENCE, iat: NOW, exp: NOW + 600 })).toString('base64url');
    expect(await codeOf(`${header}.${forged}.${signature}`)).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
  });

  it('an expired token, beyond the clock tolerance: TOKEN_EXPIRED', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { iat: NOW - 100, exp: NOW - 31 } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { iat: NOW - 100, exp: NOW - 29 } }))).toBe('accepted');
  });

  it('another audience: TOKEN_AUDIENCE', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { aud: 'other-service' } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_AUDIENCE');
  });

  it('an unknown issuer, without echoing control characters: TOKEN_ISSUER', async () => {
    const err = await rejectionOf(verifier().verify(await signToken(signer, { nowSec: NOW, claims: { iss: 'https://evil\n[INFO] forged' } }), alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_ISSUER');
    expect(err.message).not.toContain('\n');
  });

  it('a wrong or missing typ: TOKEN_TYPE', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { typ: 'JWT' } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_TYPE');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { typ: undefined } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_TYPE');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { typ: 'sealbus+jwt' } }), verifier({ typ: 'at+jwt' }))).toBe(
      'SEALBUS_ERR_AUTH_TOKEN_TYPE',
    );
  });

  it.each(['exp', 'sub', 'iss', 'aud', 'iat'])('a token without "%s": TOKEN_CLAIMS', async (claim) => {
    const token = await signToken(signer, { nowSec: NOW, claims: { [claim]: undefined } });
    const err = await rejectionOf(verifier().verify(token, alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_CLAIMS');
    expect(err.message).toContain(claim);
  });

  it('a token without "iat" even when no maximum age is set: TOKEN_CLAIMS', async () => {
    const token = await signToken(signer, { nowSec: NOW, claims: { iat: undefined } });
    const err = await rejectionOf(verifier({}, { maxTokenAgeSec: null }).verify(token, alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_CLAIMS');
    expect(err.message).toContain('"iat"');
  });

  it('a non-numeric exp: TOKEN_CLAIMS', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { exp: String(NOW + 600) } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_CLAIMS');
  });

  it.each(['jku', 'x5u', 'x5c', 'jwk'])('a "%s" header, even when the signature verifies: TOKEN_HEADER', async (header) => {
    const values: Record<string, unknown> = {
      jku: 'https://attacker.example/jwks.json',
      x5u: 'https://attacker.example/cert.pem',
      x5c: ['MIIB'],
      jwk: signer.publicJwk,
    };
    const token = await signToken(signer, { nowSec: NOW, header: { [header]: values[header] } });
    const err = await rejectionOf(verifier().verify(token, alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_HEADER');
    expect(err.message).toContain(`"${header}"`);
  });

  it('an embedded jwk of the attacker with a matching signature: TOKEN_HEADER, never accepted', async () => {
    const token = await signToken(attacker, { nowSec: NOW, header: { jwk: attacker.publicJwk, kid: undefined } });
    expect(await codeOf(token)).toBe('SEALBUS_ERR_AUTH_TOKEN_HEADER');
  });

  it('a token issued longer ago than the maximum age: TOKEN_TOO_OLD', async () => {
    const v = verifier({}, { maxTokenAgeSec: 3600 });
    const token = await signToken(signer, { nowSec: NOW, claims: { iat: NOW - 3600 - 31, exp: NOW + 600 } });
    const err = await rejectionOf(v.verify(token, alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_TOO_OLD');
    expect(err.message).toContain('3600 seconds');
  });

  it('nbf or iat in the future, beyond the tolerance: TOKEN_NOT_YET_VALID', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { nbf: NOW + 120 } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { iat: NOW + 120 } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { nbf: NOW + 20 } }))).toBe('accepted');
  });

  it('a token bound to another certificate: TOKEN_BINDING', async () => {
    const token = await signToken(signer, { nowSec: NOW, claims: bound(alice) });
    expect(await codeOf(token, verifier(), mallory)).toBe('SEALBUS_ERR_AUTH_TOKEN_BINDING');
  });

  it('an unbound token of an issuer that requires binding: TOKEN_UNBOUND', async () => {
    const err = await rejectionOf(verifier({ requireBinding: true }).verify(await signToken(signer, { nowSec: NOW }), alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_UNBOUND');
    expect(err.status).toBe(401);
  });

  it('a confirmation sealbus cannot check (DPoP jkt) instead of passing it as unbound: TOKEN_CLAIMS', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { cnf: { jkt: 'abc' } } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_CLAIMS');
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { cnf: { 'x5t#S256': 'short' } } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_CLAIMS');
  });

  it('groups that are not a list of names: TOKEN_CLAIMS', async () => {
    expect(await codeOf(await signToken(signer, { nowSec: NOW, claims: { groups: 'admins' } }))).toBe('SEALBUS_ERR_AUTH_TOKEN_CLAIMS');
  });

  it('an unknown critical header: TOKEN_MALFORMED', async () => {
    // The sender marks an extension as one the recipient must understand; sealbus does not.
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'key-1', typ: 'sealbus+jwt', crit: ['exp-policy'], 'exp-policy': 1 })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(NOW)
      .setExpirationTime(NOW + 600)
      .sign(signer.privateKey, { crit: { 'exp-policy': true } });
    expect(await codeOf(token)).toBe('SEALBUS_ERR_AUTH_TOKEN_MALFORMED');
  });

  it.each([
    ['not a JWT', 'garbage'],
    ['an encrypted token', 'a.b.c.d.e'],
    ['non-JSON parts', 'e30.bm90IGpzb24.sig'],
    ['a huge token', `${'a'.repeat(20_000)}.b.c`],
    ['an empty token', ''],
  ])('%s: TOKEN_MALFORMED', async (_what, token) => {
    expect(await codeOf(token)).toBe('SEALBUS_ERR_AUTH_TOKEN_MALFORMED');
  });

  it('never puts the token or key material in the error', async () => {
    const tokens = [
      await signToken(attacker, { nowSec: NOW }),
      await signToken(signer, { nowSec: NOW, claims: { exp: NOW - 1000, iat: NOW - 2000 } }),
      await signToken(signer, { nowSec: NOW, claims: { aud: 'x', ...bound(mallory) } }),
      await signToken(signer, { nowSec: NOW, header: { jwk: signer.publicJwk } }),
    ];
    for (const token of tokens) {
      const err = await rejectionOf(verifier().verify(token, alice));
      const wire = JSON.stringify(err.toWire()) + err.message + String(err.stack);
      for (const part of token.split('.')) expect(wire).not.toContain(part);
      expect(wire).not.toContain(String(signer.publicJwk.x));
    }
  });
});

describe('TokenVerifier and retired keys', () => {
  /** An issuer whose retired set the test changes, and whose JWKS counts lookups (signature work). */
  function rotatingIssuer(): { trust: Partial<IssuerTrust>; retired: Set<string>; lookups: () => number } {
    const retired = new Set<string>();
    let lookups = 0;
    const jwks = () => {
      lookups += 1;
      return signer.jwks;
    };
    return { trust: { jwks, isKeyRetired: (kid) => retired.has(kid) }, retired, lookups: () => lookups };
  }

  it('refuses a token of a retired key by name, before any signature work, even while the key is still served', async () => {
    const issuer = rotatingIssuer();
    issuer.retired.add('key-1');
    const err = await rejectionOf(verifier(issuer.trust).verify(await signToken(signer, { nowSec: NOW }), alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    expect(err.message).toContain('"key-1"');
    expect(err.status).toBe(401);
    expect(issuer.lookups()).toBe(0);
    // Forged tokens naming a retired key cost no signature verification either.
    expect(await codeOf(await signToken(attacker, { nowSec: NOW }), verifier(issuer.trust))).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    expect(issuer.lookups()).toBe(0);
    expect(await codeOf(await signToken(signer, { nowSec: NOW, header: { kid: 'key-2' } }), verifier(issuer.trust))).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
  });

  it('refuses a cached token once its key is retired, and forgets it', async () => {
    const issuer = rotatingIssuer();
    const v = verifier(issuer.trust);
    const token = await signToken(signer, { nowSec: NOW });
    expect(await codeOf(token, v)).toBe('accepted');
    expect(await codeOf(token, v)).toBe('accepted');
    expect(issuer.lookups()).toBe(1);

    issuer.retired.add('key-1');
    expect(await codeOf(token, v)).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    issuer.retired.delete('key-1');
    expect(await codeOf(token, v)).toBe('accepted');
    expect(issuer.lookups()).toBe(2);
  });

  it('never echoes an untrusted kid unbounded or with control characters', async () => {
    const kid = `${'k'.repeat(5000)}\n[INFO] forged`;
    const err = await rejectionOf(verifier({ isKeyRetired: () => true }).verify(await signToken(signer, { nowSec: NOW, header: { kid } }), alice));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(200);
  });
});

describe('TokenVerifier.recheck, for live sessions', () => {
  it('passes a token still valid, and refuses it once revoked, its key retired, or expired', async () => {
    const clock = { now: NOW * 1000 };
    const revoked = new Set<string>();
    const retired = new Set<string>();
    const v = verifier(
      { isKeyRetired: (kid) => retired.has(kid) },
      { now: () => clock.now, isTokenRevoked: (identity) => identity.jti !== null && revoked.has(identity.jti) },
    );
    const identity = await v.verify(await signToken(signer, { nowSec: NOW }), alice);
    const recheck = (): string => {
      try {
        v.recheck(identity);
        return 'accepted';
      } catch (err) {
        if (isSealbusError(err)) return err.code;
        throw err;
      }
    };
    expect(recheck()).toBe('accepted');

    retired.add('key-1');
    expect(recheck()).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    revoked.add('jti-1');
    expect(recheck()).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    revoked.clear();
    retired.clear();

    clock.now = (NOW + 600 + 29) * 1000; // exp + 29 s: within the 30 s tolerance
    expect(recheck()).toBe('accepted');
    clock.now = (NOW + 600 + 30) * 1000;
    expect(recheck()).toBe('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
  });

  it('refuses a token older than the maximum age, as verify would', async () => {
    const clock = { now: NOW * 1000 };
    const v = verifier({}, { now: () => clock.now, maxTokenAgeSec: 3600 });
    const identity = await v.verify(await signToken(signer, { nowSec: NOW, claims: { exp: NOW + 86_400 } }), alice);
    clock.now = (NOW + 3600 + 31) * 1000;
    expect(() => v.recheck(identity)).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_AUTH_TOKEN_TOO_OLD' }));
  });

  it('refuses an identity of an issuer this verifier does not trust', async () => {
    const identity = await verifier().verify(await signToken(signer, { nowSec: NOW }), alice);
    const other = new TokenVerifier({ issuers: [{ issuer: 'https://other.test', jwks: signer.jwks, requireBinding: false }], audience: AUDIENCE });
    expect(() => other.recheck(identity)).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_AUTH_TOKEN_ISSUER' }));
  });
});

describe('TokenVerifier configuration', () => {
  it.each([['none'], ['HS256'], ['HS512']])('refuses %s in the allow-list', (alg) => {
    expect(() => verifier({}, { algorithms: [alg] })).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_CONFIG_INVALID' }));
  });

  it('refuses an issuer configured twice and a remote JWKS over http', () => {
    const trust = { issuer: ISSUER, jwks: { keys: [] }, requireBinding: true };
    expect(() => new TokenVerifier({ issuers: [trust, trust], audience: AUDIENCE })).toThrow(/configured twice/);
    expect(() => new TokenVerifier({ issuers: [{ ...trust, jwks: { url: 'http://issuer.test/jwks' } }], audience: AUDIENCE })).toThrow(/https/);
    const unset = { issuer: ISSUER, jwks: { keys: [] } } as unknown as IssuerTrust;
    expect(() => new TokenVerifier({ issuers: [unset], audience: AUDIENCE })).toThrow(/requireBinding/);
  });
});
