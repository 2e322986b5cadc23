import type { JWTPayload } from 'jose';
import { SealbusError } from '../errors/index.js';
import { isPrintableName } from './text.js';
import type { CertificateIdentity, IssuerTrust, TokenIdentity } from './types.js';

/** A token whose signature and claims were verified once; cached, then re-checked per request. */
export interface VerifiedToken {
  readonly identity: TokenIdentity;
  readonly trust: IssuerTrust;
  /** `cnf.x5t#S256`, or null for an unbound token. */
  readonly thumbprint: string | null;
  /** The `kid` header, re-checked against the issuer's retired keys on every use. */
  readonly kid: string | null;
  /** NumericDate seconds, as in the token. */
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly iat: number;
}

export interface TimeRules {
  readonly clockToleranceSec: number;
  readonly maxTokenAgeSec: number | null;
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

function invalidClaims(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_CLAIMS', { reason });
}

function stringList(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string' && isPrintableName(item))) {
    throw invalidClaims(`"${claim}" must be an array of names`);
  }
  return [...value];
}

/** null without a scope claim (no narrowing); a present but empty claim narrows to nothing. */
function scopesOf(payload: JWTPayload): string[] | null {
  // RFC 8693/9068 "scope" is one space-separated string; some issuers (Okta, Entra) send "scp" as an array.
  if (payload.scope !== undefined) {
    if (typeof payload.scope !== 'string') throw invalidClaims('"scope" must be a space-separated string');
    return payload.scope.split(' ').filter((scope) => scope !== '');
  }
  return payload.scp === undefined ? null : stringList(payload.scp, 'scp');
}

function thumbprintOf(payload: JWTPayload): string | null {
  const cnf = payload.cnf;
  if (cnf === undefined) return null;
  const thumbprint = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>)['x5t#S256'] : undefined;
  // A confirmation this broker cannot check (DPoP "jkt", a raw "jwk") must not pass as unbound.
  if (typeof thumbprint !== 'string') throw invalidClaims('"cnf" must hold "x5t#S256" (certificate binding, RFC 8705)');
  if (!THUMBPRINT.test(thumbprint)) throw invalidClaims('"cnf.x5t#S256" must be a base64url SHA-256 thumbprint');
  return thumbprint;
}

/**
 * Reads what sealbus uses from verified claims; anything malformed is SEALBUS_ERR_AUTH_TOKEN_CLAIMS.
 * `kid` is the protected header's, when a string.
 */
export function readVerifiedClaims(payload: JWTPayload, trust: IssuerTrust, kid: string | null): VerifiedToken {
  const { sub, jti, exp, nbf, iat } = payload;
  if (typeof sub !== 'string' || !isPrintableName(sub)) throw invalidClaims('"sub" must be a printable name of at most 256 characters');
  if (jti !== undefined && (typeof jti !== 'string' || jti === '')) throw invalidClaims('"jti" must be a non-empty string');
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalidClaims('the "exp" claim is missing');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidClaims('the "iat" claim is missing');
  const thumbprint = thumbprintOf(payload);
  const scopes = scopesOf(payload);
  const identity: TokenIdentity = Object.freeze({
    principal: `${trust.subjectPrefix ?? ''}${sub}`,
    issuer: trust.issuer,
    subject: sub,
    jti: jti ?? null,
    // NumericDate may have a fraction (RFC 7519 §2); whole seconds keep every use of these exact:
    // the session's expiry frames (integers on the wire), and subject revocations, which count a
    // token issued within the revocation's second as issued before it.
    expiresAt: Math.floor(exp) * 1000,
    issuedAt: Math.floor(iat) * 1000,
    keyId: kid,
    groups: Object.freeze(stringList(payload[trust.groupsClaim ?? 'groups'], trust.groupsClaim ?? 'groups')),
    scopes: scopes === null ? null : Object.freeze(scopes),
    bound: thumbprint !== null,
  });
  // Checked in the same whole seconds as the identity carries: a token whose exp has a fraction is
  // otherwise accepted for up to a second after the expiry its session is told (expiresAt).
  return { identity, trust, thumbprint, kid, exp: identity.expiresAt / 1000, nbf: typeof nbf === 'number' ? nbf : undefined, iat: identity.issuedAt / 1000 };
}

/**
 * The time checks jose applied at verification, repeated with the current clock for every use of
 * a cached token (same arithmetic as jose, in NumericDate seconds).
 */
export function checkTokenTimes(token: VerifiedToken, nowMs: number, rules: TimeRules): void {
  const now = Math.floor(nowMs / 1000);
  const tolerance = rules.clockToleranceSec;
  if (token.exp <= now - tolerance) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
  if (token.nbf !== undefined && token.nbf > now + tolerance) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID');
  if (rules.maxTokenAgeSec !== null) {
    const age = now - token.iat;
    if (age - tolerance > rules.maxTokenAgeSec) {
      throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_TOO_OLD', { maxAge: `${rules.maxTokenAgeSec} seconds` });
    }
    if (age < -tolerance) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID');
  }
}

/** RFC 8705: a bound token is usable only over the certificate it names. */
export function checkTokenBinding(token: VerifiedToken, certificate: CertificateIdentity): void {
  if (token.thumbprint === null) {
    if (token.trust.requireBinding) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_UNBOUND', { iss: JSON.stringify(token.trust.issuer) });
    return;
  }
  if (token.thumbprint !== certificate.fingerprint256) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_BINDING');
}
