import { SealbusError } from '../errors/index.js';
import { displayValue, isPrintableName } from './text.js';

/**
 * Token revocations held in memory: the deny list the token verifier consults on every use of a
 * token, cached or not. Pure: persistence (and how every broker of a cluster learns an entry) lives
 * in `src/broker/revocation-log.ts`. All times are milliseconds since the epoch.
 */
export type RevocationEntry =
  | {
      readonly kind: 'token';
      readonly issuer: string;
      readonly jti: string;
      readonly revokedAt: number;
      /** When the entry may be pruned: no token it revokes can still be valid by then. */
      readonly until: number;
      readonly reason: string | null;
      /** The principal who revoked, for the audit trail. */
      readonly by: string | null;
    }
  | {
      readonly kind: 'subject';
      readonly principal: string;
      /** Every token of `principal` issued before this time is revoked. */
      readonly before: number;
      readonly revokedAt: number;
      readonly until: number;
      readonly reason: string | null;
      readonly by: string | null;
    };

/** What `isRevoked` needs of a verified token. */
export interface RevocableToken {
  readonly issuer: string;
  readonly jti: string | null;
  readonly principal: string;
  /** The JWT `iat` in milliseconds (whole seconds × 1000). */
  readonly issuedAt: number;
}

export interface RevocationListOptions {
  /** Bound on entries held, so that revocations cannot grow memory without limit. */
  readonly maxEntries: number;
}

/** The broker's token time rules that decide how long a revocation must be kept. */
export interface RevocationTimeRules {
  /** Tokens whose `iat` is older than this are refused (the verifier's maxTokenAge). */
  readonly maxTokenAgeMs: number;
  /** The verifier's clock tolerance for `exp`, `nbf` and `iat`. */
  readonly clockToleranceMs: number;
}

export const REVOCATION_LIMITS = Object.freeze({
  /** Longest issuer, jti, principal or `by`. */
  maxNameLength: 512,
  maxReasonLength: 256,
});

/** JWT times are whole seconds: a token stays acceptable until the end of the second it ages out in. */
const SECOND_MS = 1000;

const TOKEN_KEYS = ['kind', 'issuer', 'jti', 'revokedAt', 'until', 'reason', 'by'] as const;
const SUBJECT_KEYS = ['kind', 'principal', 'before', 'revokedAt', 'until', 'reason', 'by'] as const;

function invalid(field: string, reason: string): SealbusError {
  const text = `${field} ${reason}`;
  return new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason: text }, { details: { reason: text, field } });
}

function nameField(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string' || !isPrintableName(value, REVOCATION_LIMITS.maxNameLength)) {
    throw invalid(field, `must be a printable string of 1 to ${REVOCATION_LIMITS.maxNameLength} characters`);
  }
  return value;
}

function timeField(record: Record<string, unknown>, field: string): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(field, 'must be a time in whole milliseconds since the epoch');
  }
  return value;
}

function optionalText(record: Record<string, unknown>, field: string, maxLength: number): string | null {
  const value = record[field];
  if (value === null) return null;
  if (typeof value !== 'string' || !isPrintableName(value, maxLength)) {
    throw invalid(field, `must be null or a printable string of 1 to ${maxLength} characters`);
  }
  return value;
}

/**
 * Strict validation of an entry from an untrusted source (a record read back from storage, an API
 * body): a plain object with exactly the fields of its kind, printable bounded strings (no NUL, so
 * the `issuer + NUL + jti` key is unambiguous), whole-millisecond times and `until >= revokedAt`.
 * Returns a frozen copy. Throws SEALBUS_ERR_TOKEN_REQUEST_INVALID naming the field.
 */
