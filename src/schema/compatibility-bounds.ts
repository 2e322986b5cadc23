/**
 * Strings, numbers and arrays: bounds must be at least as tight in the narrow schema, patterns and formats
 * identical, and array elements compared position by position.
 */
import {
  absentSide,
  attempt,
  cannotProve,
  childSide,
  has,
  keywordChange,
  newSide,
  objectOf,
  oldSide,
  problemAt,
  type Comparison,
  type Pair,
  type Side,
  type SubsetProblem,
} from './compatibility-context.js';
import { isPlainObject, type SchemaObject } from './compatibility-json.js';

function numberAt(object: SchemaObject, keyword: string): number | undefined {
  const value = object[keyword];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A count keyword (`minLength`, `maxItems`, ...) of the wide schema must be implied by the narrow one's. */
function countProblems(pair: Pair, keywords: readonly [string, string], narrowMinimum: number, narrowMaximum: number): SubsetProblem[] {
  const wide = objectOf(pair.wide);
  const [minimumKeyword, maximumKeyword] = keywords;
  const problems: SubsetProblem[] = [];
  const wideMinimum = numberAt(wide, minimumKeyword);
  if (wideMinimum !== undefined && wideMinimum > 0 && narrowMinimum < wideMinimum) problems.push(keywordChange(pair, minimumKeyword));
  const wideMaximum = numberAt(wide, maximumKeyword);
  if (wideMaximum !== undefined && narrowMaximum > wideMaximum) problems.push(keywordChange(pair, maximumKeyword));
  return problems;
}

export function stringProblems(pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const problems = countProblems(pair, ['minLength', 'maxLength'], numberAt(narrow, 'minLength') ?? 0, numberAt(narrow, 'maxLength') ?? Infinity);
  for (const keyword of ['pattern', 'format']) {
    if (has(wide, keyword) && narrow[keyword] !== wide[keyword]) problems.push(keywordChange(pair, keyword));
  }
  return problems;
}

interface Bound {
  readonly keyword: string;
  readonly value: number;
  readonly exclusive: boolean;
}

const LOWER = [['minimum', false], ['exclusiveMinimum', true]] as const;
const UPPER = [['maximum', false], ['exclusiveMaximum', true]] as const;

/** The tightest bound on one side; for integers, exclusive bounds become inclusive ones (> 0.5 is >= 1). */
function boundOf(object: SchemaObject, which: 'lower' | 'upper', integers: boolean): Bound | undefined {
  let best: Bound | undefined;
  for (const [keyword, exclusive] of which === 'lower' ? LOWER : UPPER) {
    const raw = numberAt(object, keyword);
    if (raw === undefined) continue;
    let bound: Bound = { keyword, value: raw, exclusive };
    if (integers) {
      const value = which === 'lower' ? (exclusive ? Math.floor(raw) + 1 : Math.ceil(raw)) : exclusive ? Math.ceil(raw) - 1 : Math.floor(raw);
      bound = { keyword, value, exclusive: false };
    }
    const tighter = best === undefined
      || (which === 'lower' ? bound.value > best.value : bound.value < best.value)
      || (bound.value === best.value && bound.exclusive);
    if (tighter) best = bound;
  }
  return best;
}

/** Whether every number within the narrow bound is within the wide bound. */
function implies(narrow: Bound | undefined, wide: Bound | undefined, which: 'lower' | 'upper'): boolean {
  if (wide === undefined) return true;
  if (narrow === undefined) return false;
  if (narrow.value === wide.value) return narrow.exclusive || !wide.exclusive;
  return which === 'lower' ? narrow.value > wide.value : narrow.value < wide.value;
}

function boundProblem(pair: Pair, which: 'lower' | 'upper'): SubsetProblem {
  const before = boundOf(objectOf(oldSide(pair)), which, false);
  const after = boundOf(objectOf(newSide(pair)), which, false);
  let change: string;
  if (before === undefined) change = `adds ${after!.keyword} ${after!.value}`;
  else if (after === undefined) change = `removes ${before.keyword} ${before.value}`;
  else if (before.keyword === after.keyword) change = `${after.value > before.value ? 'raises' : 'lowers'} ${after.keyword} from ${before.value} to ${after.value}`;
  else change = `replaces ${before.keyword} ${before.value} with ${after.keyword} ${after.value}`;
  return problemAt(pair, after?.keyword ?? before!.keyword, `the new schema ${change}`);
}

/** Whether every multiple of `narrow` is a multiple of `wide`, in the floating point ajv uses. */
function multipleImplied(narrow: number | undefined, wide: number, integers: boolean): boolean {
  if (narrow === wide) return true;
  // Integers divided by a power of two (1, 0.5, 0.25, ...) give exact results.
  if (integers && wide <= 1 && Number.isInteger(Math.log2(1 / wide))) return true;
  return narrow !== undefined && Number.isInteger(narrow) && Number.isInteger(wide) && narrow % wide === 0;
}

export function numberProblems(pair: Pair, integers: boolean): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const problems: SubsetProblem[] = [];
  for (const which of ['lower', 'upper'] as const) {
    if (!implies(boundOf(narrow, which, integers), boundOf(wide, which, integers), which)) problems.push(boundProblem(pair, which));
  }
  const wideMultiple = numberAt(wide, 'multipleOf');
  if (wideMultiple !== undefined && !multipleImplied(numberAt(narrow, 'multipleOf'), wideMultiple, integers)) {
    problems.push(keywordChange(pair, 'multipleOf'));
  }
  return problems;
}

