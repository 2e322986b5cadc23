import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/index.js';
import { checkTokenTimes, readVerifiedClaims } from '../../src/auth/token-claims.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { codeOfThrow } from '../helpers/error-code.js';
import { runTarget } from './run-target.js';
import { tokenClaimsTarget, tokenOf, tokenVerifyTarget, trusts } from './tokens.js';

describe('fuzz: token claims handling', () => {
  it(`${tokenVerifyTarget.name}: hostile headers, claims and sizes under the issuer's own signature`, () =>
    runTarget(tokenVerifyTarget, [
      'TokenVerifier.verify: ok',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_MALFORMED',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_ALG',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_HEADER',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_ISSUER',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_CLAIMS',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_TYPE',
      'TokenVerifier.verify: SEALBUS_ERR_AUTH_TOKEN_BINDING',
    ]));

  it(tokenClaimsTarget.name, () =>
    runTarget(tokenClaimsTarget, [
      'readVerifiedClaims: ok',
      'readVerifiedClaims: SEALBUS_ERR_AUTH_TOKEN_CLAIMS',
      'checkTokenTimes: ok',
      'checkTokenTimes: SEALBUS_ERR_AUTH_TOKEN_EXPIRED',
      'checkTokenTimes: SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID',
      'checkTokenTimes: SEALBUS_ERR_AUTH_TOKEN_TOO_OLD',
      'checkTokenBinding: ok',
      'checkTokenBinding: SEALBUS_ERR_AUTH_TOKEN_UNBOUND',
    ]));
});

describe('regressions found by the fuzz run', () => {
  it('a token whose exp has a fraction expires at its whole second, as its session is told: SEALBUS_ERR_AUTH_TOKEN_EXPIRED', () => {
    // Found by tokens/claims (seed 1004876272): exp 1700099968.0000002 was accepted at
    // 1700099998 with 30 s of tolerance, while the identity said it expired at 1700099968.
    const now = 1_700_000_000;
    const rules = { clockToleranceSec: 30, maxTokenAgeSec: null };
    const token = readVerifiedClaims({ sub: 'alice', exp: now + 0.0000002, iat: now - 60 }, trusts({})[0]!, null);
    expect(token.identity.expiresAt).toBe(now * 1000);
    expect(codeOfThrow(() => checkTokenTimes(token, (now + 30) * 1000, rules))).toBe('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
    expect(() => checkTokenTimes(token, (now + 29) * 1000, rules)).not.toThrow();
  });

  it('a token whose exp and iat have fractions gives whole seconds, which the session can put in its expiry frames', async () => {
    const now = 1_700_000_000;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const verifier = new TokenVerifier({ issuers: trusts(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), audience: 'sealbus', now: () => now * 1000 });
    const claims = { iss: 'https://issuer.test', sub: 'alice', aud: 'sealbus', exp: now + 600.0005, iat: now - 0.5, jti: 'j' };
    const token = tokenOf(
      { headerBytes: Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'sealbus+jwt', kid: 'k1' })), payloadBytes: Buffer.from(JSON.stringify(claims)), shape: 'signed', bound: false },
      privateKey,
    );
    const identity = await verifier.verify(token, { principal: 'alice', spiffeId: null, subject: 'CN=alice', issuer: 'CN=CA', serialNumber: '1', fingerprint256: 'A'.repeat(43), notAfter: 2e12 });
    // Rounded down: the session ends no later than the token, and a revocation of the subject at
    // `now - 1` s covers a token issued within that second.
    expect(identity).toMatchObject({ expiresAt: (now + 600) * 1000, issuedAt: (now - 1) * 1000 });
    // Before: 1700000600000.5 (a fraction of a millisecond), which encodeFrame refuses; the session
    // encodes its REFRESHED reply and, in a timer, its TOKEN_EXPIRING push from it.
    expect(() => encodeFrame({ type: 'REFRESHED', requestId: 1, expiresAt: identity.expiresAt })).not.toThrow();
    expect(() => encodeFrame({ type: 'REFRESHED', requestId: 1, expiresAt: (now + 600.0005) * 1000 })).toThrow(/must be an integer/);
  });
});
