import {
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type ProtectedHeaderParameters,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
} from 'jose';
import { SealbusError } from '../errors/index.js';
import { keyResolverFor } from './issuer-keys.js';
import { LruCache } from './token-cache.js';
import { type TimeRules, type VerifiedToken, checkTokenBinding, checkTokenTimes, readVerifiedClaims } from './token-claims.js';
import { fromJoseError } from './token-errors.js';
import { displayValue, sha256Base64url } from './text.js';
import type { CertificateIdentity, IssuerTrust, TokenIdentity } from './types.js';

/** The `typ` of tokens sealbus issues, and the default an issuer's tokens must carry. */
export const SEALBUS_TOKEN_TYPE = 'sealbus+jwt';

/** Asymmetric algorithms only: `none` and HMAC (a shared secret the broker would have to hold) never. */
const SUPPORTED_ALGORITHMS = ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];
/** Header parameters that point at keys: trusting them lets the sender pick the key that verifies. */
const KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;
const MAX_TOKEN_LENGTH = 16_384;

export interface TokenVerifierOptions {
  readonly issuers: readonly IssuerTrust[];
  /** The `aud` value tokens must include. */
  readonly audience: string;
  /** Default ['EdDSA', 'ES256']. */
  readonly algorithms?: readonly string[] | undefined;
  /** Leeway for `exp`, `nbf` and `iat` (default 30 s). */
  readonly clockToleranceSec?: number | undefined;
  /** Tokens issued longer ago are refused even before `exp`; `null` disables (default 30 days). */
  readonly maxTokenAgeSec?: number | null | undefined;
  /** Verified tokens kept (default 10 000). */
  readonly cacheSize?: number | undefined;
  /** Clock in milliseconds since the epoch (default Date.now). */
  readonly now?: (() => number) | undefined;
  /** Consulted on every use, cached or not (the hook for a token deny list). */
  readonly isTokenRevoked?: ((token: TokenIdentity) => boolean) | undefined;
}

function malformed(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_MALFORMED', { reason });
}

function configError(key: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'token verifier', key, reason });
}

/** RFC 8725 §3.11 / jose: `typ` compares case-insensitively, with `application/` optional. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

/** Refuses a token whose key the issuer retired (a key rotation's overlap ended). */
function checkKeyNotRetired(trust: IssuerTrust, kid: string | null): void {
  if (kid !== null && trust.isKeyRetired?.(kid) === true) {
    throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED', { kid: displayValue(kid, 64) });
  }
}

/**
 * Verifies bearer JWTs against the configured issuers and binds them to the connection's
 * certificate. A token verified once is cached by its SHA-256 until it expires: later uses cost a
 * hash and a map lookup, and still re-check expiry, age, key retirement, binding and revocation
 * every time.
 */
export class TokenVerifier {
  readonly #issuers = new Map<string, { trust: IssuerTrust; keys: JWTVerifyGetKey }>();
  readonly #audience: string;
  readonly #algorithms: readonly string[];
  readonly #rules: TimeRules;
  readonly #now: () => number;
  readonly #cache: LruCache<VerifiedToken>;
  readonly #inflight = new Map<string, Promise<VerifiedToken>>();
  readonly #isTokenRevoked: ((token: TokenIdentity) => boolean) | undefined;

