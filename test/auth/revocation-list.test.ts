import { describe, expect, it } from 'vitest';
import {
  RevocationList,
  revocationUntil,
  validateRevocationEntry,
  type RevocableToken,
  type RevocationEntry,
} from '../../src/auth/revocation-list.js';
import { isSealbusError, type SealbusError } from '../../src/errors/index.js';

const NOW = 1_700_000_000_000;
const DAY = 86_400_000;
const ISSUER = 'https://issuer.example';

function tokenEntry(jti: string, overrides: Partial<Extract<RevocationEntry, { kind: 'token' }>> = {}): RevocationEntry {
  return { kind: 'token', issuer: ISSUER, jti, revokedAt: NOW, until: NOW + DAY, reason: null, by: 'admin', ...overrides };
}

function subjectEntry(principal: string, before: number, overrides: Partial<Extract<RevocationEntry, { kind: 'subject' }>> = {}): RevocationEntry {
  return { kind: 'subject', principal, before, revokedAt: NOW, until: before + DAY, reason: 'compromised laptop', by: 'admin', ...overrides };
}

/** A token as the verifier sees it: `iat` in whole seconds, turned into milliseconds. */
function token(overrides: Partial<RevocableToken> & { iatSec?: number } = {}): RevocableToken {
  const { iatSec, ...rest } = overrides;
  return { issuer: ISSUER, jti: 'jti-1', principal: 'alice', issuedAt: (iatSec ?? Math.floor(NOW / 1000) - 60) * 1000, ...rest };
}

function thrown(action: () => unknown): SealbusError {
  try {
    action();
  } catch (err) {
    if (isSealbusError(err)) return err;
    throw err;
  }
  throw new Error('expected a SealbusError, nothing was thrown');
}

describe('revocation by jti', () => {
  it('revokes exactly the token of that issuer and jti', () => {
    const list = new RevocationList({ maxEntries: 10 });
    expect(list.isRevoked(token())).toBe(false);
    expect(list.add(tokenEntry('jti-1'))).toBe(true);
    expect(list.isRevoked(token())).toBe(true);
    expect(list.isRevoked(token({ jti: 'jti-2' }))).toBe(false);
    // Same jti from another issuer is another token.
    expect(list.isRevoked(token({ issuer: 'https://other.example' }))).toBe(false);
  });

  it('cannot be confused by a jti and issuer that concatenate to the same text', () => {
    const list = new RevocationList({ maxEntries: 10 });
    list.add(tokenEntry('b', { issuer: 'a' }));
    expect(list.isRevoked(token({ issuer: 'a', jti: 'b' }))).toBe(true);
    expect(list.isRevoked(token({ issuer: 'ab', jti: '' }))).toBe(false);
    expect(list.isRevoked(token({ issuer: '', jti: 'ab' }))).toBe(false);
  });

  it('returns false for an entry already present, and keeps the later until', () => {
    const list = new RevocationList({ maxEntries: 10 });
    expect(list.add(tokenEntry('jti-1'))).toBe(true);
    expect(list.add(tokenEntry('jti-1'))).toBe(false);
    expect(list.add(tokenEntry('jti-1', { until: NOW + 2 * DAY }))).toBe(false);
    expect(list.size).toBe(1);
    expect(list.entries()[0]!.until).toBe(NOW + 2 * DAY);
    expect(list.add(tokenEntry('jti-1', { until: NOW + DAY / 2 }))).toBe(false);
    expect(list.entries()[0]!.until).toBe(NOW + 2 * DAY);
  });

  it('treats a token without jti as not revoked by any jti entry', () => {
    const list = new RevocationList({ maxEntries: 10 });
    list.add(tokenEntry('jti-1'));
    expect(list.isRevoked(token({ jti: null }))).toBe(false);
  });
});

