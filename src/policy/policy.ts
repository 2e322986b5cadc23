import { createHash } from 'node:crypto';
import { topicNameProblem } from '../log/topic-name.js';
import { compileFile, type CompiledRule } from './compile-file.js';
import { appliesWith, conditionsOutcome } from './conditions.js';
import { finding, policyInvalid } from './findings.js';
import { splitName, type SplitName } from './name-pattern.js';
import { parsePolicyText } from './parse-file.js';
import { usableSpiffeId } from './principal.js';
import { RuleIndex } from './rule-index.js';
import { POLICY_LIMITS } from './schema.js';
import { matchingScope } from './scopes.js';
import {
  actionApplies,
  describeResource,
  isAction,
  type LintFinding,
  type PolicyDecision,
  type PolicyRequest,
  type PolicySource,
  type RuleRef,
} from './types.js';

export type { CompiledRule } from './compile-file.js';

/** Hash of the (file, content) pairs, in file order, length-prefixed so that no two sets collide by concatenation. */
function versionOf(sources: readonly PolicySource[]): string {
  const hash = createHash('sha256').update('sealbus-policy-v1\n');
  for (const { file, text } of sources) {
    hash.update(`${Buffer.byteLength(file)}:${file}\n${Buffer.byteLength(text)}:`).update(text).update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}

const byFileName = (a: PolicySource, b: PolicySource) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);

/**
 * The version a set of sources compiles to, without compiling it: a watcher that re-reads an
 * unchanged set learns so for the price of a hash.
 */
export function policyVersion(sources: readonly PolicySource[]): string {
  return versionOf([...sources].sort(byFileName));
}

export interface CompiledSources {
  readonly version: string;
  readonly files: readonly string[];
  readonly rules: readonly CompiledRule[];
  /** Errors only: the reasons the set cannot be used. */
  readonly findings: readonly LintFinding[];
}

/** Compiles a set of sources, collecting every problem (lint reports them all; compile throws the first). */
export function compileSources(input: readonly PolicySource[]): CompiledSources {
  const sources = [...input].sort(byFileName);
  const findings: LintFinding[] = [];
  const rules: CompiledRule[] = [];
  if (sources.length > POLICY_LIMITS.maxFiles) {
    findings.push(finding('limit', sources[POLICY_LIMITS.maxFiles]!.file, 1, `the policy set has ${sources.length} files; the limit is ${POLICY_LIMITS.maxFiles}`));
  }
  const firstById = new Map<string, CompiledRule>();
  for (let i = 0; i < sources.length && i < POLICY_LIMITS.maxFiles; i++) {
    const source = sources[i]!;
    if (i > 0 && sources[i - 1]!.file === source.file) {
      findings.push(finding('unreadable', source.file, 1, 'the same file name appears twice in the policy set'));
      continue;
    }
    const parsed = parsePolicyText(source.file, source.text);
    if ('severity' in parsed) {
      findings.push(parsed);
      continue;
    }
    const compiled = compileFile(parsed);
    findings.push(...compiled.problems);
    for (const partial of compiled.rules) {
      const rule: CompiledRule = { ...partial, order: rules.length };
      const first = firstById.get(rule.id);
      if (first !== undefined) {
        findings.push(finding('duplicate-id', rule.file, rule.line, `rule id "${rule.id}" is already used at ${first.file}:${first.line}`, rule.id));
        continue;
      }
      firstById.set(rule.id, rule);
      rules.push(rule);
    }
  }
  if (rules.length > POLICY_LIMITS.maxRules) {
    const over = rules[POLICY_LIMITS.maxRules]!;
    findings.push(finding('limit', over.file, over.line, `the policy set has ${rules.length} rules; the limit is ${POLICY_LIMITS.maxRules}`, over.id));
  }
  return { version: versionOf(sources), files: sources.map((source) => source.file), rules, findings };
}

function refsOf(rules: readonly CompiledRule[]): readonly RuleRef[] {
  if (rules.length === 1) return rules[0]!.refs;
  const seen = new Set<number>();
  const unique = rules.filter((rule) => !seen.has(rule.order) && seen.add(rule.order));
  return Object.freeze(unique.sort((a, b) => a.order - b.order).map((rule) => rule.ref));
}

function rulesText(refs: readonly RuleRef[], verb: string): string {
  const first = refs[0]!;
  const more = refs.length > 1 ? ` (and ${refs.length - 1} more)` : '';
  return `Rule "${first.id}" (${first.file}:${first.line})${more} ${verb}`;
}

function decision(allowed: boolean, rule: string, deciding: readonly RuleRef[], reason: string): PolicyDecision {
  return Object.freeze({ allowed, rule, deciding, reason });
}

