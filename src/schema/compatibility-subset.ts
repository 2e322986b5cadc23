/**
 * The core of the checker: a conservative proof that every instance valid under a narrow schema is valid
 * under a wide one. Each step either proves its part or returns problems; there is no third outcome.
 */
import {
  Comparison,
  DEFAULT_MAX_COMPARISONS,
  MAX_DEPTH,
  cannotProve,
  has,
  hasAssertions,
  isIgnorable,
  newIsNarrow,
  objectOf,
  oldSide,
  problemAt,
  type Pair,
  type SchemaDocument,
  type Side,
  type SubsetProblem,
} from './compatibility-context.js';
import {
  equivalentOneOf,
  followReference,
  likeBranchProblems,
  splitNarrowConjunction,
  splitNarrowUnion,
  splitWideConjunction,
  splitWideUnion,
} from './compatibility-combinators.js';
import { EMPTINESS_DEPTH, isEmpty } from './compatibility-emptiness.js';
import { evaluate } from './compatibility-evaluate.js';
import { isPlainObject, renderList } from './compatibility-json.js';
import { compareKeywords } from './compatibility-keywords.js';
import { finiteValues } from './compatibility-types.js';
import type { JsonSchema } from './schema-document.js';

export interface SubsetOptions {
  /** Which of the two is the schema being registered, for wording ("the new schema narrows ..."). Default: wide. */
  readonly candidate?: 'narrow' | 'wide';
  /** Steps allowed before giving up with "too complex to compare". Default 100 000. */
  readonly maxComparisons?: number;
}

export interface SubsetResult {
  readonly problems: readonly SubsetProblem[];
  /** True when the budget ran out: the proof is incomplete, whatever `problems` holds. */
  readonly tooComplex: boolean;
  readonly comparisons: number;
}

/**
 * Proves that every instance valid under `narrow` is valid under `wide`; each problem is one place where
 * the proof does not go through. No problems and `tooComplex` false means narrow ⊆ wide.
 */
export function subsetProblems(narrow: JsonSchema, wide: JsonSchema, options: SubsetOptions = {}): SubsetResult {
  const candidate = options.candidate ?? 'wide';
  const context = new Comparison(options.maxComparisons ?? DEFAULT_MAX_COMPARISONS, compareSides);
  const narrowDocument: SchemaDocument = { name: 'narrow', root: narrow, isCandidate: candidate === 'narrow' };
  const wideDocument: SchemaDocument = { name: 'wide', root: wide, isCandidate: candidate === 'wide' };
  const problems = compareSides(context, rootSide(narrowDocument), rootSide(wideDocument));
  return { problems: deduplicate(problems), tooComplex: context.exhausted, comparisons: context.steps };
}

function rootSide(document: SchemaDocument): Side {
  return { schema: document.root, document, pointer: '', key: '', merges: 0 };
}

