import type { ErrorObject, ValidateFunction } from 'ajv';
import { createAjv } from '../config/index.js';
import { compileConditions, type CompiledConditions, type RawConditions } from './conditions.js';
import { clip, didYouMean, finding } from './findings.js';
import { parseSegmentPattern, prefixPattern, type NamePattern } from './name-pattern.js';
import { escapePointer, type ParsedPolicyFile } from './parse-file.js';
import { PrincipalSet, spiffeMatcher, type PrincipalMatcher } from './principal.js';
import { policyEnvelopeSchema, ruleSchema } from './schema.js';
import { ACTIONS, type Action, type LintFinding, type RuleRef } from './types.js';

export type CompiledResource =
  | { readonly kind: 'topic' | 'group'; readonly pattern: NamePattern }
  | { readonly kind: 'cluster' };

/** A rule ready to evaluate. `ref` is the frozen, JSON-friendly part that decisions carry. */
export interface CompiledRule extends RuleRef {
  readonly description: string | null;
  /** Position in the whole set (files sorted by name, rules in file order). */
  readonly order: number;
  readonly principals: PrincipalSet;
  readonly resources: readonly CompiledResource[];
  readonly actions: readonly Action[];
  readonly conditions: CompiledConditions | null;
  readonly ref: RuleRef;
  /** `[ref]`, frozen: what a decision decided by this rule alone carries, built once. */
  readonly refs: readonly RuleRef[];
}

type RawPrincipal = { name?: string; spiffe?: string; group?: string; certificate?: { thumbprint?: string; subject?: string }; any?: true };
type RawResource = { topic?: string; topicPrefix?: string; group?: string; groupPrefix?: string; cluster?: true };
interface RawRule {
  id: string;
  effect: 'allow' | 'deny';
  description?: string;
  principals: RawPrincipal[];
  resources: RawResource[];
  actions: Action[];
  conditions?: RawConditions;
}

const RULE_ID = new RegExp(ruleSchema.properties.id.pattern, 'u');

const ajv = createAjv();
const validateEnvelope = ajv.compile(policyEnvelopeSchema);
const validateRule = ajv.compile(ruleSchema);

/** `/rules/2/principals/0` → `rules[2].principals[0]`. */
function location(pointer: string): string {
  let text = '';
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    text += /^\d+$/.test(key) ? `[${key}]` : text === '' ? key : `.${key}`;
  }
  return text === '' ? 'the file' : text;
}

function schemaNode(root: object, schemaPath: string): Record<string, unknown> {
  let node: unknown = root;
  for (const part of schemaPath.split('/').slice(1, -1)) node = (node as Record<string, unknown> | undefined)?.[part];
  return (node ?? {}) as Record<string, unknown>;
}

function valueAt(value: unknown, pointer: string): unknown {
  let node = value;
  for (const part of pointer.split('/').slice(1)) node = (node as Record<string, unknown> | null)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}

