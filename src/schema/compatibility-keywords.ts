/**
 * The keyword-by-keyword comparison, once references and combinators are out of the way. Each keyword of
 * the wide schema is a constraint the narrow schema must be shown to imply. Keywords only in the narrow
 * schema can only reject more, so they are safe to ignore, except ones this checker does not know: those
 * must match exactly.
 */
import { arrayProblems, numberProblems, stringProblems } from './compatibility-bounds.js';
import {
  STANDARD_ASSERTIONS,
  absentSide,
  attempt,
  cannotProve,
  childSide,
  has,
  isIgnorable,
  keywordChange,
  newIsNarrow,
  newSide,
  objectOf,
  oldSide,
  problemAt,
  type Comparison,
  type Pair,
  type Side,
  type SubsetProblem,
} from './compatibility-context.js';
import { isPlainObject } from './compatibility-json.js';
import { objectProblems } from './compatibility-objects.js';
import {
  allowsType,
  declaredTypes,
  finiteValues,
  integersOnly,
  mayBe,
  renderType,
  typeChangeVerb,
  type TypeName,
} from './compatibility-types.js';

export function compareKeywords(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const narrowTypes = declaredTypes(narrow);
  const wideTypes = declaredTypes(wide);
  if (narrowTypes === undefined || wideTypes === undefined) {
    return [cannotProve(pair, 'type', 'its value is not a type name or a list of them')];
  }
  const problems: SubsetProblem[] = [];
  const uncovered = [...narrowTypes].filter((type) => !allowsType(wideTypes, type)
    && !(type === 'number' && wideTypes.has('integer') && narrow['multipleOf'] === 1));
  if (uncovered.length > 0) problems.push(typeProblem(pair));
  // Type-specific keywords matter only for the types both schemas allow; the others are reported above.
  const shared = new Set<TypeName>([...narrowTypes].filter((type) => mayBe(wideTypes, type)));
  problems.push(...listProblems(context, pair));
  if (shared.has('string')) problems.push(...stringProblems(pair));
  if (mayBe(shared, 'number')) problems.push(...numberProblems(pair, integersOnly(narrowTypes)));
  if (shared.has('array')) problems.push(...arrayProblems(context, pair));
  if (shared.has('object')) problems.push(...objectProblems(context, pair));
  problems.push(...notProblems(context, pair), ...conditionalProblems(context, pair), ...unsupportedProblems(context, pair));
  return problems;
}

function typeProblem(pair: Pair): SubsetProblem {
  const before = objectOf(oldSide(pair));
  const after = objectOf(newSide(pair));
  const verb = typeChangeVerb(declaredTypes(before)!, declaredTypes(after)!);
  const consequence = newIsNarrow(pair)
    ? ': data written with the new schema may have a type the old schema rejects'
    : ': data written with the old schema may have a type the new schema rejects';
  return problemAt(pair, 'type', `the new schema ${verb} type from ${renderType(before)} to ${renderType(after)}${consequence}`);
}

/** `enum` and `const` in the wide schema: reached only when the narrow one does not list its values. */
function listProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const problems: SubsetProblem[] = [];
  for (const keyword of ['enum', 'const']) {
    if (!has(wide, keyword)) continue;
    if (has(narrow, keyword) && context.memo.sameMeaning(narrow[keyword], wide[keyword])) continue;
    const allowed = keyword === 'const' ? [wide['const']] : wide['enum'];
    const values = finiteValues(narrow);
    if (values !== undefined && Array.isArray(allowed) && values.every((value) => allowed.some((option) => context.memo.equal(option, value)))) continue;
    problems.push(keywordChange(pair, keyword, newIsNarrow(pair)
      ? ': data written with the new schema may hold values the old schema rejects'
      : ': data written with the old schema may hold other values'));
  }
  return problems;
}

/** not X ⊆ not Y when Y ⊆ X: the comparison turns around. */
function notProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  if (!has(objectOf(pair.wide), 'not')) return [];
  if (!has(objectOf(pair.narrow), 'not')) return [keywordChange(pair, 'not')];
  return context.compare(context, childSide(pair.wide, 'not'), childSide(pair.narrow, 'not'));
}

/**
 * `if`/`then`/`else` of the wide schema: implied when both outcomes are, or when the conditions accept
 * the same instances and each outcome of the narrow schema fits the wide one.
 */
function conditionalProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  if (!has(wide, 'if')) return [];
  const outcome = (side: Side, keyword: string): Side => (has(objectOf(side), keyword) ? childSide(side, keyword) : absentSide(side, keyword));
  const outcomes = ['then', 'else'].filter((keyword) => has(wide, keyword));
  if (outcomes.every((keyword) => attempt(context, pair.narrow, childSide(pair.wide, keyword)).ok)) return [];
  if (has(narrow, 'if')) {
    const narrowIf = childSide(pair.narrow, 'if');
    const wideIf = childSide(pair.wide, 'if');
    const sameCondition = attempt(context, narrowIf, wideIf).ok && attempt(context, wideIf, narrowIf).ok;
    if (sameCondition && outcomes.every((keyword) => attempt(context, outcome(pair.narrow, keyword), outcome(pair.wide, keyword)).ok)) return [];
  }
  return [cannotProve(pair, 'if', 'the conditions or their outcomes differ')];
}

const OPAQUE_IN_WIDE = new Set(['unevaluatedProperties', 'unevaluatedItems', '$dynamicRef']);

function isTrivial(schema: unknown): boolean {
  return schema === true || (isPlainObject(schema) && Object.keys(schema).length === 0);
}

/**
 * Keywords the checker does not analyse. In the wide schema, the unevaluated* keywords depend on every
 * sibling and subschema, so they are never proven. Non-standard keywords have unknown meaning, so they
 * must be identical on both sides.
 */
function unsupportedProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const problems: SubsetProblem[] = [];
  for (const keyword of Object.keys(wide)) {
    if (OPAQUE_IN_WIDE.has(keyword) && !isTrivial(wide[keyword])) {
      problems.push(cannotProve(pair, keyword, 'its effect depends on what every sibling and subschema evaluates'));
    }
  }
  const unknown = new Set([
    ...Object.keys(narrow).filter((keyword) => !isIgnorable(keyword, pair.narrow)),
    ...Object.keys(wide).filter((keyword) => !isIgnorable(keyword, pair.wide)),
  ].filter((keyword) => !STANDARD_ASSERTIONS.has(keyword)));
  for (const keyword of unknown) {
    if (has(narrow, keyword) && has(wide, keyword) && context.memo.sameMeaning(narrow[keyword], wide[keyword])) continue;
    problems.push(cannotProve(pair, keyword, 'it is not a draft 2020-12 keyword this checker knows'));
  }
  return problems;
}
