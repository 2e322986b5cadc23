/**
 * The state of one subset proof: the two schema documents, where each side stands in its document, the
 * work budget, the recursion guard, and the wording of problems in terms of "old" and "new".
 */
import { JsonMemo, isPlainObject, pointerOf, render, valueAtPointer, type SchemaObject } from './compatibility-json.js';

/** One difference that keeps the proof from going through. `pointer` is into the new schema. */
export interface SubsetProblem {
  readonly pointer: string;
  readonly reason: string;
  /** For a summary (no branch of a union fits): the innermost problem of the closest branch. */
  readonly cause?: SubsetProblem;
}

/** A root schema, against which its local `$ref`s resolve. */
export interface SchemaDocument {
  /** Distinguishes the two documents in the recursion guard. */
  readonly name: string;
  readonly root: unknown;
  /** Whether this is the schema being registered ("new"); the other one is "old". */
  readonly isCandidate: boolean;
}

/** A subschema under comparison, and where it sits. */
export interface Side {
  readonly schema: unknown;
  readonly document: SchemaDocument;
  /** Where the schema sits in its document; for a synthesized schema, where it was derived from. */
  readonly pointer: string;
  /** Identity for the recursion guard: the pointer for a real subschema, a fresh token for a synthesized one. */
  readonly key: string;
  /** For a synthesized schema: the pointer of the schema object each keyword was taken from. */
  readonly origins?: ReadonlyMap<string, string>;
  /** How many merges produced this schema, to bound merging through recursive references. */
  readonly merges: number;
}

/** Keywords that never change which instances are valid. `$id` is handled apart: only the root's is harmless. */
export const ANNOTATIONS: ReadonlySet<string> = new Set([
  '$schema', '$anchor', '$dynamicAnchor', '$vocabulary', '$comment', '$defs', 'definitions',
  'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly',
  'contentEncoding', 'contentMediaType', 'contentSchema',
]);

/** Draft 2020-12 keywords that only ever reject instances, so a schema may drop them and get wider. */
export const STANDARD_ASSERTIONS: ReadonlySet<string> = new Set([
  'type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'format', 'maxItems', 'minItems', 'uniqueItems', 'maxContains',
  'minContains', 'contains', 'prefixItems', 'items', 'unevaluatedItems', 'maxProperties', 'minProperties',
  'required', 'dependentRequired', 'properties', 'patternProperties', 'additionalProperties',
  'unevaluatedProperties', 'dependentSchemas', 'propertyNames', 'if', 'then', 'else', 'allOf', 'anyOf',
  'oneOf', 'not', '$ref', '$dynamicRef',
]);

/** Whether a keyword of this side can be ignored: an annotation, or the root's own `$id`. */
export function isIgnorable(keyword: string, side: Side): boolean {
  return ANNOTATIONS.has(keyword) || (keyword === '$id' && (side.origins?.get('$id') ?? side.pointer) === '');
}

export function objectOf(side: Side): SchemaObject {
  return side.schema === true || !isPlainObject(side.schema) ? {} : side.schema;
}

/** Whether the schema constrains anything at all. */
export function hasAssertions(side: Side): boolean {
  if (side.schema === false) return true;
  if (!isPlainObject(side.schema)) return false;
  return Object.keys(side.schema).some((keyword) => !isIgnorable(keyword, side));
}

export function has(object: SchemaObject, keyword: string): boolean {
  return Object.hasOwn(object, keyword);
}

export function keywordPointer(side: Side, keyword: string, ...tokens: readonly (string | number)[]): string {
  return pointerOf(side.origins?.get(keyword) ?? side.pointer, keyword, ...tokens);
}

/** The subschema at `keyword` (then `tokens`) of a side, as a side of its own. */
export function childSide(side: Side, keyword: string, ...tokens: readonly (string | number)[]): Side {
  let schema: unknown = objectOf(side)[keyword];
  for (const token of tokens) {
    schema = Array.isArray(schema) || isPlainObject(schema) ? (schema as Record<string, unknown>)[token] : undefined;
  }
  const pointer = keywordPointer(side, keyword, ...tokens);
  return { schema, document: side.document, pointer, key: pointer, merges: 0 };
}

