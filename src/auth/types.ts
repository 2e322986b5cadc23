import type { FetchImplementation, JWK } from 'jose';

/** A certificate and its private key, both PEM. */
export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * Who the client certificate says the client is. Times are milliseconds since the epoch.
 * `fingerprint256` is base64url SHA-256 of the DER certificate, i.e. the RFC 8705 `x5t#S256`
 * (not Node's colon-separated hex).
 */
export interface CertificateIdentity {
  readonly principal: string;
  readonly spiffeId: string | null;
  readonly subject: string;
  /** Issuer DN: serial numbers are unique only per issuer, so revocation is keyed on both. */
  readonly issuer: string;
  /** Lowercase hex without leading zeros. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly notAfter: number;
}

/** What a verified bearer token says. Times are milliseconds since the epoch. */
export interface TokenIdentity {
  /** The principal this token names: the issuer's `subjectPrefix` followed by `sub`. */
  readonly principal: string;
  readonly issuer: string;
  readonly subject: string;
  readonly jti: string | null;
  readonly expiresAt: number;
  /** Required (RFC 9068): revocation by subject and the pruning of revocations depend on it. */
  readonly issuedAt: number;
  /** The `kid` header: which of the issuer's keys signed the token. */
  readonly keyId: string | null;
  readonly groups: readonly string[];
  /**
   * null: the token has no `scope`/`scp` claim and does not narrow the principal's rights.
   * An empty list narrows them to nothing.
   */
  readonly scopes: readonly string[] | null;
  /** True when the token carried `cnf.x5t#S256` (and it matched the connection's certificate). */
  readonly bound: boolean;
}

/** The authenticated client: both identities stay available to policies and audit. */
export interface Principal {
  readonly name: string;
  readonly via: 'token' | 'certificate';
  readonly certificate: CertificateIdentity;
  readonly token: TokenIdentity | null;
}

export interface JwkSet {
  readonly keys: readonly JWK[];
}

/** Where the public keys of an issuer come from. Token headers (`jku`, `x5u`, `jwk`, `x5c`) never are. */
export type IssuerKeys =
  | JwkSet
  /** Called on each cache miss, so a rotated key set is seen without rebuilding the verifier. */
  | (() => JwkSet)
  | RemoteIssuerKeys;

export interface RemoteIssuerKeys {
  /** An https URL of the issuer's JWKS (its `jwks_uri`). */
  readonly url: string;
  /** How long fetched keys are used before refetching (default 10 minutes). */
  readonly cacheMaxAgeMs?: number | undefined;
  /** After a fetch, an unknown `kid` does not trigger another fetch before this delay (default 30 s). */
  readonly cooldownMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  /** Replaces global fetch (tests, proxies). */
  readonly fetch?: FetchImplementation | undefined;
}

/** One issuer whose tokens this broker accepts. */
export interface IssuerTrust {
  /** Exact `iss` value. */
  readonly issuer: string;
  readonly jwks: IssuerKeys;
  /** Reject tokens without `cnf.x5t#S256` (SEALBUS_ERR_AUTH_TOKEN_UNBOUND). */
  readonly requireBinding: boolean;
  /**
   * Required `typ` header, compared as RFC 8725 says (case-insensitive, `application/` optional).
   * Default `sealbus+jwt`; `null` skips the check for issuers that do not set a distinct `typ`.
   */
  readonly typ?: string | null | undefined;
  /** Claim holding the list of groups (default `groups`). */
  readonly groupsClaim?: string | undefined;
  /**
   * Prepended to `sub` to name the principal, so that two issuers cannot mint the same principal
   * name (e.g. `okta:`). Default: none.
   */
  readonly subjectPrefix?: string | undefined;
  /**
   * True for a `kid` this issuer retired in a key rotation: its tokens are refused with
   * SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED before any signature work, and again on every cached use.
   */
  readonly isKeyRetired?: ((kid: string) => boolean) | undefined;
}