export function validateRevocationEntry(value: unknown): RevocationEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('entry', 'must be an object');
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) throw invalid('entry', 'must be a plain object');
  const record = value as Record<string, unknown>;
  const kind = record['kind'];
  if (kind !== 'token' && kind !== 'subject') throw invalid('kind', 'must be "token" or "subject"');
  const allowed: readonly string[] = kind === 'token' ? TOKEN_KEYS : SUBJECT_KEYS;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) throw invalid(displayValue(key, 40), `is not a field of a ${kind} revocation`);
  }
  for (const key of allowed) {
    if (!Object.hasOwn(record, key)) throw invalid(key, 'is required');
  }
  const revokedAt = timeField(record, 'revokedAt');
  const until = timeField(record, 'until');
  if (until < revokedAt) throw invalid('until', 'must not be before revokedAt');
  const reason = optionalText(record, 'reason', REVOCATION_LIMITS.maxReasonLength);
  const by = optionalText(record, 'by', REVOCATION_LIMITS.maxNameLength);
  if (kind === 'token') {
    const issuer = nameField(record, 'issuer');
    const jti = nameField(record, 'jti');
    return Object.freeze({ kind, issuer, jti, revokedAt, until, reason, by });
  }
  const principal = nameField(record, 'principal');
  const before = timeField(record, 'before');
  return Object.freeze({ kind, principal, before, revokedAt, until, reason, by });
}

/**
 * When an entry may be pruned: past that time, no token it revokes can pass the verifier anyway,
 * because the verifier refuses any token whose `iat` is older than maxTokenAge (and requires `iat`).
 *
 * - jti entries: the token was usable at `revokedAt`, so its `iat` is at most `revokedAt` plus the
 *   clock tolerance (the verifier accepts an `iat` that far in the future); it then stays acceptable
 *   for maxTokenAge plus the tolerance again, plus the rest of the second (`iat` and the age check are
 *   in whole seconds): `revokedAt + maxTokenAge + 2 × tolerance + 1 s`.
 * - subject entries: every revoked token has `iat` before `before`: `before + maxTokenAge + tolerance
 *   + 1 s`, and never before `revokedAt`.
 *
 * Throws RangeError when maxTokenAge is not a positive finite number: without a maximum token age
 * (maxTokenAgeSec null) an entry could never be pruned, and the log's retention would drop it.
 */
export function revocationUntil(target: { readonly revokedAt: number; readonly before?: number | null | undefined }, rules: RevocationTimeRules): number {
  const { maxTokenAgeMs, clockToleranceMs } = rules;
  if (!Number.isFinite(maxTokenAgeMs) || maxTokenAgeMs <= 0) {
    throw new RangeError('maxTokenAgeMs must be positive and finite: revocations expire only because old tokens do');
  }
  if (!Number.isFinite(clockToleranceMs) || clockToleranceMs < 0) throw new RangeError('clockToleranceMs must be a finite number >= 0');
  const { revokedAt, before } = target;
  if (before === undefined || before === null) return revokedAt + maxTokenAgeMs + 2 * clockToleranceMs + SECOND_MS;
  return Math.max(revokedAt, before + maxTokenAgeMs + clockToleranceMs + SECOND_MS);
}

type SubjectEntry = Extract<RevocationEntry, { kind: 'subject' }>;
type TokenEntry = Extract<RevocationEntry, { kind: 'token' }>;

/** What adding an entry would do. */
type AddEffect =
  /** A new key: takes a slot. */
  | { readonly kind: 'new' }
  /** A later `before` for a known principal: revokes more, takes no slot. */
  | { readonly kind: 'supersedes'; readonly stored: SubjectEntry }
  /** Nothing more revoked, but the entry must be kept longer. */
  | { readonly kind: 'extends'; readonly stored: RevocationEntry }
  | { readonly kind: 'known' };

function tokenKey(issuer: string, jti: string): string {
  return `${issuer}\u0000${jti}`;
}

/**
 * The in-memory revocation list. `isRevoked` is O(1): one Map lookup for the token's jti, one for
 * its principal's latest subject revocation.
 *
 * Subject revocations compare `issuedAt < before` where `issuedAt` is the JWT `iat` in whole
 * seconds: a token issued in the same second as `before`, but after it, counts as issued before it
 * and is revoked too. That errs on the safe side; the principal gets a token issued a second later.
 */