function describeError(error: ErrorObject, root: object, value: unknown): { code: 'schema' | 'limit'; pointer: string; reason: string } {
  const params = error.params as Record<string, unknown>;
  const node = schemaNode(root, error.schemaPath);
  const known = Object.keys((node.properties ?? {}) as object);
  // ajv checks `required` before unknown keys; a misspelt key explains a missing one better.
  const instance = valueAt(value, error.instancePath);
  const unknownKey =
    error.keyword === 'required' && instance !== null && typeof instance === 'object'
      ? Object.keys(instance).find((key) => !known.includes(key))
      : undefined;
  switch (unknownKey === undefined ? error.keyword : 'additionalProperties') {
    case 'additionalProperties': {
      const extra = unknownKey ?? String(params.additionalProperty);
      const suggestion = didYouMean(extra, known);
      return {
        code: 'schema',
        pointer: `${error.instancePath}/${escapePointer(extra)}`,
        reason: `unknown key "${clip(extra)}"${suggestion === null ? '' : ` (did you mean "${suggestion}"?)`}; expected one of ${known.join(', ')}`,
      };
    }
    case 'required':
      return { code: 'schema', pointer: error.instancePath, reason: `the key "${String(params.missingProperty)}" is required` };
    case 'minProperties':
    case 'maxProperties':
      return {
        code: 'schema',
        pointer: error.instancePath,
        reason: `each entry has exactly one key, one of ${known.join(', ')} (write two entries for two things)`,
      };
    case 'enum':
      return { code: 'schema', pointer: error.instancePath, reason: `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { code: 'schema', pointer: error.instancePath, reason: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'pattern':
      return {
        code: 'schema',
        pointer: error.instancePath,
        reason: error.instancePath.endsWith('/id')
          ? 'a rule id is 1 to 128 characters of A-Z a-z 0-9 _ . : -'
          : 'must be the base64url SHA-256 thumbprint of the certificate (43 characters, no padding)',
      };
    case 'uniqueItems':
      return { code: 'schema', pointer: error.instancePath, reason: 'lists the same action twice' };
    case 'maxItems':
    case 'maxLength':
      return { code: 'limit', pointer: error.instancePath, reason: error.message ?? 'is too long' };
    default:
      return { code: 'schema', pointer: error.instancePath, reason: error.message ?? 'is invalid' };
  }
}

function schemaFindings(parsed: ParsedPolicyFile, validate: ValidateFunction, root: object, base: string, value: unknown, ruleId?: string): LintFinding[] {
  const error = validate.errors?.[0];
  if (error === undefined) return [];
  // An unknown action gets its own code and a suggestion for every misspelt entry.
  if (error.keyword === 'enum' && /^\/actions\/\d+$/.test(error.instancePath)) {
    const actions = (value as { actions: unknown[] }).actions;
    return actions.flatMap((action, index) => {
      if (typeof action === 'string' && (ACTIONS as readonly string[]).includes(action)) return [];
      const text = String(action);
      const suggestion = text === '*' ? null : didYouMean(text, ACTIONS);
      const hint = text === '*' ? '; "*" is not allowed, list the actions the rule grants' : suggestion === null ? '' : ` (did you mean "${suggestion}"?)`;
      const pointer = `${base}/actions/${index}`;
      return [finding('unknown-action', parsed.file, parsed.lineOf(pointer), `${location(pointer)}: unknown action "${clip(text)}"${hint}`, ruleId)];
    });
  }
  const problem = describeError(error, root, value);
  const pointer = `${base}${problem.pointer}`;
  return [finding(problem.code, parsed.file, parsed.lineOf(pointer), `${location(pointer)}: ${problem.reason}`, ruleId)];
}

function compilePrincipal(raw: RawPrincipal): PrincipalMatcher | { readonly invalid: string } {
  if (raw.name !== undefined) return { kind: 'name', name: raw.name };
  if (raw.group !== undefined) return { kind: 'group', group: raw.group };
  if (raw.spiffe !== undefined) return spiffeMatcher(raw.spiffe);
  if (raw.certificate?.thumbprint !== undefined) return { kind: 'thumbprint', thumbprint: raw.certificate.thumbprint };
  if (raw.certificate?.subject !== undefined) return { kind: 'subject', subject: raw.certificate.subject };
  return { kind: 'any' };
}

function compileResource(raw: RawResource): CompiledResource | { readonly invalid: string } {
  if (raw.cluster === true) return { kind: 'cluster' };
  if (raw.topicPrefix !== undefined) return { kind: 'topic', pattern: prefixPattern(raw.topicPrefix) };
  if (raw.groupPrefix !== undefined) return { kind: 'group', pattern: prefixPattern(raw.groupPrefix) };
  const kind = raw.topic !== undefined ? 'topic' : 'group';
  const pattern = parseSegmentPattern(raw.topic ?? raw.group ?? '');
  return 'invalid' in pattern ? pattern : { kind, pattern };
}

/** A rule that passed the schema; problems are the reasons it can never do what it says. */
function compileRule(parsed: ParsedPolicyFile, raw: RawRule, base: string): { rule: Omit<CompiledRule, 'order'> | null; problems: LintFinding[] } {
  const problems: LintFinding[] = [];
  const at = (pointer: string) => parsed.lineOf(`${base}${pointer}`);
  const principals: PrincipalMatcher[] = [];
  raw.principals.forEach((entry, index) => {
    const compiled = compilePrincipal(entry);
    if ('invalid' in compiled) problems.push(finding('invalid-spiffe', parsed.file, at(`/principals/${index}`), compiled.invalid, raw.id));
    else principals.push(compiled);
  });
  const resources: CompiledResource[] = [];
  raw.resources.forEach((entry, index) => {
    const compiled = compileResource(entry);
    if ('invalid' in compiled) problems.push(finding('pattern-never-matches', parsed.file, at(`/resources/${index}`), compiled.invalid, raw.id));
    else resources.push(compiled);
  });
  const conditions = compileConditions(raw.conditions);
  for (const problem of conditions.problems) problems.push(finding('invalid-cidr', parsed.file, at('/conditions/sourceIp'), problem, raw.id));
  if (problems.length > 0) return { rule: null, problems };
  const line = parsed.lineOf(base);
  const ref: RuleRef = Object.freeze({ id: raw.id, effect: raw.effect, file: parsed.file, line });
  return {
    rule: {
      ...ref,
      description: raw.description ?? null,
      principals: new PrincipalSet(principals),
      resources,
      actions: raw.actions,
      conditions: conditions.conditions,
      ref,
      refs: Object.freeze([ref]),
    },
    problems,
  };
}

/** Every rule of one file that compiles, and every problem of the others. Order is not assigned yet. */
export function compileFile(parsed: ParsedPolicyFile): { rules: Omit<CompiledRule, 'order'>[]; problems: LintFinding[] } {
  if (!validateEnvelope(parsed.value)) {
    return { rules: [], problems: schemaFindings(parsed, validateEnvelope, policyEnvelopeSchema, '', parsed.value) };
  }
  const rules: Omit<CompiledRule, 'order'>[] = [];
  const problems: LintFinding[] = [];
  (parsed.value as { rules: unknown[] }).rules.forEach((raw, index) => {
    const base = `/rules/${index}`;
    const rawId = (raw as { id?: unknown } | null)?.id;
    const id = typeof rawId === 'string' && RULE_ID.test(rawId) ? rawId : undefined;
    if (!validateRule(raw)) {
      problems.push(...schemaFindings(parsed, validateRule, ruleSchema, base, raw, id));
      return;
    }
    const compiled = compileRule(parsed, raw as RawRule, base);
    problems.push(...compiled.problems);
    if (compiled.rule !== null) rules.push(compiled.rule);
  });
  return { rules, problems };
}
