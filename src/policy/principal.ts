import { isSpiffeId, parseSpiffeId } from '../auth/spiffe-id.js';
import type { PolicySubject } from './types.js';

/**
 * One `principals` entry of a rule, compiled. Every comparison is exact: names, groups, subjects
 * and thumbprints by code units; SPIFFE IDs by prefix on a path-segment boundary.
 */
export type PrincipalMatcher =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'group'; readonly group: string }
  /** `base` has no trailing '/'; `strict` (written with a trailing '/') excludes `base` itself. */
  | { readonly kind: 'spiffe'; readonly text: string; readonly base: string; readonly strict: boolean }
  | { readonly kind: 'thumbprint'; readonly thumbprint: string }
  | { readonly kind: 'subject'; readonly subject: string }
  | { readonly kind: 'any' };

const TRUST_DOMAIN_ONLY = /^spiffe:\/\/[a-z0-9._-]+$/;

/** Parses a `spiffe:` entry; the reason when it is not a SPIFFE ID (prefix). */
export function spiffeMatcher(text: string): PrincipalMatcher | { readonly invalid: string } {
  const strict = text.endsWith('/');
  const base = strict ? text.slice(0, -1) : text;
  if (!TRUST_DOMAIN_ONLY.test(base)) {
    const parsed = parseSpiffeId(base);
    if (!isSpiffeId(parsed)) return { invalid: `"${text}" is not a SPIFFE ID: ${parsed.invalid}` };
  }
  return { kind: 'spiffe', text, base, strict };
}

/**
 * The subject's SPIFFE ID when it is well formed, else null: an ID with '..', '%' or an empty
 * segment would otherwise let `spiffe://td/ns/a/../admin` pass a prefix meant for `spiffe://td/ns/a/`.
 */
export function usableSpiffeId(subject: PolicySubject): string | null {
  const id = subject.spiffeId;
  if (id === null || typeof id !== 'string') return null;
  let usable = checkedSpiffeIds.get(id);
  if (usable === undefined) {
    usable = isSpiffeId(parseSpiffeId(id));
    if (checkedSpiffeIds.size >= MAX_CHECKED_SPIFFE_IDS) checkedSpiffeIds.clear();
    checkedSpiffeIds.set(id, usable);
  }
  return usable ? id : null;
}

// The same few clients ask again and again; parsing each ID once saves the regular expressions.
// A pure function's memo, bounded: forgetting costs only a parse.
const MAX_CHECKED_SPIFFE_IDS = 4096;
const checkedSpiffeIds = new Map<string, boolean>();

function spiffeMatches(matcher: { readonly base: string; readonly strict: boolean }, id: string): boolean {
  return (!matcher.strict && id === matcher.base) || (id.length > matcher.base.length && id.startsWith(matcher.base) && id[matcher.base.length] === '/');
}

/** A rule's principals, arranged so that the common cases are a set lookup. */
export class PrincipalSet {
  readonly matchers: readonly PrincipalMatcher[];
  readonly any: boolean;
  readonly #names: ReadonlySet<string>;
  readonly #groups: ReadonlySet<string>;
  readonly #thumbprints: ReadonlySet<string>;
  readonly #subjects: ReadonlySet<string>;
  readonly #spiffe: readonly { readonly base: string; readonly strict: boolean }[];

  constructor(matchers: readonly PrincipalMatcher[]) {
    this.matchers = matchers;
    const names = new Set<string>();
    const groups = new Set<string>();
    const thumbprints = new Set<string>();
    const subjects = new Set<string>();
    const spiffe: { base: string; strict: boolean }[] = [];
    let any = false;
    for (const matcher of matchers) {
      switch (matcher.kind) {
        case 'name':
          names.add(matcher.name);
          break;
        case 'group':
          groups.add(matcher.group);
          break;
        case 'thumbprint':
          thumbprints.add(matcher.thumbprint);
          break;
        case 'subject':
          subjects.add(matcher.subject);
          break;
        case 'spiffe':
          spiffe.push(matcher);
          break;
        case 'any':
          any = true;
          break;
      }
    }
    this.any = any;
    this.#names = names;
    this.#groups = groups;
    this.#thumbprints = thumbprints;
    this.#subjects = subjects;
    this.#spiffe = spiffe;
  }

  /** `spiffeId` is `usableSpiffeId(subject)`, computed once per request by the caller. */
  matches(subject: PolicySubject, spiffeId: string | null): boolean {
    if (this.any || this.#names.has(subject.name)) return true;
    if (this.#groups.size > 0) {
      for (const group of subject.groups) if (this.#groups.has(group)) return true;
    }
    const certificate = subject.certificate;
    if (certificate !== null && (this.#thumbprints.has(certificate.thumbprint) || this.#subjects.has(certificate.subject))) return true;
    if (spiffeId !== null) {
      for (const matcher of this.#spiffe) if (spiffeMatches(matcher, spiffeId)) return true;
    }
    return false;
  }
}

/** Whether `outer` matches every subject `inner` matches (conservative, for lint). */
export function principalCovers(outer: PrincipalMatcher, inner: PrincipalMatcher): boolean {
  if (outer.kind === 'any') return true;
  switch (inner.kind) {
    case 'name':
      return outer.kind === 'name' && outer.name === inner.name;
    case 'group':
      return outer.kind === 'group' && outer.group === inner.group;
    case 'thumbprint':
      return outer.kind === 'thumbprint' && outer.thumbprint === inner.thumbprint;
    case 'subject':
      return outer.kind === 'subject' && outer.subject === inner.subject;
    case 'spiffe':
      if (outer.kind !== 'spiffe') return false;
      if (inner.base === outer.base) return inner.strict || !outer.strict;
      return inner.base.startsWith(`${outer.base}/`);
    case 'any':
      return false;
  }
}

export function describePrincipal(matcher: PrincipalMatcher): string {
  switch (matcher.kind) {
    case 'name':
      return `name "${matcher.name}"`;
    case 'group':
      return `group "${matcher.group}"`;
    case 'spiffe':
      return `SPIFFE ID ${matcher.strict ? 'beneath' : 'under'} "${matcher.base}"`;
    case 'thumbprint':
      return `certificate thumbprint ${matcher.thumbprint}`;
    case 'subject':
      return `certificate subject "${matcher.subject}"`;
    case 'any':
      return 'any authenticated principal';
  }
}
