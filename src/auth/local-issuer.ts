import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { SealbusError } from '../errors/index.js';
import { Keyring, type KeyRotation } from './keyring.js';
import { isPrintableName } from './text.js';
import { SEALBUS_TOKEN_TYPE } from './token-verifier.js';
import type { IssuerTrust, JwkSet } from './types.js';

export { ISSUER_KEY_FILE } from './keyring.js';

const MAX_TTL_SECONDS = 366 * 86_400;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

export interface IssueTokenOptions {
  readonly sub: string;
  readonly ttlSeconds: number;
  readonly audience: string | readonly string[];
  /** `x5t#S256` of the client certificate the token is bound to (RFC 8705 `cnf`). */
  readonly bindThumbprint?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  /** Written as the space-separated `scope` claim. */
  readonly scopes?: readonly string[] | undefined;
  /** Default: a random UUID. */
  readonly jti?: string | undefined;
  /** The principal who asked for the token, written as the RFC 8693 `act` claim (`{"sub": actor}`). */
  readonly actor?: string | undefined;
}

function invalidRequest(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

function checkIssueOptions(opts: IssueTokenOptions): void {
  if (typeof opts.sub !== 'string' || !isPrintableName(opts.sub)) throw invalidRequest('sub must be a printable name of at most 256 characters');
  if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1 || opts.ttlSeconds > MAX_TTL_SECONDS) {
    throw invalidRequest(`ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
  }
  const audiences = typeof opts.audience === 'string' ? [opts.audience] : opts.audience;
  if (audiences.length === 0 || audiences.some((aud) => typeof aud !== 'string' || aud === '')) throw invalidRequest('audience must be non-empty');
  if (opts.bindThumbprint !== undefined && !THUMBPRINT.test(opts.bindThumbprint)) {
    throw invalidRequest('bindThumbprint must be the base64url SHA-256 of a certificate (43 characters)');
  }
  for (const group of opts.groups ?? []) if (!isPrintableName(group)) throw invalidRequest('groups must be printable names');
  for (const scope of opts.scopes ?? []) if (!isPrintableName(scope) || scope.includes(' ')) throw invalidRequest('scopes must be printable words without spaces');
  if (opts.jti !== undefined && !isPrintableName(opts.jti)) throw invalidRequest('jti must be a printable string');
  if (opts.actor !== undefined && !isPrintableName(opts.actor)) throw invalidRequest('actor must be a printable name');
}

/** What `issueTokenWithClaims` signed. Times are milliseconds since the epoch (whole seconds, as in the token). */
export interface IssuedTokenClaims {
  readonly token: string;
  readonly jti: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** The key that signed it. */
  readonly kid: string;
}

/**
 * The broker's own token issuer: Ed25519 keys kept in a keyring under a data folder (rotated
 * without invalidating live tokens at once), tokens with `typ: sealbus+jwt`, and the public JWKS
 * to serve at `/.well-known/jwks.json`.
 */
export class LocalIssuer {
  readonly issuer: string;
  readonly keyring: Keyring;
  readonly #now: () => number;

  private constructor(issuer: string, keyring: Keyring, now: () => number) {
    this.issuer = issuer;
    this.keyring = keyring;
    this.#now = now;
  }

  /**
   * Loads the keyring from `dir`, creating it (mode 0600) on first use, or adopting the key of an
   * older sealbus (`issuer-ed25519.key`) with its kid. Never overwrites a key.
   */
  static async loadOrCreate(dir: string, opts: { issuer: string; now?: (() => number) | undefined }): Promise<LocalIssuer> {
    if (typeof opts.issuer !== 'string' || !isPrintableName(opts.issuer, 512)) {
      throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'local issuer', key: 'issuer', reason: 'must be a printable string' });
    }
    const now = opts.now ?? Date.now;
    return new LocalIssuer(opts.issuer, await Keyring.loadOrCreate(dir, { now }), now);
  }

  /** The active key's RFC 7638 thumbprint: the `kid` of tokens issued now. */
  get kid(): string {
    return this.keyring.activeKid;
  }

  /** The active key's private key file (mode 0600). */
  get keyFile(): string {
    return this.keyring.activeKeyFile;
  }

  /** Signs a token: `iss`, `sub`, `aud`, `iat`, `exp`, `jti`, header `typ: sealbus+jwt`, `cnf` when bound. */
  async issueToken(opts: IssueTokenOptions): Promise<string> {
    return (await this.issueTokenWithClaims(opts)).token;
  }

  /** Like `issueToken`, and says what it signed (for audit and the token API). */
  async issueTokenWithClaims(opts: IssueTokenOptions): Promise<IssuedTokenClaims> {
    checkIssueOptions(opts);
    // Key and kid taken together: a rotation during signing must not pair one key with the other's kid.
    const kid = this.keyring.activeKid;
    const key = this.keyring.signingKey();
    const now = Math.floor(this.#now() / 1000);
    const jti = opts.jti ?? randomUUID();
    const claims: Record<string, unknown> = {};
    if (opts.bindThumbprint !== undefined) claims.cnf = { 'x5t#S256': opts.bindThumbprint };
    if (opts.groups !== undefined) claims.groups = [...opts.groups];
    if (opts.scopes !== undefined) claims.scope = opts.scopes.join(' ');
    if (opts.actor !== undefined) claims.act = { sub: opts.actor };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: SEALBUS_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setSubject(opts.sub)
      .setAudience(typeof opts.audience === 'string' ? opts.audience : [...opts.audience])
      .setIssuedAt(now)
      .setExpirationTime(now + opts.ttlSeconds)
      .setJti(jti)
      .sign(key);
    return { token, jti, issuedAt: now * 1000, expiresAt: (now + opts.ttlSeconds) * 1000, kid };
  }

  /** The public keys not yet retired, for `/.well-known/jwks.json` (same object until they change). */
  jwks(): JwkSet {
    return this.keyring.jwks();
  }

  /** Makes a new key active; the previous one is accepted for `overlapMs` more, then retired. */
  rotate(overlapMs: number): Promise<KeyRotation> {
    return this.keyring.rotate({ overlapMs });
  }

  /** Picks up a rotation done by another process; true when the keyring changed. */
  reload(): Promise<boolean> {
    return this.keyring.reload();
  }

  /**
   * How a TokenVerifier trusts this issuer: its own keys, `typ: sealbus+jwt`, bound tokens by
   * default, and tokens of retired keys refused by name.
   */
  trust(opts: { requireBinding?: boolean } = {}): IssuerTrust {
    return {
      issuer: this.issuer,
      jwks: () => this.jwks(),
      requireBinding: opts.requireBinding ?? true,
      typ: SEALBUS_TOKEN_TYPE,
      isKeyRetired: (kid) => this.keyring.status(kid) === 'retired',
    };
  }
}
