import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CertificateIdentity, JwkSet } from '../../../src/auth/index.js';

export const AUDIENCE = 'sealbus';
export const ISSUER = 'https://issuer.test';

/** A certificate identity as identifyClient returns it; `fingerprint256` is what binding compares. */
export function certificateIdentity(name: string, fingerprint256 = `${name.padEnd(43, 'A')}`.slice(0, 43)): CertificateIdentity {
  return {
    principal: name,
    spiffeId: null,
    subject: `CN=${name}`,
    issuer: 'CN=Test CA',
    serialNumber: '1',
    fingerprint256,
    notAfter: Date.now() + 86_400_000,
  };
}

export interface TestSigner {
  readonly kid: string;
  readonly alg: 'EdDSA' | 'ES256' | 'ES384';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly jwks: JwkSet;
}

export async function testSigner(kid = 'key-1', alg: TestSigner['alg'] = 'EdDSA'): Promise<TestSigner> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, jwks: { keys: [publicJwk] } };
}

/**
 * Signs a token with sensible defaults; a claim or header set to `undefined` is left out, so each
 * test states only what it breaks.
 */
export async function signToken(
  signer: TestSigner,
  opts: { claims?: Record<string, unknown>; header?: Record<string, unknown>; nowSec?: number } = {},
): Promise<string> {
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: ISSUER, sub: 'alice', aud: AUDIENCE, iat: now, exp: now + 600, jti: 'jti-1', ...opts.claims };
  const header: Record<string, unknown> = { alg: signer.alg, kid: signer.kid, typ: 'sealbus+jwt', ...opts.header };
  for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
  for (const key of Object.keys(header)) if (header[key] === undefined) delete header[key];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(signer.privateKey);
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (`alg: none`), as an attacker would send it. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64({ alg: 'none', typ: 'sealbus+jwt' })}.${b64(claims)}.`;
}