export class RevocationList {
  readonly #maxEntries: number;
  readonly #tokens = new Map<string, TokenEntry>();
  /** principal → the entry with the latest `before` (it revokes everything the earlier ones did). */
  readonly #subjects = new Map<string, SubjectEntry>();

  constructor(options: RevocationListOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = options.maxEntries;
  }

  get size(): number {
    return this.#tokens.size + this.#subjects.size;
  }

  get maxEntries(): number {
    return this.#maxEntries;
  }

  /**
   * Adds an entry (validated first). Returns true when it revokes something the list did not
   * already revoke (a new jti, or a later `before` for a principal); false when it is already
   * present or superseded, in which case only a later `until` is kept. Throws
   * SEALBUS_ERR_TOKEN_REVOCATIONS_FULL when a new key would exceed maxEntries.
   */
  add(entry: RevocationEntry): boolean {
    const valid = validateRevocationEntry(entry);
    const effect = this.#effectOf(valid);
    switch (effect.kind) {
      case 'new':
        this.#store(valid);
        return true;
      case 'supersedes':
        this.#store(valid.until >= effect.stored.until ? valid : Object.freeze({ ...(valid as SubjectEntry), until: effect.stored.until }));
        return true;
      case 'extends':
        this.#store(Object.freeze({ ...effect.stored, until: valid.until }));
        return false;
      case 'known':
        return false;
    }
  }

  /**
   * What `add` would return, without changing anything; throws SEALBUS_ERR_TOKEN_REVOCATIONS_FULL
   * as `add` would. Lets a caller refuse a revocation before writing it anywhere.
   */
  wouldAdd(entry: RevocationEntry): boolean {
    const effect = this.#effectOf(validateRevocationEntry(entry));
    return effect.kind === 'new' || effect.kind === 'supersedes';
  }

  isRevoked(token: RevocableToken): boolean {
    if (token.jti !== null && this.#tokens.has(tokenKey(token.issuer, token.jti))) return true;
    const subject = this.#subjects.get(token.principal);
    // Written as "not at or after" so that a NaN issuedAt counts as revoked: fail closed.
    return subject !== undefined && !(token.issuedAt >= subject.before);
  }

  /** Drops the entries whose `until` has passed; returns how many. */
  prune(now: number): number {
    let removed = 0;
    for (const [key, entry] of this.#tokens) {
      if (entry.until <= now) {
        this.#tokens.delete(key);
        removed += 1;
      }
    }
    for (const [principal, entry] of this.#subjects) {
      if (entry.until <= now) {
        this.#subjects.delete(principal);
        removed += 1;
      }
    }
    return removed;
  }

  /** Every entry held, oldest revocation first. */
  entries(): RevocationEntry[] {
    const all: RevocationEntry[] = [...this.#tokens.values(), ...this.#subjects.values()];
    return all.sort((a, b) => a.revokedAt - b.revokedAt);
  }

  #effectOf(entry: RevocationEntry): AddEffect {
    const stored = entry.kind === 'token' ? this.#tokens.get(tokenKey(entry.issuer, entry.jti)) : this.#subjects.get(entry.principal);
    if (stored === undefined) {
      if (this.size >= this.#maxEntries) throw new SealbusError('SEALBUS_ERR_TOKEN_REVOCATIONS_FULL', { limit: this.#maxEntries });
      return { kind: 'new' };
    }
    if (entry.kind === 'subject' && stored.kind === 'subject' && entry.before > stored.before) return { kind: 'supersedes', stored };
    if (entry.until > stored.until) return { kind: 'extends', stored };
    return { kind: 'known' };
  }

  #store(entry: RevocationEntry): void {
    if (entry.kind === 'token') this.#tokens.set(tokenKey(entry.issuer, entry.jti), entry);
    else this.#subjects.set(entry.principal, entry);
  }
}
