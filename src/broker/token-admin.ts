import { decodeJwt, decodeProtectedHeader } from 'jose';
import { certificateThumbprint, type CertificateIdentity, type LocalIssuer, type TokenIdentity } from '../auth/index.js';
import { revocationUntil, type RevocationEntry } from '../auth/revocation-list.js';
import { isPrintableName } from '../auth/text.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { parseScope, unrestrictedScopes, type ParsedScope } from '../policy/index.js';
import type { Actor } from './access.js';
import { auditText } from './audit-event-data.js';
import { silentAuditTrail, type AuditTrail } from './audit-trail.js';

const CLUSTER = { kind: 'cluster' } as const;

/** The requester's own token in a token event, whose `tokenId` is the token concerned. */
function tokenOf(actor: Actor): { actorTokenId?: string } {
  const jti = actor.token?.jti;
  return typeof jti === 'string' ? { actorTokenId: auditText(jti) } : {};
}

/** Who asks for a token: an actor whose own credentials have an end. */
export interface Requester extends Actor {
  readonly token?: (NonNullable<Actor['token']> & { readonly expiresAt: number }) | null;
  readonly certificate?: (NonNullable<Actor['certificate']> & { readonly notAfter?: number }) | null;
}

export interface IssueTokenRequest {
  readonly sub: string;
  readonly ttlSec?: number;
  readonly groups?: readonly string[];
  /** Absent: the token does not narrow the subject's policy (only a requester holding every right may ask). */
  readonly scopes?: readonly string[];
  /** `x5t#S256` of the certificate the token is bound to, or the certificate itself (PEM). */
  readonly bindThumbprint?: string;
  readonly bindCertificate?: string;
}

export interface IssuedToken {
  /** The token itself: shown once to the caller, never logged. */
  readonly token: string;
  readonly jti: string;
  readonly sub: string;
  readonly kid: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly scopes: readonly string[] | null;
  readonly groups: readonly string[];
  readonly bound: boolean;
}

export type RevokeRequest =
  | { readonly jti: string; readonly issuer?: string; readonly reason?: string }
  | { readonly sub: string; readonly before?: number; readonly reason?: string };

export interface TokenSettings {
  readonly audience: string;
  readonly defaultTtlSec: number;
  readonly maxTtlSec: number;
  readonly maxTokenAgeSec: number;
  readonly clockToleranceSec: number;
  readonly requireBinding: boolean;
  readonly rotationOverlapSec: number;
}

export type Coverage = { readonly covered: true } | { readonly covered: false; readonly reason: string };

export interface TokenAdminDeps {
  readonly issuer: LocalIssuer;
  readonly revocations: {
    revoke(entry: RevocationEntry): Promise<{ added: boolean }>;
    entries(): readonly RevocationEntry[];
  };
  /** Throws SEALBUS_ERR_FORBIDDEN unless the actor may (the broker's authorize). */
  readonly authorize: (actor: Actor, action: 'issue-token' | 'manage-keys', resource: { kind: 'cluster' }) => void;
  /** Whether the actor holds every right of these scopes, unconditionally (policy AND its own scopes). */
  readonly coverage: (actor: Actor, scopes: readonly ParsedScope[]) => Coverage;
  /** The broker's token verifier, for inspect. */
  readonly verify: (token: string, certificate: CertificateIdentity) => Promise<TokenIdentity>;
  readonly settings: TokenSettings;
  readonly clock?: () => number;
  /** Called after a rotation, so the server re-arms its retirement timer. */
  readonly onKeysChanged?: () => void;
  /** Records every issue, revocation and rotation (never a token or a key); default: nowhere. */
  readonly audit?: AuditTrail;
}

