import type { CompiledRule } from './compile-file.js';
import { appliesWith, conditionsOutcome, explainConditions, type ConditionResult } from './conditions.js';
import type { Policy } from './policy.js';
import { matchingScope } from './scopes.js';
import { describeResource, type Action, type PolicyDecision, type PolicyRequest, type RuleRef } from './types.js';

export type RuleOutcome =
  /** An allow rule that granted the request. */
  | 'allowed'
  /** A deny rule that refused the request. */
  | 'denied'
  /** An allow rule that matched, knocked out by a deny rule. */
  | 'overridden-by-deny'
  /** An allow rule that matched, but the token's scopes do not cover the request. */
  | 'removed-by-scope'
  /** A rule whose principals, action and resource match, but whose conditions keep it out. */
  | 'conditions-not-met';

export interface ExplainedRule extends RuleRef {
  readonly description: string | null;
  readonly outcome: RuleOutcome;
  readonly conditions: readonly ConditionResult[];
  readonly note: string;
}

/** Why a request is allowed or denied. Plain data: JSON.stringify gives what `sealbus policy explain --json` prints. */
export interface Explanation {
  readonly decision: PolicyDecision;
  readonly policyVersion: string;
  readonly request: { readonly principal: string; readonly action: Action; readonly resource: string };
  /** Every rule whose principals, action and resource match the request, in file order. */
  readonly rules: readonly ExplainedRule[];
  /** Null when the token does not restrict the principal; else the scope that covers the request, if any. */
  readonly scopes: { readonly restricted: true; readonly matching: string | null } | null;
}

const where = (ref: RuleRef) => `"${ref.id}" (${ref.file}:${ref.line})`;

function outcomeOf(rule: CompiledRule, applies: boolean, decision: PolicyDecision, firstDeny: CompiledRule | undefined): { outcome: RuleOutcome; note: string } {
  if (!applies) {
    return {
      outcome: 'conditions-not-met',
      note:
        rule.effect === 'allow'
          ? 'its conditions do not all hold, so it does not allow (an unknown input counts as not holding)'
          : 'one of its conditions fails, so it does not deny',
    };
  }
  if (rule.effect === 'deny') return { outcome: 'denied', note: 'deny overrides allow: this rule refuses the request' };
  if (firstDeny !== undefined) return { outcome: 'overridden-by-deny', note: `it would allow, but deny rule ${where(firstDeny)} overrides it` };
  if (decision.rule === 'scope') return { outcome: 'removed-by-scope', note: "it allows, but none of the token's scopes covers the request" };
  return { outcome: 'allowed', note: 'it allows the request' };
}

/** The decision and every rule that took part in it, with file and line. Pure, like evaluate. */
export function explain(policy: Policy, request: PolicyRequest): Explanation {
  const decision = policy.evaluate(request);
  const { subject, action, resource, context } = request;
  const summary = { principal: subject.name, action, resource: describeResource(resource) };
  const scopes = subject.scopes === null ? null : { restricted: true as const, matching: Array.isArray(subject.scopes) ? matchingScope(subject.scopes, action, resource) : null };
  const matches = policy.match(request, false);
  if ('denied' in matches) return { decision, policyVersion: policy.version, request: summary, rules: [], scopes };
  const seen = new Set<number>();
  const candidates = [...matches.denies, ...matches.allows]
    .filter((rule) => !seen.has(rule.order) && seen.add(rule.order))
    .sort((a, b) => a.order - b.order);
  const applying = (rule: CompiledRule) =>
    rule.conditions === null || appliesWith(rule.effect, conditionsOutcome(rule.conditions, subject, context));
  const firstDeny = candidates.find((rule) => rule.effect === 'deny' && applying(rule));
  const rules = candidates.map((rule): ExplainedRule => {
    const { outcome, note } = outcomeOf(rule, applying(rule), decision, firstDeny);
    return {
      ...rule.ref,
      description: rule.description,
      outcome,
      conditions: rule.conditions === null ? [] : explainConditions(rule.conditions, subject, context),
      note,
    };
  });
  return { decision, policyVersion: policy.version, request: summary, rules, scopes };
}
