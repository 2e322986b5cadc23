import type { CompiledResource, CompiledRule } from './compile-file.js';
import { finding } from './findings.js';
import { patternCovers } from './name-pattern.js';
import { describePrincipal, principalCovers } from './principal.js';
import { ACTION_RESOURCE_KINDS, actionApplies, type LintFinding } from './types.js';

/**
 * Lint's own analyses of rules that compile. Each is conservative: it reports what it can prove
 * (a rule that can never take effect, an allow that a deny always overrides), never a guess.
 */

function resourceText(resource: CompiledResource): string {
  if (resource.kind === 'cluster') return 'cluster';
  const prefix = resource.pattern.type === 'prefix' ? 'Prefix' : '';
  return `${resource.kind}${prefix}: ${resource.pattern.text}`;
}

const applicablePairs = (rule: CompiledRule) =>
  rule.actions.flatMap((action) => rule.resources.filter((resource) => actionApplies(action, resource.kind)).map((resource) => ({ action, resource })));

function resourceCovers(outer: CompiledResource, inner: CompiledResource): boolean {
  if (outer.kind !== inner.kind) return false;
  if (outer.kind === 'cluster' || inner.kind === 'cluster') return true;
  return patternCovers(outer.pattern, inner.pattern);
}

/** Every subject, action and resource of `allow` is also one of `deny`, which has no conditions. */
function shadows(deny: CompiledRule, allow: CompiledRule): boolean {
  if (deny.conditions !== null) return false;
  const principals = allow.principals.matchers.every((inner) => deny.principals.matchers.some((outer) => principalCovers(outer, inner)));
  if (!principals) return false;
  const pairs = applicablePairs(allow);
  return (
    pairs.length > 0 &&
    pairs.every(({ action, resource }) => deny.actions.includes(action) && deny.resources.some((outer) => resourceCovers(outer, resource)))
  );
}

function canonical(rule: CompiledRule): string {
  const sorted = (values: string[]) => JSON.stringify([...new Set(values)].sort());
  const conditions = rule.conditions;
  return [
    rule.effect,
    sorted(rule.principals.matchers.map(describePrincipal)),
    sorted(rule.resources.map(resourceText)),
    sorted([...rule.actions]),
    conditions === null
      ? 'none'
      : JSON.stringify([conditions.sourceIp === null ? null : [...conditions.sourceIp.cidrs].sort(), conditions.encrypted, conditions.tokenBound]),
  ].join('\n');
}

function unreachable(rule: CompiledRule): string | null {
  if (applicablePairs(rule).length === 0) {
    const wanted = rule.actions.map((action) => `${action} applies to ${ACTION_RESOURCE_KINDS[action].join('/')}`).join('; ');
    return `none of its actions applies to its resources (${wanted}), so it never takes effect`;
  }
  if (rule.conditions?.sourceIp?.cidrs.length === 0) {
    return rule.effect === 'allow'
      ? 'conditions.sourceIp lists no address range, so it never allows anything'
      : 'conditions.sourceIp lists no address range, so it denies only when the source address is unknown';
  }
  return null;
}

function ruleWarnings(rule: CompiledRule): LintFinding[] {
  const found: LintFinding[] = [];
  const warn = (code: Parameters<typeof finding>[0], message: string) => found.push(finding(code, rule.file, rule.line, message, rule.id));
  const idle = rule.actions.filter((action) => !rule.resources.some((resource) => actionApplies(action, resource.kind)));
  if (idle.length > 0) warn('action-not-applicable', `${idle.join(', ')} never applies to the resources of this rule (${rule.resources.map(resourceText).join(', ')})`);
  const unused = rule.resources.filter((resource) => !rule.actions.some((action) => actionApplies(action, resource.kind)));
  if (unused.length > 0) warn('action-not-applicable', `no action of this rule applies to ${unused.map(resourceText).join(', ')}`);
  const notProduce = rule.actions.filter((action) => action !== 'produce');
  if (rule.conditions?.encrypted != null && notProduce.length > 0) {
    const effect = rule.effect === 'allow' ? 'this allow never applies to them' : 'this deny always applies to them';
    warn('condition-not-applicable', `"encrypted" is known only when producing; for ${notProduce.join(', ')} it is unknown, so ${effect}`);
  }
  if (rule.effect === 'allow' && rule.principals.any) {
    const everything = rule.resources.filter((resource) => resource.kind !== 'cluster' && resource.pattern.type === 'segments' && resource.pattern.segments.length === 0);
    if (everything.length > 0) warn('broad-allow', `any authenticated principal may ${rule.actions.join(', ')} on every ${everything[0]!.kind}`);
  }
  for (const matcher of rule.principals.matchers) {
    const text = matcher.kind === 'name' ? matcher.name : matcher.kind === 'group' ? matcher.group : null;
    if (text !== null && (text.trim() !== text || /[\u0000-\u001f\u007f]/.test(text))) {
      warn('suspicious-name', `${describePrincipal(matcher)} has leading or trailing spaces or control characters; names are compared exactly`);
    }
  }
  for (const resource of rule.resources) {
    if (resource.kind !== 'cluster' && resource.pattern.type === 'prefix' && /[*>]/.test(resource.pattern.text)) {
      warn('prefix-has-wildcard', `${resourceText(resource)}: a prefix is a plain string, so "*" and ">" in it are literal characters`);
    }
  }
  return found;
}

export function analyseRules(rules: readonly CompiledRule[]): LintFinding[] {
  const found: LintFinding[] = [];
  const seen = new Map<string, CompiledRule>();
  const denies = rules.filter((rule) => rule.effect === 'deny');
  for (const rule of rules) {
    const never = unreachable(rule);
    if (never !== null) {
      found.push(finding('unreachable-rule', rule.file, rule.line, never, rule.id));
      continue;
    }
    found.push(...ruleWarnings(rule));
    const key = canonical(rule);
    const twin = seen.get(key);
    if (twin !== undefined) {
      found.push(finding('duplicate-rule', rule.file, rule.line, `it says exactly what rule "${twin.id}" (${twin.file}:${twin.line}) says`, rule.id));
    } else {
      seen.set(key, rule);
    }
    if (rule.effect === 'allow') {
      const deny = denies.find((candidate) => shadows(candidate, rule));
      if (deny !== undefined) {
        found.push(
          finding('shadowed-by-deny', rule.file, rule.line, `deny rule "${deny.id}" (${deny.file}:${deny.line}) covers everything this rule allows, so it never allows anything`, rule.id),
        );
      }
    }
  }
  return found;
}