  constructor(opts: TokenVerifierOptions) {
    if (typeof opts.audience !== 'string' || opts.audience === '') throw configError('audience', 'must be a non-empty string');
    this.#audience = opts.audience;
    const algorithms = opts.algorithms ?? ['EdDSA', 'ES256'];
    const refused = algorithms.find((alg) => !SUPPORTED_ALGORITHMS.includes(alg));
    if (refused !== undefined || algorithms.length === 0) {
      throw configError('algorithms', `${refused ?? '(empty)'} is not allowed; choose among ${SUPPORTED_ALGORITHMS.join(', ')}`);
    }
    this.#algorithms = [...algorithms];
    const clockToleranceSec = opts.clockToleranceSec ?? 30;
    const maxTokenAgeSec = opts.maxTokenAgeSec === undefined ? 2_592_000 : opts.maxTokenAgeSec;
    if (!(clockToleranceSec >= 0 && clockToleranceSec <= 300)) throw configError('clockToleranceSec', 'must be within 0..300');
    if (maxTokenAgeSec !== null && !(maxTokenAgeSec > 0)) throw configError('maxTokenAgeSec', 'must be positive or null');
    this.#rules = { clockToleranceSec, maxTokenAgeSec };
    this.#now = opts.now ?? Date.now;
    this.#cache = new LruCache(opts.cacheSize ?? 10_000);
    this.#isTokenRevoked = opts.isTokenRevoked;
    for (const trust of opts.issuers) {
      if (typeof trust.issuer !== 'string' || trust.issuer === '') throw configError('issuers', 'every issuer needs a non-empty "issuer"');
      if (this.#issuers.has(trust.issuer)) throw configError('issuers', `${trust.issuer} is configured twice`);
      // Checked here because a missing flag would otherwise read as "unbound tokens welcome".
      if (typeof trust.requireBinding !== 'boolean') throw configError('issuers', `${trust.issuer} needs requireBinding: true or false`);
      this.#issuers.set(trust.issuer, { trust, keys: keyResolverFor(trust) });
    }
  }

  /**
   * Returns the token's identity or throws a SEALBUS_ERR_AUTH_TOKEN_* error (KEYS_UNAVAILABLE, 503,
   * when a remote issuer cannot be reached). `certificate` is the connection's: binding is checked
   * against it on every call, cached or not.
   */
  async verify(token: string, certificate: CertificateIdentity): Promise<TokenIdentity> {
    if (typeof token !== 'string' || token === '') throw malformed('the token is empty');
    if (token.length > MAX_TOKEN_LENGTH) throw malformed(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
    const key = sha256Base64url(token);
    let verified = this.#cache.get(key);
    if (verified === undefined) {
      let pending = this.#inflight.get(key);
      if (pending === undefined) {
        // Concurrent first uses of one token share a single signature verification.
        pending = this.#verifyUncached(token).finally(() => this.#inflight.delete(key));
        this.#inflight.set(key, pending);
      }
      verified = await pending;
      this.#cache.set(key, verified);
    }
    try {
      checkTokenTimes(verified, this.#now(), this.#rules);
      // Also for a token verified before its key was retired: the rotation's overlap is over.
      checkKeyNotRetired(verified.trust, verified.kid);
    } catch (err) {
      this.#cache.delete(key);
      throw err;
    }
    checkTokenBinding(verified, certificate);
    if (this.#isTokenRevoked?.(verified.identity) === true) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    return verified.identity;
  }

  /**
   * Judges again the token of a live session (after a revocation or a key retirement): throws
   * SEALBUS_ERR_AUTH_TOKEN_REVOKED, _KEY_RETIRED, _EXPIRED or _TOO_OLD as `verify` would now.
   * Binding is not re-checked: the session's certificate does not change.
   */
  recheck(identity: TokenIdentity): void {
    if (this.#isTokenRevoked?.(identity) === true) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    const issuer = this.#issuers.get(identity.issuer);
    if (issuer === undefined) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_ISSUER', { iss: displayValue(identity.issuer) });
    checkKeyNotRetired(issuer.trust, identity.keyId);
    const verified: VerifiedToken = {
      identity,
      trust: issuer.trust,
      thumbprint: null,
      kid: identity.keyId,
      exp: identity.expiresAt / 1000,
      nbf: undefined,
      iat: identity.issuedAt / 1000,
    };
    checkTokenTimes(verified, this.#now(), this.#rules);
  }

  /** Forgets every verified token, e.g. after an issuer's keys were withdrawn. */
  clearCache(): void {
    this.#cache.clear();
  }

  /** Cheap checks first, so a forged token costs no signature verification. */
  #precheck(token: string): { header: ProtectedHeaderParameters; trust: IssuerTrust; keys: JWTVerifyGetKey; typ: string | null } {
    if (token.split('.').length !== 3) throw malformed('a JWT has three dot-separated parts (encrypted tokens are not accepted)');
    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw malformed('the header or the payload is not base64url-encoded JSON');
    }
    // Refused rather than ignored: a token that names its own key is an attack or a misconfigured
    // issuer, and either way the operator should hear about it.
    const keyHeader = KEY_HEADERS.find((name) => Object.hasOwn(header, name));
    if (keyHeader !== undefined) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_HEADER', { header: keyHeader });
    if (typeof header.alg !== 'string' || !this.#algorithms.includes(header.alg)) {
      throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_ALG', { alg: displayValue(header.alg ?? '(none)', 20) });
    }
    if (typeof claims.iss !== 'string') throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_CLAIMS', { reason: 'the "iss" claim is missing' });
    const issuer = this.#issuers.get(claims.iss);
    if (issuer === undefined) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_ISSUER', { iss: displayValue(claims.iss) });
    const typ = issuer.trust.typ === undefined ? SEALBUS_TOKEN_TYPE : issuer.trust.typ;
    if (typ !== null && (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(typ))) {
      throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_TYPE', { typ: displayValue(header.typ ?? '(none)', 40), expected: JSON.stringify(typ) });
    }
    // Named rather than reported as a bad signature: the holder needs a new token, nothing is forged.
    checkKeyNotRetired(issuer.trust, typeof header.kid === 'string' ? header.kid : null);
    return { header, trust: issuer.trust, keys: issuer.keys, typ };
  }

  async #verifyUncached(token: string): Promise<VerifiedToken> {
    const { header, trust, keys, typ } = this.#precheck(token);
    const options: JWTVerifyOptions = {
      issuer: trust.issuer,
      audience: this.#audience,
      algorithms: [...this.#algorithms],
      clockTolerance: this.#rules.clockToleranceSec,
      // iat: revoking "every token of a subject issued before T" needs it (RFC 9068 requires it too).
      requiredClaims: ['exp', 'sub', 'iat'],
      currentDate: new Date(this.#now()),
      ...(typ !== null && { typ }),
      ...(this.#rules.maxTokenAgeSec !== null && { maxTokenAge: this.#rules.maxTokenAgeSec }),
    };
    const context = { issuer: trust.issuer, audience: this.#audience, maxTokenAgeSec: this.#rules.maxTokenAgeSec };
    let payload: JWTPayload;
    try {
      payload = (await jwtVerify(token, keys, options)).payload;
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw fromJoseError(err, context);
      payload = await this.#verifyWithCandidates(token, err, options, context);
    }
    return readVerifiedClaims(payload, trust, typeof header.kid === 'string' ? header.kid : null);
  }

  /** Several keys match (no `kid`, or a reused one): the token is valid if one of them verifies it. */
  async #verifyWithCandidates(
    token: string,
    candidates: errors.JWKSMultipleMatchingKeys,
    options: JWTVerifyOptions,
    context: Parameters<typeof fromJoseError>[1],
  ): Promise<JWTPayload> {
    for await (const key of candidates as unknown as AsyncIterable<Parameters<typeof jwtVerify>[1]>) {
      try {
        return (await jwtVerify(token, key as Exclude<Parameters<typeof jwtVerify>[1], JWTVerifyGetKey>, options)).payload;
      } catch (err) {
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw fromJoseError(err, context);
      }
    }
    throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE', { iss: JSON.stringify(context.issuer) });
  }
}
