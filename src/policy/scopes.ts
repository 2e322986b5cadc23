import { SealbusError } from '../errors/index.js';
import { clip } from './findings.js';
import { matchesSplit, parseSegmentPattern, patternCovers, splitName, type NamePattern, type SplitName } from './name-pattern.js';
import { actionApplies, isAction, type Action, type Resource } from './types.js';

/**
 * Token scopes narrow what the policy grants; they never add to it. A scope is
 * `<action>:<topic-pattern>` (`produce:orders.>`), `<action>:group:<group-pattern>`
 * (`commit-offset:group:billing.*`) or `<action>` alone for an action on the cluster
 * (`read-audit`). Patterns are those of policy files without prefixes: literal, `*`, `>`. Topic
 * names cannot hold ':', so `group:` is never a topic.
 */
export interface ParsedScope {
  readonly text: string;
  readonly action: Action;
  readonly resource: { readonly kind: 'cluster' } | { readonly kind: 'topic' | 'group'; readonly pattern: NamePattern };
}

const MAX_SCOPE_LENGTH = 512;

/** Parses a scope string without throwing: the scope, or why it is not one. */
export function parseScopeOrReason(scope: string): ParsedScope | { readonly invalid: string } {
  if (typeof scope !== 'string') return { invalid: 'a scope is a string' };
  if (scope.length === 0 || scope.length > MAX_SCOPE_LENGTH) return { invalid: `a scope is 1 to ${MAX_SCOPE_LENGTH} characters` };
  const colon = scope.indexOf(':');
  const actionText = colon === -1 ? scope : scope.slice(0, colon);
  if (!isAction(actionText)) return { invalid: `"${clip(actionText)}" is not an action` };
  if (colon === -1) {
    if (!actionApplies(actionText, 'cluster')) return { invalid: `"${actionText}" needs a topic or group pattern ("${actionText}:orders.>")` };
    return { text: scope, action: actionText, resource: { kind: 'cluster' } };
  }
  let rest = scope.slice(colon + 1);
  let kind: 'topic' | 'group' = 'topic';
  if (rest.startsWith('group:')) {
    kind = 'group';
    rest = rest.slice('group:'.length);
  }
  if (!actionApplies(actionText, kind)) return { invalid: `"${actionText}" does not apply to a ${kind}` };
  const pattern = parseSegmentPattern(rest);
  if ('invalid' in pattern) return pattern;
  return { text: scope, action: actionText, resource: { kind, pattern } };
}

/** Parses a scope string; throws SEALBUS_ERR_POLICY_SCOPE_INVALID (the token layer checks scopes at issue time). */
export function parseScope(scope: string): ParsedScope {
  const parsed = parseScopeOrReason(scope);
  if ('invalid' in parsed) {
    const shown = typeof scope === 'string' ? clip(scope) : String(scope);
    throw new SealbusError('SEALBUS_ERR_POLICY_SCOPE_INVALID', { scope: shown, reason: parsed.invalid }, { details: { reason: parsed.invalid } });
  }
  return parsed;
}

export function scopeMatches(scope: ParsedScope, action: Action, resource: Resource, name: SplitName | null = null): boolean {
  if (scope.action !== action || scope.resource.kind !== resource.kind) return false;
  if (scope.resource.kind === 'cluster' || resource.kind === 'cluster') return true;
  return matchesSplit(scope.resource.pattern, name ?? splitName(resource.name));
}

/** The first scope that covers the request, or null. An invalid scope matches nothing. */
export function matchingScope(scopes: readonly string[], action: Action, resource: Resource, name: SplitName | null = null): string | null {
  for (const scope of scopes) {
    const parsed = parseScopeOrReason(scope);
    if (!('invalid' in parsed) && scopeMatches(parsed, action, resource, name)) return scope;
  }
  return null;
}

/**
 * Whether every request `inner` covers is also covered by `outer`: the same action on the same
 * kind of resource, and (for topics and groups) a pattern covering `inner`'s. Conservative like
 * `patternCovers`: false when unsure, since it decides which scopes a token may hand on.
 */
export function scopeCovers(outer: ParsedScope, inner: ParsedScope): boolean {
  if (outer.action !== inner.action || outer.resource.kind !== inner.resource.kind) return false;
  if (outer.resource.kind === 'cluster' || inner.resource.kind === 'cluster') return true;
  return patternCovers(outer.resource.pattern, inner.resource.pattern);
}
