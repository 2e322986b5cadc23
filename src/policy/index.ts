/**
 * Authorization: may this principal do this action on this resource, and which rule says so.
 *
 * How the broker uses it:
 *
 * ```ts
 * const engine = new PolicyEngine(await loadPolicyDir(dir));           // throws with file and line
 * const watcher = watchPolicyDir(dir, {
 *   onLoad: (policy) => engine.replace(policy),                         // atomic; the cache is emptied
 *   onError: (err) => log.warn(err, 'policy refused; the one in force stays'),
 * }, { initialVersion: engine.policy.version });
 * const decision = engine.decide({ subject, action: 'produce', resource: { kind: 'topic', name }, context });
 * ```
 *
 * Evaluation is a pure function of (request, policy); deny overrides allow; nothing matching means
 * deny. See docs/policies.md for the file format and the exact matching rules.
 */
export type { CompiledResource, CompiledRule } from './compile-file.js';
export type { ConditionOutcome, ConditionResult } from './conditions.js';
export { coverageOfAll, scopeCoverage, unrestrictedScopes, type ScopeCoverage, type ScopesCoverage } from './coverage.js';
export { PolicyEngine, decisionKey, type PolicyEngineOptions } from './engine.js';
export { explain, type ExplainedRule, type Explanation, type RuleOutcome } from './explain.js';
export { FINDING_CODES, type FindingCode } from './findings.js';
export { lintFailed, lintPolicyDir, lintPolicySources } from './lint.js';
export { loadPolicyDir, readPolicySources } from './load.js';
export { matchesName, parseSegmentPattern, type NamePattern } from './name-pattern.js';
export { Policy, compileSources, type CompiledSources } from './policy.js';
export { policyFileSchema, POLICY_LIMITS } from './schema.js';
export { matchingScope, parseScope, scopeCovers, scopeMatches, type ParsedScope } from './scopes.js';
export {
  ACTIONS,
  ACTION_RESOURCE_KINDS,
  actionApplies,
  describeResource,
  isAction,
  type Action,
  type LintFinding,
  type LintReport,
  type LintSeverity,
  type PolicyContext,
  type PolicyDecision,
  type PolicyRequest,
  type PolicySource,
  type PolicySubject,
  type Resource,
  type ResourceKind,
  type RuleRef,
} from './types.js';
export { watchPolicyDir, type PolicyWatcher, type PolicyWatchHandlers, type PolicyWatchOptions } from './watch.js';