/** The schema for the element at `index`: from `prefixItems`, else `items`, else anything. */
function elementSide(side: Side, index: number): Side {
  const prefix = objectOf(side)['prefixItems'];
  return Array.isArray(prefix) && index < prefix.length ? childSide(side, 'prefixItems', index) : tailSide(side);
}

function tailSide(side: Side): Side {
  return has(objectOf(side), 'items') ? childSide(side, 'items') : absentSide(side, 'items');
}

function isSchemaValue(value: unknown): boolean {
  return typeof value === 'boolean' || isPlainObject(value);
}

export function arrayProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  for (const object of [narrow, wide]) {
    if (has(object, 'prefixItems') && !Array.isArray(object['prefixItems'])) return [cannotProve(pair, 'prefixItems', 'its value is not an array')];
    if (has(object, 'items') && !isSchemaValue(object['items'])) {
      return [cannotProve(pair, 'items', 'in draft 2020-12 items is one schema; tuples use prefixItems')];
    }
  }
  const narrowPrefix = (narrow['prefixItems'] as unknown[] | undefined) ?? [];
  const widePrefix = (wide['prefixItems'] as unknown[] | undefined) ?? [];
  const narrowMaximum = Math.min(numberAt(narrow, 'maxItems') ?? Infinity, narrow['items'] === false ? narrowPrefix.length : Infinity);
  const problems = countProblems(pair, ['minItems', 'maxItems'], numberAt(narrow, 'minItems') ?? 0, narrowMaximum);
  if (wide['uniqueItems'] === true && narrow['uniqueItems'] !== true && narrowMaximum > 1) problems.push(keywordChange(pair, 'uniqueItems'));
  if (has(wide, 'prefixItems') || has(wide, 'items')) {
    const length = Math.max(narrowPrefix.length, widePrefix.length);
    for (let index = 0; index < length && index < narrowMaximum; index++) {
      problems.push(...context.compare(context, elementSide(pair.narrow, index), elementSide(pair.wide, index)));
    }
    if (narrowMaximum > length) problems.push(...context.compare(context, tailSide(pair.narrow), tailSide(pair.wide)));
  }
  problems.push(...containsProblems(context, pair));
  return problems;
}

/** `contains` with `minContains`: narrow elements that match the narrow `contains` must match the wide one. */
function containsProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  if (!has(wide, 'contains')) return [];
  const wideMinimum = numberAt(wide, 'minContains') ?? 1;
  if (has(wide, 'maxContains')) {
    // At most n elements match: proven only for the same `contains` and a count range inside the wide one.
    const narrowMaximum = numberAt(narrow, 'maxContains');
    const wideMaximum = numberAt(wide, 'maxContains');
    const counts = narrowMaximum !== undefined && wideMaximum !== undefined && narrowMaximum <= wideMaximum
      && (numberAt(narrow, 'minContains') ?? 1) >= wideMinimum;
    const narrowContains = has(narrow, 'contains') ? childSide(pair.narrow, 'contains') : undefined;
    const wideContains = childSide(pair.wide, 'contains');
    const same = narrowContains !== undefined && attempt(context, narrowContains, wideContains).ok && attempt(context, wideContains, narrowContains).ok;
    return counts && same ? [] : [cannotProve(pair, 'maxContains', 'maxContains is proven only with an equivalent contains and a narrower count')];
  }
  if (wideMinimum <= 0) return [];
  if (!has(narrow, 'contains')) return [keywordChange(pair, 'contains')];
  const problems: SubsetProblem[] = [];
  if ((numberAt(narrow, 'minContains') ?? 1) < wideMinimum) problems.push(keywordChange(pair, 'minContains'));
  problems.push(...context.compare(context, childSide(pair.narrow, 'contains'), childSide(pair.wide, 'contains')));
  return problems;
}