describe('revocation of a subject before a time', () => {
  const beforeSec = Math.floor(NOW / 1000);

  it('revokes the tokens of that principal issued before, not after, and not other principals', () => {
    const list = new RevocationList({ maxEntries: 10 });
    list.add(subjectEntry('alice', beforeSec * 1000));
    expect(list.isRevoked(token({ iatSec: beforeSec - 1 }))).toBe(true);
    expect(list.isRevoked(token({ iatSec: beforeSec - 3600, jti: null }))).toBe(true);
    expect(list.isRevoked(token({ iatSec: beforeSec }))).toBe(false);
    expect(list.isRevoked(token({ iatSec: beforeSec + 1 }))).toBe(false);
    expect(list.isRevoked(token({ iatSec: beforeSec - 1, principal: 'bob' }))).toBe(false);
  });

  it('counts a token issued in the same second as before, but after it, as revoked (safe side)', () => {
    const list = new RevocationList({ maxEntries: 10 });
    // Revoked at 12:00:00.500; a token issued at 12:00:00.800 carries iat 12:00:00.
    list.add(subjectEntry('alice', beforeSec * 1000 + 500));
    expect(list.isRevoked(token({ iatSec: beforeSec }))).toBe(true);
    expect(list.isRevoked(token({ iatSec: beforeSec + 1 }))).toBe(false);
  });

  it('fails closed when the issue time is unknown (NaN)', () => {
    const list = new RevocationList({ maxEntries: 10 });
    list.add(subjectEntry('alice', NOW));
    expect(list.isRevoked(token({ issuedAt: Number.NaN, jti: null }))).toBe(true);
  });

  it('lets a later before supersede an earlier one, in either order, keeping the later until', () => {
    const list = new RevocationList({ maxEntries: 1 });
    expect(list.add(subjectEntry('alice', NOW - 10_000, { until: NOW + 3 * DAY }))).toBe(true);
    // A later before revokes more: newly added, and it takes no second slot.
    expect(list.add(subjectEntry('alice', NOW, { until: NOW + DAY }))).toBe(true);
    expect(list.size).toBe(1);
    expect(list.isRevoked(token({ iatSec: Math.floor(NOW / 1000) - 5 }))).toBe(true);
    const [stored] = list.entries();
    expect(stored).toMatchObject({ kind: 'subject', before: NOW, until: NOW + 3 * DAY });
    // An earlier before is superseded: nothing new.
    expect(list.add(subjectEntry('alice', NOW - 20_000))).toBe(false);
    expect(list.entries()[0]).toMatchObject({ before: NOW, until: NOW + 3 * DAY });
  });
});

describe('prune', () => {
  it('removes only the entries whose until has passed', () => {
    const list = new RevocationList({ maxEntries: 10 });
    list.add(tokenEntry('old', { until: NOW + 1000 }));
    list.add(tokenEntry('new', { until: NOW + 5000 }));
    list.add(subjectEntry('alice', NOW, { until: NOW + 1000 }));
    list.add(subjectEntry('bob', NOW, { until: NOW + 5000 }));
    expect(list.prune(NOW + 999)).toBe(0);
    expect(list.prune(NOW + 1000)).toBe(2);
    expect(list.size).toBe(2);
    expect(list.isRevoked(token({ jti: 'old', principal: 'carol' }))).toBe(false);
    expect(list.isRevoked(token({ jti: 'new', principal: 'carol' }))).toBe(true);
    expect(list.isRevoked(token({ jti: null, principal: 'alice' }))).toBe(false);
    expect(list.isRevoked(token({ jti: null, principal: 'bob' }))).toBe(true);
    expect(list.prune(NOW + 5000)).toBe(2);
    expect(list.size).toBe(0);
  });
});

describe('maxEntries', () => {
  it('refuses a new key once full with SEALBUS_ERR_TOKEN_REVOCATIONS_FULL, and accepts again after a prune', () => {
    const list = new RevocationList({ maxEntries: 2 });
    list.add(tokenEntry('a', { until: NOW + 1000 }));
    list.add(subjectEntry('alice', NOW));
    const err = thrown(() => list.add(tokenEntry('c')));
    expect(err.code).toBe('SEALBUS_ERR_TOKEN_REVOCATIONS_FULL');
    expect(err.message).toContain('maximum of 2 entries');
    expect(list.isRevoked(token({ jti: 'c', principal: 'bob' }))).toBe(false);
    expect(thrown(() => list.wouldAdd(subjectEntry('bob', NOW))).code).toBe('SEALBUS_ERR_TOKEN_REVOCATIONS_FULL');
    // Keys already held still update while full.
    expect(list.add(tokenEntry('a', { until: NOW + 2000 }))).toBe(false);
    expect(list.add(subjectEntry('alice', NOW + 1000))).toBe(true);
    expect(list.size).toBe(2);
    list.prune(NOW + 2000);
    expect(list.add(tokenEntry('c'))).toBe(true);
  });

  it('wouldAdd answers like add without changing the list', () => {
    const list = new RevocationList({ maxEntries: 5 });
    expect(list.wouldAdd(tokenEntry('a'))).toBe(true);
    expect(list.size).toBe(0);
    list.add(tokenEntry('a'));
    expect(list.wouldAdd(tokenEntry('a'))).toBe(false);
  });
});