/** The empty schema at a place where a keyword is absent (e.g. no `items`): it accepts everything. */
export function absentSide(side: Side, keyword: string): Side {
  const pointer = keywordPointer(side, keyword);
  return { schema: true, document: side.document, pointer, key: pointer, merges: 0 };
}

export type CompareFunction = (context: Comparison, narrow: Side, wide: Side) => SubsetProblem[];

/** Comparisons (subset steps and evaluation steps) allowed for one pair of schemas. */
export const DEFAULT_MAX_COMPARISONS = 100_000;
/** Nesting allowed before the checker gives up on a branch rather than risk the call stack. */
export const MAX_DEPTH = 200;

export class Comparison {
  readonly memo = new JsonMemo();
  /** Pairs being proven on the current path: meeting one again is a cycle, assumed to hold. */
  readonly onPath = new Set<string>();
  /**
   * How many answers leaned on the path (a cycle assumed to hold, the nesting limit met): a result
   * computed without any is the same on every path, so it may be reused.
   */
  pathDependent = 0;
  /** Results for pairs of real subschemas that did not lean on the path, by pair key. */
  readonly settled = new Map<string, readonly SubsetProblem[]>();
  steps = 0;
  depth = 0;
  exhausted = false;
  #synthesized = 0;
  readonly #anchors = new Map<SchemaDocument, Map<string, string>>();
  readonly #patterns = new Map<string, RegExp | undefined>();

  constructor(
    readonly maxSteps: number,
    readonly compare: CompareFunction,
  ) {}

  /** Counts one step; false once the budget is spent. */
  tick(): boolean {
    if (this.exhausted) return false;
    this.steps += 1;
    if (this.steps > this.maxSteps) this.exhausted = true;
    return !this.exhausted;
  }

  syntheticKey(): string {
    this.#synthesized += 1;
    return `~${this.#synthesized}`;
  }

  /** The side with some keywords dropped, which is wider than the side itself. */
  without(side: Side, keywords: readonly string[]): Side {
    const rest: Record<string, unknown> = {};
    for (const [keyword, value] of Object.entries(objectOf(side))) {
      if (!keywords.includes(keyword)) rest[keyword] = value;
    }
    const origins = new Map<string, string>();
    for (const keyword of Object.keys(rest)) origins.set(keyword, side.origins?.get(keyword) ?? side.pointer);
    return { schema: rest, document: side.document, pointer: side.pointer, key: this.syntheticKey(), origins, merges: side.merges };
  }

  /** Resolves a local `$ref` of a side; a string explains why it cannot be. */
  resolve(side: Side, ref: string): Side | string {
    const root = side.document.root;
    let fragment: string;
    const rootId = isPlainObject(root) && typeof root['$id'] === 'string' ? root['$id'].replace(/#.*$/, '') : undefined;
    if (ref.startsWith('#')) fragment = ref.slice(1);
    else if (rootId !== undefined && rootId !== '' && (ref === rootId || ref.startsWith(`${rootId}#`))) fragment = ref.slice(rootId.length + 1);
    else return `it is not local to the schema ("${ref}"), so what it refers to cannot be compared`;
    let pointer: string | undefined;
    try {
      fragment = decodeURIComponent(fragment);
    } catch {
      return `"${ref}" is not a valid URI fragment`;
    }
    if (fragment === '' || fragment.startsWith('/')) pointer = fragment;
    else pointer = this.#anchorsOf(side.document).get(fragment);
    const found = pointer === undefined ? undefined : valueAtPointer(root, pointer);
    if (pointer === undefined || found === undefined) return `"${ref}" does not resolve within the schema`;
    return { schema: found.value, document: side.document, pointer, key: pointer, merges: 0 };
  }

  #anchorsOf(document: SchemaDocument): Map<string, string> {
    const known = this.#anchors.get(document);
    if (known !== undefined) return known;
    const anchors = new Map<string, string>();
    const pending: { value: unknown; pointer: string }[] = [{ value: document.root, pointer: '' }];
    while (pending.length > 0) {
      const { value, pointer } = pending.pop()!;
      if (Array.isArray(value)) {
        value.forEach((item, index) => pending.push({ value: item, pointer: pointerOf(pointer, index) }));
      } else if (isPlainObject(value)) {
        if (typeof value['$anchor'] === 'string' && !anchors.has(value['$anchor'])) anchors.set(value['$anchor'], pointer);
        for (const [key, child] of Object.entries(value)) pending.push({ value: child, pointer: pointerOf(pointer, key) });
      }
    }
    this.#anchors.set(document, anchors);
    return anchors;
  }