const NONE: readonly RuleRef[] = Object.freeze([]);

/**
 * The resource name as rules see it, or why no rule may match it. A topic name the log would
 * refuse (empty segment, space, look-alike letter...) names no topic that can exist, so it is
 * denied outright rather than matched: no wildcard or prefix can be stretched over it.
 */
function nameOf(request: PolicyRequest): SplitName | null | { readonly malformed: string } {
  const resource = request.resource;
  if (resource.kind === 'cluster') return null;
  if (typeof resource.name !== 'string' || resource.name.length === 0) return { malformed: `the ${resource.kind} name is empty` };
  if (resource.kind === 'topic') {
    const problem = topicNameProblem(resource.name, { allowInternal: true });
    if (problem !== null) return { malformed: problem };
  }
  return splitName(resource.name);
}

/** Matched rules of a request before deny-overrides-allow is applied; shared by evaluate and explain. */
export interface Matches {
  readonly name: SplitName | null;
  readonly allows: CompiledRule[];
  readonly denies: CompiledRule[];
}

/** A compiled, immutable policy set. Evaluation is a pure function of the request and this object. */
export class Policy {
  static #empty: Policy | undefined;

  readonly version: string;
  readonly rules: readonly CompiledRule[];
  readonly files: readonly string[];
  readonly #index: RuleIndex;
  readonly #hasSpiffe: boolean;

  private constructor(version: string, rules: readonly CompiledRule[], files: readonly string[]) {
    this.version = version;
    this.rules = Object.freeze([...rules]);
    this.files = Object.freeze([...files]);
    this.#index = new RuleIndex(this.rules);
    this.#hasSpiffe = rules.some((rule) => rule.principals.matchers.some((matcher) => matcher.kind === 'spiffe'));
    Object.freeze(this);
  }

  /** No rules: every request is denied. Its version is that of an empty set of files. */
  static empty(): Policy {
    Policy.#empty ??= new Policy(compileSources([]).version, [], []);
    return Policy.#empty;
  }

  /** Throws SEALBUS_ERR_POLICY_INVALID naming the file and line of the first problem. */
  static compile(sources: readonly PolicySource[]): Policy {
    const compiled = compileSources(sources);
    const first = compiled.findings.find((found) => found.severity === 'error');
    if (first !== undefined) throw policyInvalid(first);
    return new Policy(compiled.version, compiled.rules, compiled.files);
  }

  /**
   * Every rule whose principals, actions and resource match the request, split by effect, with
   * their conditions applied when `withConditions` (explain wants them all).
   */
  match(request: PolicyRequest, withConditions: boolean): Matches | { readonly denied: string } {
    const { subject, action, resource, context } = request;
    if (!isAction(action)) return { denied: 'The action is not one sealbus knows (default deny).' };
    if (!actionApplies(action, resource.kind)) return { denied: `"${action}" does not apply to a ${resource.kind} (default deny).` };
    const name = nameOf(request);
    if (name !== null && 'malformed' in name) return { denied: `No rule can match: ${name.malformed} (default deny).` };
    const spiffeId = this.#hasSpiffe ? usableSpiffeId(subject) : null;
    const allows: CompiledRule[] = [];
    const denies: CompiledRule[] = [];
    this.#index.visit(action, resource.kind, name, (rule) => {
      if (!rule.principals.matches(subject, spiffeId)) return;
      if (withConditions && rule.conditions !== null && !appliesWith(rule.effect, conditionsOutcome(rule.conditions, subject, context))) return;
      (rule.effect === 'deny' ? denies : allows).push(rule);
    });
    return { name, allows, denies };
  }

  evaluate(request: PolicyRequest): PolicyDecision {
    const matches = this.match(request, true);
    if ('denied' in matches) return decision(false, 'default-deny', NONE, matches.denied);
    const { action, resource, subject } = request;
    const what = `${action} on ${describeResource(resource)}`;
    if (matches.denies.length > 0) {
      const refs = refsOf(matches.denies);
      return decision(false, refs[0]!.id, refs, `${rulesText(refs, 'denies')} ${what}.`);
    }
    if (matches.allows.length === 0) return decision(false, 'default-deny', NONE, `No rule allows ${what} (default deny).`);
    const refs = refsOf(matches.allows);
    const scopes = subject.scopes;
    if (scopes !== null && (!Array.isArray(scopes) || matchingScope(scopes, action, resource, matches.name) === null)) {
      return decision(false, 'scope', NONE, `The policy allows ${what}, but no scope of the token covers it.`);
    }
    return decision(true, refs[0]!.id, refs, `${rulesText(refs, 'allows')} ${what}.`);
  }
}