function deduplicate(problems: readonly SubsetProblem[]): SubsetProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.pointer}\u0000${problem.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One step of the proof: narrow ⊆ wide. Installed as `context.compare` so every module recurses through it. */
export function compareSides(context: Comparison, narrow: Side, wide: Side): SubsetProblem[] {
  if (!context.tick()) return [];
  const pair: Pair = { narrow, wide };
  if (narrow.schema === false || wide.schema === true) return [];
  if (!isSchema(narrow.schema) || !isSchema(wide.schema)) {
    return [problemAt(pair, undefined, 'cannot prove compatibility because a subschema here is neither an object nor a boolean')];
  }
  if (!hasAssertions(wide)) return [];
  if (context.memo.sameMeaning(narrow.schema, wide.schema)) return [];
  const key = `${narrow.document.name}:${narrow.key}|${wide.document.name}:${wide.key}`;
  const settled = context.settled.get(key);
  if (settled !== undefined) return [...settled];
  // Meeting the same pair again on the path is a cycle through references: assume it holds (coinduction).
  if (context.onPath.has(key)) {
    context.pathDependent += 1;
    return [];
  }
  if (context.depth >= MAX_DEPTH) {
    context.pathDependent += 1;
    return [problemAt(pair, undefined, `cannot prove compatibility because the schemas nest more than ${MAX_DEPTH} levels deep here`)];
  }
  const pathDependent = context.pathDependent;
  context.onPath.add(key);
  context.depth += 1;
  try {
    const problems = compareStructures(context, pair);
    const real = !narrow.key.startsWith('~') && !wide.key.startsWith('~');
    if (real && context.pathDependent === pathDependent && !context.exhausted) context.settled.set(key, Object.freeze([...problems]));
    return problems;
  } finally {
    context.depth -= 1;
    context.onPath.delete(key);
  }
}

function isSchema(value: unknown): boolean {
  return typeof value === 'boolean' || isPlainObject(value);
}

function isPureReference(side: Side): boolean {
  const object = objectOf(side);
  return has(object, '$ref') && Object.keys(object).every((keyword) => keyword === '$ref' || isIgnorable(keyword, side));
}

/** Splits combinators and references away in an order that keeps every step sound, then compares keywords. */
function compareStructures(context: Comparison, pair: Pair): SubsetProblem[] {
  const { narrow, wide } = pair;
  if (wide.schema === false) return isEmpty(context, narrow, EMPTINESS_DEPTH) ? [] : [forbiddenProblem(pair)];
  for (const side of [narrow, wide]) {
    if (has(objectOf(side), '$id') && !isIgnorable('$id', side)) {
      return [cannotProve(pair, '$id', 'a nested $id starts a schema resource whose references this checker does not resolve')];
    }
  }
  if (isPureReference(narrow)) return followReference(context, pair, 'narrow');
  if (isPureReference(wide)) return followReference(context, pair, 'wide');
  const finite = compareFiniteNarrow(context, pair);
  if (finite !== undefined) return finite;
  const n = objectOf(narrow);
  const w = objectOf(wide);
  if (has(w, '$ref') || has(w, 'allOf')) return splitWideConjunction(context, pair);
  if (has(w, 'oneOf') && has(n, 'oneOf') && equivalentOneOf(context, pair)) {
    return context.compare(context, narrow, context.without(wide, ['oneOf']));
  }
  const wideUnion = has(w, 'anyOf') || has(w, 'oneOf');
  const narrowSplits = has(n, 'anyOf') || has(n, 'oneOf') || has(n, '$ref') || has(n, 'allOf');
  if (wideUnion && narrowSplits) {
    const matched = likeBranchProblems(context, pair);
    if (matched !== undefined) return matched;
  }
  if (has(n, 'anyOf') || has(n, 'oneOf')) return splitNarrowUnion(context, pair);
  if (has(n, '$ref') || has(n, 'allOf')) return splitNarrowConjunction(context, pair);
  if (wideUnion) return splitWideUnion(context, pair);
  return compareKeywords(context, pair);
}

function forbiddenProblem(pair: Pair): SubsetProblem {
  return newIsNarrow(pair)
    ? problemAt(pair, undefined, 'the new schema accepts values here where the old schema is false (accepts nothing)')
    : problemAt(pair, undefined, 'the new schema is false here (accepts nothing) where the old schema accepts values');
}

/**
 * A narrow schema that lists its values is a subset when the wide schema accepts each of them. Undefined
 * when the wide schema uses something the evaluator cannot decide: the structural comparison then tries.
 */
function compareFiniteNarrow(context: Comparison, pair: Pair): SubsetProblem[] | undefined {
  const values = finiteValues(objectOf(pair.narrow));
  if (values === undefined) return undefined;
  const rejected: unknown[] = [];
  let undecided = false;
  for (const value of values) {
    if (evaluate(context, value, pair.narrow) === false) continue;
    const verdict = evaluate(context, value, pair.wide);
    if (verdict === false) rejected.push(value);
    if (verdict === undefined) undecided = true;
  }
  if (context.exhausted) return [];
  if (rejected.length > 0) return [valuesProblem(context, pair, rejected)];
  return undecided ? undefined : [];
}

function valuesProblem(context: Comparison, pair: Pair, rejected: readonly unknown[]): SubsetProblem {
  const newObject = objectOf(newIsNarrow(pair) ? pair.narrow : pair.wide);
  const oldObject = objectOf(newIsNarrow(pair) ? pair.wide : pair.narrow);
  const keyword = has(newObject, 'enum') ? 'enum' : has(newObject, 'const') ? 'const' : undefined;
  const wide = objectOf(pair.wide);
  const listed = Array.isArray(wide['enum']) ? wide['enum'] : has(wide, 'const') ? [wide['const']] : undefined;
  const unlisted = listed !== undefined && rejected.every((value) => !listed.some((option) => context.memo.equal(option, value)));
  const values = `${rejected.length === 1 ? 'value' : 'values'} ${renderList(rejected)}`;
  const enums = has(newObject, 'enum') && has(oldObject, 'enum');
  if (newIsNarrow(pair)) {
    if (unlisted && enums) return problemAt(pair, keyword, `the new schema adds enum ${values}, which the old schema does not accept`);
    return problemAt(pair, keyword, `the new schema accepts ${values}, which the old schema rejects`);
  }
  if (unlisted && enums) return problemAt(pair, keyword, `the new schema removes enum ${values}, which data written with the old schema may hold`);
  const at = oldSide(pair).pointer === '' ? '' : ` at ${oldSide(pair).pointer}`;
  return problemAt(pair, keyword, `the new schema rejects ${values}, which the old schema accepts${at}`);
}