describe('validateRevocationEntry', () => {
  const fieldOf = (value: unknown): unknown => {
    const err = thrown(() => validateRevocationEntry(value));
    expect(err.code).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
    return err.details?.['field'];
  };

  it('accepts well-formed entries and returns frozen copies', () => {
    const entry = validateRevocationEntry({ ...tokenEntry('jti-1') });
    expect(entry).toEqual(tokenEntry('jti-1'));
    expect(Object.isFrozen(entry)).toBe(true);
    expect(validateRevocationEntry(JSON.parse(JSON.stringify(subjectEntry('alice', NOW))))).toEqual(subjectEntry('alice', NOW));
  });

  it('names the field that is wrong', () => {
    expect(fieldOf(null)).toBe('entry');
    expect(fieldOf([])).toBe('entry');
    expect(fieldOf({ ...tokenEntry('x'), kind: 'user' })).toBe('kind');
    expect(fieldOf({ ...tokenEntry('x'), jti: '' })).toBe('jti');
    expect(fieldOf({ ...tokenEntry('x'), jti: 'a\u0000b' })).toBe('jti');
    expect(fieldOf({ ...tokenEntry('x'), jti: 'j'.repeat(513) })).toBe('jti');
    expect(fieldOf({ ...tokenEntry('x'), issuer: 42 })).toBe('issuer');
    expect(fieldOf({ ...tokenEntry('x'), issuer: 'line\nforged' })).toBe('issuer');
    expect(fieldOf({ ...subjectEntry('alice', NOW), principal: ' alice' })).toBe('principal');
    expect(fieldOf({ ...subjectEntry('alice', NOW), before: Number.POSITIVE_INFINITY })).toBe('before');
    expect(fieldOf({ ...tokenEntry('x'), revokedAt: Number.NaN })).toBe('revokedAt');
    expect(fieldOf({ ...tokenEntry('x'), revokedAt: '2024-01-01' })).toBe('revokedAt');
    expect(fieldOf({ ...tokenEntry('x'), until: NOW - 1 })).toBe('until');
    expect(fieldOf({ ...tokenEntry('x'), reason: 'r'.repeat(257) })).toBe('reason');
    expect(fieldOf({ ...tokenEntry('x'), reason: '' })).toBe('reason');
    expect(fieldOf({ ...tokenEntry('x'), by: 'admin\u202e' })).toBe('by');
  });

  it('rejects missing and unknown fields, including fields of the other kind', () => {
    const { by: _by, ...withoutBy } = tokenEntry('x');
    expect(fieldOf(withoutBy)).toBe('by');
    expect(fieldOf({ ...tokenEntry('x'), before: NOW })).toBe('"before"');
    expect(fieldOf({ ...tokenEntry('x'), admin: true })).toBe('"admin"');
    expect(fieldOf(JSON.parse(`{"kind":"token","__proto__":{"x":1}}`))).toBe('"__proto__"');
  });

  it('says which field in the message', () => {
    const err = thrown(() => validateRevocationEntry({ ...tokenEntry('x'), jti: '' }));
    expect(err.message).toBe('The token request is invalid: jti must be a printable string of 1 to 512 characters');
  });

  it('is applied by add: a malformed entry never enters the list', () => {
    const list = new RevocationList({ maxEntries: 5 });
    expect(thrown(() => list.add({ ...tokenEntry('x'), until: Number.NaN })).code).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
    expect(list.size).toBe(0);
  });
});

describe('revocationUntil', () => {
  const rules = { maxTokenAgeMs: DAY, clockToleranceMs: 30_000 };

  it('keeps a jti entry while a token usable at revocation could still pass the age check', () => {
    // iat up to the tolerance in the future was accepted; it then lives maxAge + tolerance, to the end of its second.
    expect(revocationUntil({ revokedAt: NOW }, rules)).toBe(NOW + DAY + 60_000 + 1000);
  });

  it('keeps a subject entry from its before time, never ending before revokedAt', () => {
    expect(revocationUntil({ revokedAt: NOW, before: NOW - 5000 }, rules)).toBe(NOW - 5000 + DAY + 30_000 + 1000);
    expect(revocationUntil({ revokedAt: NOW, before: NOW - 3 * DAY }, rules)).toBe(NOW);
  });

  it('refuses rules under which tokens never age out', () => {
    expect(() => revocationUntil({ revokedAt: NOW }, { maxTokenAgeMs: Number.POSITIVE_INFINITY, clockToleranceMs: 0 })).toThrow(RangeError);
    expect(() => revocationUntil({ revokedAt: NOW }, { maxTokenAgeMs: 0, clockToleranceMs: 0 })).toThrow(RangeError);
  });
});
