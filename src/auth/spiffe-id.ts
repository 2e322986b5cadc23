/**
 * SPIFFE ID rules (spiffe.io, "SPIFFE-ID" standard): `spiffe://<trust domain><path>`, the trust
 * domain in lowercase letters, digits, `.`, `-`, `_`; path segments of letters, digits, `.`, `-`,
 * `_`, never empty, `.` or `..`; no port, user info, query or fragment. A workload ID has a path.
 */
export interface SpiffeId {
  readonly id: string;
  readonly trustDomain: string;
  readonly path: string;
}

const MAX_LENGTH = 2048;

/** Returns the parsed ID, or the reason it is not a valid workload SPIFFE ID. */
export function parseSpiffeId(value: string): SpiffeId | { readonly invalid: string } {
  if (value.length > MAX_LENGTH) return { invalid: `longer than ${MAX_LENGTH} characters` };
  if (!value.startsWith('spiffe://')) return { invalid: 'the scheme must be "spiffe://" in lowercase' };
  const rest = value.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain === '') return { invalid: 'the trust domain is empty' };
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) {
    return { invalid: 'the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (no port, no user info)' };
  }
  if (path === '') return { invalid: 'a workload SPIFFE ID needs a path after the trust domain' };
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return { invalid: 'the path has an empty segment' };
    if (segment === '.' || segment === '..') return { invalid: 'the path has a "." or ".." segment' };
    if (!/^[A-Za-z0-9._-]+$/.test(segment)) {
      return { invalid: 'path segments may hold only letters, digits, ".", "-" and "_" (no query, no fragment)' };
    }
  }
  return { id: value, trustDomain, path };
}

export function isSpiffeId(parsed: SpiffeId | { readonly invalid: string }): parsed is SpiffeId {
  return !('invalid' in parsed);
}
