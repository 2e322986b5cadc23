import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, type JWK, SignJWT, calculateJwkThumbprint, importPKCS8 } from 'jose';
import { SealbusError } from '../errors/index.js';
import { PRIVATE_MODE, assertPrivateFile, fileExists, writeNewFile } from './private-files.js';
import { isPrintableName } from './text.js';
import { SEALBUS_TOKEN_TYPE } from './token-verifier.js';
import type { IssuerTrust, JwkSet } from './types.js';

/** File of the issuer's Ed25519 private key (PKCS#8 PEM, mode 0600) inside the key folder. */
export const ISSUER_KEY_FILE = 'issuer-ed25519.key';

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
}

async function readOrCreateKeyPem(file: string): Promise<string> {
  if (!(await fileExists(file))) {
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      await writeNewFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), PRIVATE_MODE);
    } catch (err) {
      // Another process created it first: use theirs, never replace it.
      if (!(err instanceof SealbusError && err.code === 'SEALBUS_ERR_AUTH_FILE_EXISTS')) throw err;
    }
  }
  await assertPrivateFile(file);
  return readFile(file, 'utf8');
}

/**
 * The broker's own token issuer: one Ed25519 key kept under a data folder, tokens with
 * `typ: sealbus+jwt`, and the public JWKS to serve at `/.well-known/jwks.json`.
 */
export class LocalIssuer {
  readonly issuer: string;
  /** RFC 7638 thumbprint of the public key: stable across restarts, no extra file to keep. */
  readonly kid: string;
  readonly keyFile: string;
  readonly #key: CryptoKey;
  readonly #jwks: JwkSet;
  readonly #now: () => number;

  private constructor(issuer: string, kid: string, keyFile: string, key: CryptoKey, publicJwk: JWK, now: () => number) {
    this.issuer = issuer;
    this.kid = kid;
    this.keyFile = keyFile;
    this.#key = key;
    this.#now = now;
    // One frozen object: callers cannot alter the served keys, and verifiers can reuse imported keys.
    this.#jwks = Object.freeze({ keys: Object.freeze([Object.freeze(publicJwk)]) });
  }

  /** Loads the key from `dir`, creating it (mode 0600) on first use. Never overwrites a key. */
  static async loadOrCreate(dir: string, opts: { issuer: string; now?: (() => number) | undefined }): Promise<LocalIssuer> {
    if (typeof opts.issuer !== 'string' || !isPrintableName(opts.issuer, 512)) {
      throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'local issuer', key: 'issuer', reason: 'must be a printable string' });
    }
    const keyFile = join(dir, ISSUER_KEY_FILE);
    const pem = await readOrCreateKeyPem(keyFile);
    let privateKey;
    try {
      privateKey = createPrivateKey(pem);
    } catch {
      throw new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file: keyFile, reason: 'not a PEM private key' });
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file: keyFile, reason: 'the issuer key must be Ed25519' });
    }
    const exported = createPublicKey(privateKey).export({ format: 'jwk' });
    const base: JWK = { kty: 'OKP', crv: 'Ed25519', x: String(exported.x) };
    const kid = await calculateJwkThumbprint(base);
    const key = await importPKCS8(pem, 'EdDSA');
    return new LocalIssuer(opts.issuer, kid, keyFile, key, { ...base, kid, alg: 'EdDSA', use: 'sig' }, opts.now ?? Date.now);
  }

  /** Signs a token: `iss`, `sub`, `aud`, `iat`, `exp`, `jti`, header `typ: sealbus+jwt`, `cnf` when bound. */
  async issueToken(opts: IssueTokenOptions): Promise<string> {
    checkIssueOptions(opts);
    const now = Math.floor(this.#now() / 1000);
    const claims: Record<string, unknown> = {};
    if (opts.bindThumbprint !== undefined) claims.cnf = { 'x5t#S256': opts.bindThumbprint };
    if (opts.groups !== undefined) claims.groups = [...opts.groups];
    if (opts.scopes !== undefined) claims.scope = opts.scopes.join(' ');
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: this.kid, typ: SEALBUS_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setSubject(opts.sub)
      .setAudience(typeof opts.audience === 'string' ? opts.audience : [...opts.audience])
      .setIssuedAt(now)
      .setExpirationTime(now + opts.ttlSeconds)
      .setJti(opts.jti ?? randomUUID())
      .sign(this.#key);
  }

  /** The public keys, for `/.well-known/jwks.json`. */
  jwks(): JwkSet {
    return this.#jwks;
  }

  /** How a TokenVerifier trusts this issuer: its own keys, `typ: sealbus+jwt`, bound tokens by default. */
  trust(opts: { requireBinding?: boolean } = {}): IssuerTrust {
    return { issuer: this.issuer, jwks: () => this.jwks(), requireBinding: opts.requireBinding ?? true, typ: SEALBUS_TOKEN_TYPE };
  }
}