/** What `inspect` says of a token: whether this broker would accept it now, and why not. */
export interface TokenInspection {
  readonly valid: boolean;
  readonly code: string | null;
  readonly message: string | null;
  readonly header: Record<string, unknown> | null;
  readonly claims: Record<string, unknown> | null;
  /** The signing key's state when the token names a key of this broker's issuer. */
  readonly key: { readonly kid: string; readonly status: 'active' | 'previous' | 'retired' | 'unknown' } | null;
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
const MAX_GROUPS = 64;
const MAX_SCOPES = 64;
const MAX_REASON = 256;
const MAX_CERTIFICATE_PEM = 16_384;
const MAX_TOKEN_LENGTH = 16_384;

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason }, { details: { reason } });
}

function denied(actor: Actor, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_TOKEN_ISSUE_DENIED', { principal: actor.name, reason }, { details: { reason } });
}

function thumbprintOfPem(pem: string): string {
  if (typeof pem !== 'string' || pem.length > MAX_CERTIFICATE_PEM) throw invalid(`bindCertificate must be a PEM certificate of at most ${MAX_CERTIFICATE_PEM} characters`);
  try {
    return certificateThumbprint(pem);
  } catch {
    throw invalid('bindCertificate is not a PEM certificate');
  }
}

function checkReason(reason: string | undefined): string | null {
  if (reason === undefined) return null;
  if (!isPrintableName(reason, MAX_REASON)) throw invalid(`reason must be printable text of at most ${MAX_REASON} characters`);
  return reason;
}

/**
 * Token administration: issuing through the API under a ceiling (nobody can issue a token with
 * more rights, or a longer life, than they hold), revocation through the durable revocation log,
 * signing-key rotation, and inspection. The transport only adapts requests onto it.
 */
export class TokenAdmin {
  readonly #deps: TokenAdminDeps;
  readonly #clock: () => number;
  readonly #audit: AuditTrail;

  constructor(deps: TokenAdminDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
    this.#audit = deps.audit ?? silentAuditTrail();
  }

  get settings(): TokenSettings {
    return this.#deps.settings;
  }