  /** A compiled `pattern`, cached; undefined when it does not compile (ajv compiles with the `u` flag). */
  regex(source: string): RegExp | undefined {
    if (!this.#patterns.has(source)) {
      let compiled: RegExp | undefined;
      try {
        compiled = new RegExp(source, 'u');
      } catch {
        compiled = undefined;
      }
      this.#patterns.set(source, compiled);
    }
    return this.#patterns.get(source);
  }
}

/** The narrow and wide sides of one step of the proof. */
export interface Pair {
  readonly narrow: Side;
  readonly wide: Side;
}

export function newSide(pair: Pair): Side {
  return pair.narrow.document.isCandidate ? pair.narrow : pair.wide;
}

export function oldSide(pair: Pair): Side {
  return pair.narrow.document.isCandidate ? pair.wide : pair.narrow;
}

/** Whether the new schema is the narrow one here (a forward check), so a failure means the new one is looser. */
export function newIsNarrow(pair: Pair): boolean {
  return pair.narrow.document.isCandidate;
}

/** A problem located at `keyword` (or a path that starts with a keyword) of the new schema's side. */
export function problemAt(pair: Pair, keyword: string | readonly [string, ...string[]] | undefined, reason: string): SubsetProblem {
  const side = newSide(pair);
  if (keyword === undefined) return { pointer: side.pointer, reason };
  const [first, ...rest] = typeof keyword === 'string' ? [keyword] : keyword;
  return { pointer: keywordPointer(side, first, ...rest), reason };
}

export function cannotProve(pair: Pair, keyword: string, detail = 'this checker does not analyse it'): SubsetProblem {
  return problemAt(pair, keyword, `cannot prove compatibility because keyword "${keyword}" differs between the old and new schema (${detail})`);
}

/** "adds minLength 3", "lowers maxLength from 20 to 10", "changes pattern from "a" to "b"". */
export function describeChange(keyword: string, oldValue: unknown, newValue: unknown): string {
  if (oldValue === undefined) return `adds ${keyword} ${render(newValue)}`;
  if (newValue === undefined) return `removes ${keyword} ${render(oldValue)}`;
  if (typeof oldValue === 'number' && typeof newValue === 'number' && oldValue !== newValue) {
    return `${newValue > oldValue ? 'raises' : 'lowers'} ${keyword} from ${oldValue} to ${newValue}`;
  }
  return `changes ${keyword} from ${render(oldValue)} to ${render(newValue)}`;
}

/** A problem that says how the new schema changed one keyword of the old one. */
export function keywordChange(pair: Pair, keyword: string, consequence = ''): SubsetProblem {
  const change = describeChange(keyword, objectOf(oldSide(pair))[keyword], objectOf(newSide(pair))[keyword]);
  return problemAt(pair, keyword, `the new schema ${change}${consequence}`);
}

/** Runs a comparison whose problems may be discarded; a spent budget never counts as a success. */
export function attempt(context: Comparison, narrow: Side, wide: Side): { ok: boolean; problems: SubsetProblem[] } {
  const problems = context.compare(context, narrow, wide);
  return { ok: problems.length === 0 && !context.exhausted, problems };
}
