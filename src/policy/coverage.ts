import type { CompiledResource, CompiledRule } from './compile-file.js';
import { clip } from './findings.js';
import { patternCovers, patternsIntersect } from './name-pattern.js';
import type { Policy } from './policy.js';
import { usableSpiffeId } from './principal.js';
import { parseScope, parseScopeOrReason, scopeCovers, type ParsedScope } from './scopes.js';
import { ACTIONS, ACTION_RESOURCE_KINDS, actionApplies, isAction, type PolicySubject } from './types.js';

/**
 * May a subject hand out a scope: does it hold the scope's action on every resource the scope
 * matches, in every context? Nobody may issue a token with more rights than they hold, and the
 * new token will be used later, from addresses and with payloads nobody knows yet, so the answer
 * is conservative: "covered" is a promise that `Policy.evaluate` allows the subject every request
 * the scope covers; "not covered" may be wrong in the cautious direction.
 */
export type ScopeCoverage = { readonly covered: true } | { readonly covered: false; readonly reason: string };

/** The first scope of a list that is not covered, with the reason. */
export type ScopesCoverage = { readonly covered: true } | { readonly covered: false; readonly scope: ParsedScope; readonly reason: string };

type ScopeResource = ParsedScope['resource'];

const COVERED = Object.freeze({ covered: true } as const);

const uncovered = (reason: string): ScopeCoverage => Object.freeze({ covered: false, reason });

function resourceCovers(resource: CompiledResource, requested: ScopeResource): boolean {
  if (resource.kind !== requested.kind) return false;
  if (resource.kind === 'cluster' || requested.kind === 'cluster') return true;
  return patternCovers(resource.pattern, requested.pattern);
}

function resourceMeets(resource: CompiledResource, requested: ScopeResource): boolean {
  if (resource.kind !== requested.kind) return false;
  if (resource.kind === 'cluster' || requested.kind === 'cluster') return true;
  return patternsIntersect(resource.pattern, requested.pattern);
}

/** `every topic matching "orders.>"` (allow) or `topics matching "orders.>"` (deny). */
function target(requested: ScopeResource, every: boolean): string {
  if (requested.kind === 'cluster') return 'the cluster';
  const pattern = `matching "${clip(requested.pattern.text)}"`;
  return every ? `every ${requested.kind} ${pattern}` : `${requested.kind}s ${pattern}`;
}

/** An invalid own scope covers nothing; a malformed list (not an array) covers nothing either. */
function ownScopesCover(scopes: readonly string[] | null, requested: ParsedScope): boolean {
  if (scopes === null) return true;
  if (!Array.isArray(scopes)) return false;
  return scopes.some((scope) => {
    const own = parseScopeOrReason(scope);
    return !('invalid' in own) && scopeCovers(own, requested);
  });
}

/**
 * Whether `subject` may hand out `requested`. Covered iff all of:
 *
 * a. the subject's own token, if scoped, has a scope that covers `requested`;
 * b. one allow rule matching the subject, without conditions (they cannot be promised for every
 *    later use of the token), grants the action on a resource covering the whole pattern;
 * c. no deny rule matching the subject, whatever its conditions, names the action on a resource
 *    that some name of the pattern could match.
 *
 * Several allow rules (or own scopes) that cover the pattern only together are not combined: the
 * answer is then "not covered", the cautious direction. Linear in the number of rules.
 */
export function scopeCoverage(policy: Policy, subject: PolicySubject, requested: ParsedScope): ScopeCoverage {
  const { action, resource } = requested;
  // A ParsedScope built by hand rather than by parseScope: refuse what parseScope would.
  if (!isAction(action)) return uncovered(`"${clip(String(action))}" is not an action`);
  if (!actionApplies(action, resource.kind)) return uncovered(`"${action}" does not apply to a ${String(resource.kind)}`);
  if (!ownScopesCover(subject.scopes, requested)) return uncovered(`your own token's scopes do not include "${clip(requested.text)}"`);
  const spiffeId = usableSpiffeId(subject);
  let allowed = false;
  let deny: CompiledRule | null = null;
  for (const rule of policy.rules) {
    if (!rule.actions.includes(action) || !rule.principals.matches(subject, spiffeId)) continue;
    if (rule.effect === 'allow') {
      allowed ||= rule.conditions === null && rule.resources.some((candidate) => resourceCovers(candidate, resource));
    } else if (deny === null && rule.resources.some((candidate) => resourceMeets(candidate, resource))) {
      deny = rule;
    }
  }
  if (!allowed) return uncovered(`no unconditional allow rule grants ${action} on ${target(resource, true)}`);
  if (deny !== null) {
    return uncovered(`rule "${clip(deny.id)}" (${clip(deny.file)}:${deny.line}) denies ${action} on ${target(resource, false)}`);
  }
  return COVERED;
}

/** The first scope of `scopes` that `subject` may not hand out, or covered when it may hand out all. */
export function coverageOfAll(policy: Policy, subject: PolicySubject, scopes: readonly ParsedScope[]): ScopesCoverage {
  for (const scope of scopes) {
    const coverage = scopeCoverage(policy, subject, scope);
    if (!coverage.covered) return Object.freeze({ covered: false, scope, reason: coverage.reason });
  }
  return COVERED;
}

let unrestricted: readonly ParsedScope[] | undefined;

/**
 * The scopes that together mean "no scope restriction": every action on every kind of resource it
 * applies to, with the widest pattern (`read-audit`, `produce:>`, `consume:group:>`). An unscoped
 * token may be issued only by a subject covering all of them (`coverageOfAll`).
 */
export function unrestrictedScopes(): readonly ParsedScope[] {
  unrestricted ??= Object.freeze(
    ACTIONS.flatMap((action) =>
      ACTION_RESOURCE_KINDS[action].map((kind) => parseScope(kind === 'cluster' ? action : kind === 'topic' ? `${action}:>` : `${action}:group:>`)),
    ),
  );
  return unrestricted;
}