  async issue(actor: Requester, request: IssueTokenRequest): Promise<IssuedToken> {
    this.#deps.authorize(actor, 'issue-token', { kind: 'cluster' });
    const settings = this.#deps.settings;
    if (typeof request.sub !== 'string' || !isPrintableName(request.sub)) throw invalid('sub must be a printable name of at most 256 characters');
    const ttlSec = request.ttlSec ?? settings.defaultTtlSec;
    if (!Number.isInteger(ttlSec) || ttlSec < 1) throw invalid('ttlSec must be a positive whole number of seconds');
    if (ttlSec > settings.maxTtlSec) throw invalid(`ttlSec ${ttlSec} exceeds the maximum of ${settings.maxTtlSec} seconds (auth.tokens.maxTtlSec)`);
    if (ttlSec > settings.maxTokenAgeSec) {
      throw invalid(`ttlSec ${ttlSec} exceeds auth.maxTokenAgeSec (${settings.maxTokenAgeSec}): the broker would refuse the token before it expires`);
    }
    const groups = request.groups ?? [];
    if (groups.length > MAX_GROUPS) throw invalid(`at most ${MAX_GROUPS} groups`);
    for (const group of groups) if (typeof group !== 'string' || !isPrintableName(group)) throw invalid('groups must be printable names');
    const scopes = request.scopes === undefined ? null : [...request.scopes];
    if (scopes !== null && scopes.length > MAX_SCOPES) throw invalid(`at most ${MAX_SCOPES} scopes`);
    const parsed = scopes === null ? unrestrictedScopes() : scopes.map((scope) => parseScope(scope));

    if (request.bindThumbprint !== undefined && request.bindCertificate !== undefined) throw invalid('give bindThumbprint or bindCertificate, not both');
    let thumbprint: string | undefined;
    if (request.bindCertificate !== undefined) thumbprint = thumbprintOfPem(request.bindCertificate);
    else if (request.bindThumbprint !== undefined) {
      if (!THUMBPRINT.test(request.bindThumbprint)) throw invalid('bindThumbprint must be the base64url SHA-256 of a certificate (43 characters)');
      thumbprint = request.bindThumbprint;
    }
    if (thumbprint === undefined && settings.requireBinding) {
      throw invalid('tokens of this broker must be bound to a client certificate (auth.localIssuer.requireBinding): give bindCertificate or bindThumbprint');
    }

    // Time is a right too: a token never outlives the credentials of whoever issued it.
    const now = this.#clock();
    const expiresAt = (Math.floor(now / 1000) + ttlSec) * 1000;
    const ownEnd = Math.min(actor.token?.expiresAt ?? Number.POSITIVE_INFINITY, actor.certificate?.notAfter ?? Number.POSITIVE_INFINITY);
    if (expiresAt > ownEnd) {
      throw denied(actor, `the token would outlive your own credentials (they expire at ${new Date(ownEnd).toISOString()}); ask for a shorter ttl`);
    }
    const coverage = this.#deps.coverage(actor, parsed);
    if (!coverage.covered) {
      throw denied(actor, scopes === null ? `a token without scopes carries every right, and ${coverage.reason}` : coverage.reason);
    }

    this.#audit.assertAvailable();
    const issued = await this.#deps.issuer.issueTokenWithClaims({
      sub: request.sub,
      ttlSeconds: ttlSec,
      audience: settings.audience,
      ...(thumbprint !== undefined && { bindThumbprint: thumbprint }),
      ...(request.groups !== undefined && { groups }),
      ...(scopes !== null && { scopes }),
      actor: actor.name,
    });
    // The token is not handed out until its issue is on record (closed mode).
    await this.#audit.admin('sealbus.token.issue', actor, CLUSTER, {
      ...tokenOf(actor),
      action: 'issue-token',
      tokenId: issued.jti,
      tokenSubject: auditText(request.sub),
      keyId: issued.kid,
      expiresAt: new Date(issued.expiresAt).toISOString(),
      scopes: scopes === null ? null : [...scopes],
      bound: thumbprint !== undefined,
    });
    return {
      token: issued.token,
      jti: issued.jti,
      sub: request.sub,
      kid: issued.kid,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      scopes,
      groups,
      bound: thumbprint !== undefined,
    };
  }

  /** Records a revocation durably; it applies to new requests at once and ends live sessions using it. */
  async revoke(actor: Actor, request: RevokeRequest): Promise<{ entry: RevocationEntry; added: boolean }> {
    this.#deps.authorize(actor, 'issue-token', { kind: 'cluster' });
    const { maxTokenAgeSec, clockToleranceSec } = this.#deps.settings;
    const now = this.#clock();
    const reason = checkReason(request.reason);
    // No token older than maxTokenAge is accepted (iat is required): past that, the entry has no use.
    const rules = { maxTokenAgeMs: maxTokenAgeSec * 1000, clockToleranceMs: clockToleranceSec * 1000 };
    let entry: RevocationEntry;
    if ('jti' in request && request.jti !== undefined) {
      if ('sub' in request) throw invalid('give jti or sub, not both');
      if (typeof request.jti !== 'string' || !isPrintableName(request.jti, 512)) throw invalid('jti must be a printable string of at most 512 characters');
      const issuer = request.issuer ?? this.#deps.issuer.issuer;
      if (typeof issuer !== 'string' || !isPrintableName(issuer, 512)) throw invalid('issuer must be a printable string');
      entry = { kind: 'token', issuer, jti: request.jti, revokedAt: now, until: revocationUntil({ revokedAt: now }, rules), reason, by: actor.name };
    } else if ('sub' in request && request.sub !== undefined) {
      if (typeof request.sub !== 'string' || !isPrintableName(request.sub)) throw invalid('sub must be a printable name of at most 256 characters');
      const before = request.before ?? now;
      if (!Number.isSafeInteger(before) || before < 0) throw invalid('before must be a time in milliseconds since the epoch');
      if (before > now + clockToleranceSec * 1000) throw invalid('before must not be in the future');
      entry = { kind: 'subject', principal: request.sub, before, revokedAt: now, until: revocationUntil({ revokedAt: now, before }, rules), reason, by: actor.name };
    } else {
      throw invalid('give jti (one token) or sub (every token of a principal issued before a time)');
    }
    this.#audit.assertAvailable();
    const { added } = await this.#deps.revocations.revoke(entry);
    await this.#audit.admin('sealbus.token.revoke', actor, CLUSTER, {
      ...tokenOf(actor),
      action: 'issue-token',
      ...(entry.kind === 'token' ? { tokenId: auditText(entry.jti), tokenIssuer: auditText(entry.issuer) } : { tokenSubject: auditText(entry.principal), before: new Date(entry.before).toISOString() }),
      ...(entry.reason !== null && entry.reason !== '' && { reason: auditText(entry.reason) }),
      added,
    });
    return { entry, added };
  }

  listRevocations(actor: Actor): readonly RevocationEntry[] {
    this.#deps.authorize(actor, 'issue-token', { kind: 'cluster' });
    return this.#deps.revocations.entries();
  }

  async rotateKeys(actor: Actor, overlapSec?: number): Promise<{ kid: string; retiring: string; retireAt: number }> {
    this.#deps.authorize(actor, 'manage-keys', { kind: 'cluster' });
    const overlap = overlapSec ?? this.#deps.settings.rotationOverlapSec;
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > 31_622_400) throw invalid('overlapSec must be a whole number of seconds from 0 to 31622400');
    this.#audit.assertAvailable();
    const rotated = await this.#deps.issuer.rotate(overlap * 1000);
    this.#deps.onKeysChanged?.();
    await this.#audit.admin('sealbus.keys.rotate', actor, CLUSTER, {
      ...tokenOf(actor),
      action: 'manage-keys',
      keyId: rotated.kid,
      retiringKeyId: rotated.retiring,
      retireAt: new Date(rotated.retireAt).toISOString(),
    });
    return rotated;
  }

  listKeys(actor: Actor): { issuer: string; keys: ReturnType<LocalIssuer['keyring']['list']> } {
    this.#deps.authorize(actor, 'manage-keys', { kind: 'cluster' });
    return { issuer: this.#deps.issuer.issuer, keys: this.#deps.issuer.keyring.list() };
  }

  /**
   * Judges a token as this broker would on a connection with the certificate `thumbprint` (or, when
   * none is given, the one the token is bound to). Anyone authenticated may ask: the caller holds
   * the token, so the answer tells nothing its use would not.
   */
  async inspect(token: string, thumbprint?: string): Promise<TokenInspection> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid(`token must be 1 to ${MAX_TOKEN_LENGTH} characters`);
    if (thumbprint !== undefined && !THUMBPRINT.test(thumbprint)) throw invalid('thumbprint must be a base64url SHA-256 (43 characters)');
    let header: Record<string, unknown> | null = null;
    let claims: Record<string, unknown> | null = null;
    try {
      header = { ...decodeProtectedHeader(token) };
      claims = { ...decodeJwt(token) };
    } catch {
      // The verifier says why below.
    }
    const cnf = claims?.cnf as Record<string, unknown> | undefined;
    const bound = typeof cnf?.['x5t#S256'] === 'string' ? (cnf['x5t#S256'] as string) : undefined;
    const certificate: CertificateIdentity = {
      principal: '(inspect)',
      spiffeId: null,
      subject: '',
      issuer: '',
      serialNumber: '0',
      fingerprint256: thumbprint ?? bound ?? '(none)',
      notAfter: Number.POSITIVE_INFINITY,
    };
    const kid = typeof header?.kid === 'string' ? header.kid : null;
    const key = kid !== null && claims?.iss === this.#deps.issuer.issuer ? { kid, status: this.#deps.issuer.keyring.status(kid) } : null;
    try {
      await this.#deps.verify(token, certificate);
      return { valid: true, code: null, message: null, header, claims, key };
    } catch (err) {
      if (!isSealbusError(err)) throw err;
      return { valid: false, code: err.code, message: err.message, header, claims, key };
    }
  }
}
