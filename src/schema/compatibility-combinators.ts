/**
 * References and combinators. A wide conjunction (`allOf`, `$ref` with siblings) is split exactly: the
 * narrow schema must fit each part. A narrow conjunction is merged into one schema when its parts do not
 * interfere, else any one part that fits is enough (sound, not complete). A narrow union needs each branch
 * to fit; a wide union needs the narrow schema (or each of its types) to fit one branch, and for `oneOf`
 * that branch must be provably disjoint from the others.
 */
import {
  attempt,
  cannotProve,
  childSide,
  has,
  hasAssertions,
  newIsNarrow,
  objectOf,
  oldSide,
  problemAt,
  type Comparison,
  type Pair,
  type Side,
  type SubsetProblem,
} from './compatibility-context.js';
import { EMPTINESS_DEPTH, disjoint, isEmpty } from './compatibility-emptiness.js';
import { isPlainObject } from './compatibility-json.js';
import { merge, restrictedLike } from './compatibility-merge.js';

function resolveOn(context: Comparison, pair: Pair, which: 'narrow' | 'wide'): Side | SubsetProblem {
  const side = pair[which];
  const reference = objectOf(side)['$ref'];
  if (typeof reference !== 'string') return cannotProve(pair, '$ref', 'its value is not a string');
  const target = context.resolve(side, reference);
  if (typeof target !== 'string') return target;
  const whose = side.document.isCandidate ? 'new' : 'old';
  return problemAt(pair, '$ref', `cannot prove compatibility because the ${whose} schema's $ref cannot be followed: ${target}`);
}

function isProblem(value: Side | SubsetProblem): value is SubsetProblem {
  return Object.hasOwn(value, 'reason');
}

/** Replaces one side by what its `$ref` points to (the recursion guard lives in `compare`). */
export function followReference(context: Comparison, pair: Pair, which: 'narrow' | 'wide'): SubsetProblem[] {
  const target = resolveOn(context, pair, which);
  if (isProblem(target)) return [target];
  return which === 'narrow' ? context.compare(context, target, pair.wide) : context.compare(context, pair.narrow, target);
}

/** wide = rest ∧ $ref ∧ allOf[i]: the narrow schema must fit every conjunct. */
export function splitWideConjunction(context: Comparison, pair: Pair): SubsetProblem[] {
  const { narrow, wide } = pair;
  const problems: SubsetProblem[] = [];
  const rest = context.without(wide, ['$ref', 'allOf']);
  if (hasAssertions(rest)) problems.push(...context.compare(context, narrow, rest));
  if (has(objectOf(wide), '$ref')) problems.push(...followReference(context, pair, 'wide'));
  const branches = objectOf(wide)['allOf'];
  if (branches !== undefined && !Array.isArray(branches)) return [...problems, cannotProve(pair, 'allOf', 'its value is not an array')];
  (branches ?? []).forEach((_: unknown, index: number) => problems.push(...context.compare(context, narrow, childSide(wide, 'allOf', index))));
  return problems;
}

/** narrow = rest ∧ (b1 ∨ b2 ∨ …): each branch (with the rest, when they merge) must fit. */
export function splitNarrowUnion(context: Comparison, pair: Pair): SubsetProblem[] {
  const { narrow, wide } = pair;
  const keyword = has(objectOf(narrow), 'anyOf') ? 'anyOf' : 'oneOf';
  const value = objectOf(narrow)[keyword];
  if (!Array.isArray(value)) return [cannotProve(pair, keyword, 'its value is not an array')];
  const rest = context.without(narrow, [keyword]);
  const branches = value.map((_, index) => childSide(narrow, keyword, index));
  const merged = branches.map((branch) => merge(context, [rest, branch]));
  if (merged.every((side) => side !== undefined)) return merged.flatMap((side) => context.compare(context, side!, wide));
  if (attempt(context, rest, wide).ok) return [];
  return branches.flatMap((branch) => context.compare(context, branch, wide));
}

/** narrow = rest ∧ $ref ∧ allOf[i]: merged when possible, else one conjunct that fits is enough. */
export function splitNarrowConjunction(context: Comparison, pair: Pair): SubsetProblem[] {
  const { narrow, wide } = pair;
  const parts: Side[] = [];
  if (has(objectOf(narrow), '$ref')) {
    const target = resolveOn(context, pair, 'narrow');
    if (isProblem(target)) return [target];
    parts.push(target);
  }
  const branches = objectOf(narrow)['allOf'];
  if (branches !== undefined && !Array.isArray(branches)) return [cannotProve(pair, 'allOf', 'its value is not an array')];
  (branches ?? []).forEach((_: unknown, index: number) => parts.push(childSide(narrow, 'allOf', index)));
  parts.push(context.without(narrow, ['$ref', 'allOf']));
  const merged = merge(context, parts);
  if (merged !== undefined) return context.compare(context, merged, wide);
  if (isEmpty(context, narrow, EMPTINESS_DEPTH)) return [];
  let best: SubsetProblem[] | undefined;
  for (const part of parts.filter(hasAssertions)) {
    const result = attempt(context, part, wide);
    if (result.ok) return [];
    if (context.exhausted) return [];
    if (best === undefined || result.problems.length < best.length) best = result.problems;
  }
  return best ?? [];
}

/** wide = rest ∧ (b1 ∨ b2 ∨ …): the narrow schema must fit the rest, and the union. */
export function splitWideUnion(context: Comparison, pair: Pair): SubsetProblem[] {
  const { narrow, wide } = pair;
  const keyword = has(objectOf(wide), 'anyOf') ? 'anyOf' : 'oneOf';
  const value = objectOf(wide)[keyword];
  if (!Array.isArray(value)) return [cannotProve(pair, keyword, 'its value is not an array')];
  const problems: SubsetProblem[] = [];
  const rest = context.without(wide, [keyword]);
  if (hasAssertions(rest)) problems.push(...context.compare(context, narrow, rest));
  const branches = value.map((_, index) => childSide(wide, keyword, index));
  problems.push(...unionProblems(context, { narrow, wide }, keyword, branches));
  return problems;
}
/**
 * When the narrow schema repeats one branch of the wide union (perhaps with more keywords), compare it
 * with that branch before splitting the narrow schema itself: the split loses the likeness (an unchanged
 * union nested in a union would otherwise be judged branch by branch). Undefined when that does not work.
 */
export function likeBranchProblems(context: Comparison, pair: Pair): SubsetProblem[] | undefined {
  const { narrow, wide } = pair;
  const keyword = has(objectOf(wide), 'anyOf') ? 'anyOf' : 'oneOf';
  const value = objectOf(wide)[keyword];
  if (!Array.isArray(value)) return undefined;
  const branches = value.map((_, index) => childSide(wide, keyword, index));
  for (const [index, branch] of branches.entries()) {
    const like = restrictedLike(context, narrow, branch);
    if (like === undefined || !attempt(context, like, branch).ok) continue;
    const exclusive = keyword === 'anyOf' || branches.every((other, j) => j === index || disjoint(context, branch, other, 2) || disjoint(context, narrow, other, 2));
    if (!exclusive) continue;
    const rest = context.without(wide, [keyword]);
    return hasAssertions(rest) ? context.compare(context, narrow, rest) : [];
  }
  return undefined;
}

function unionProblems(context: Comparison, pair: Pair, keyword: 'anyOf' | 'oneOf', branches: readonly Side[]): SubsetProblem[] {
  const { narrow } = pair;
  let closest: Closest | undefined;
  let overlapping: number | undefined;
  for (const [index, branch] of branches.entries()) {
    const result = attempt(context, narrow, branch);
    if (context.exhausted) return [];
    if (result.ok) {
      const exclusive = keyword === 'anyOf' || branches.every((other, j) =>
        j === index || disjoint(context, branch, other, 2) || disjoint(context, narrow, other, 2));
      if (exclusive) return [];
      overlapping ??= index;
      continue;
    }
    // The closest branch is the one that looks most like the narrow schema; on a tie, the one with fewer problems.
    const candidate = { index, problems: result.problems, resemblance: resemblance(context, narrow, branch) };
    const closer = closest === undefined || candidate.resemblance > closest.resemblance
      || (candidate.resemblance === closest.resemblance && candidate.problems.length < closest.problems.length);
    if (closer) closest = candidate;
  }
  const types = objectOf(narrow)['type'];
  if (Array.isArray(types) && types.length > 1 && overlapping === undefined) {
    return types.flatMap((type) => {
      const single = context.without(narrow, []);
      return unionProblems(context, { narrow: { ...single, schema: { ...objectOf(single), type } }, wide: pair.wide }, keyword, branches);
    });
  }
  return [unionProblem(pair, keyword, closest, overlapping)];
}

interface Closest {
  readonly index: number;
  readonly problems: readonly SubsetProblem[];
  readonly resemblance: number;
}

/** How alike two schemas look: shared keywords, equal values, shared property names. Only to pick a hint. */
function resemblance(context: Comparison, first: Side, second: Side): number {
  const a = objectOf(first);
  const b = objectOf(second);
  let score = 0;
  for (const keyword of Object.keys(a).filter((candidate) => has(b, candidate))) {
    const left = a[keyword];
    const right = b[keyword];
    if (context.memo.equal(left, right)) score += 3;
    else if (isPlainObject(left) && isPlainObject(right)) score += 1 + Object.keys(left).filter((key) => has(right, key)).length;
    else score += 1;
  }
  return score;
}

function unionProblem(pair: Pair, keyword: string, closest: Closest | undefined, overlapping: number | undefined): SubsetProblem {
  if (overlapping !== undefined) {
    const whose = newIsNarrow(pair) ? 'old' : 'new';
    return problemAt(pair, newIsNarrow(pair) ? undefined : keyword,
      `cannot prove compatibility because the ${whose} schema's oneOf requires exactly one branch to match, and branch ${overlapping}, which accepts this data, may overlap another branch`);
  }
  const first = closest?.problems[0];
  const cause = first?.cause ?? first;
  const hint = closest === undefined || cause === undefined ? '' : `; the closest, branch ${closest.index}, fails because ${cause.reason} (at ${cause.pointer || '/'})`;
  const withCause = (problem: SubsetProblem): SubsetProblem => (cause === undefined ? problem : { ...problem, cause });
  if (newIsNarrow(pair)) {
    return withCause(problemAt(pair, undefined, `the new schema accepts data here that no branch of the old schema's ${keyword} accepts${hint}`));
  }
  const at = oldSide(pair).pointer === '' ? '' : ` at ${oldSide(pair).pointer}`;
  return withCause(problemAt(pair, keyword, `no branch of the new schema's ${keyword} accepts all data valid under the old schema${at}${hint}`));
}
/** Both `oneOf`s accept the same instances branch by branch, so the narrow one already satisfies the wide one. */
export function equivalentOneOf(context: Comparison, pair: Pair): boolean {
  const narrowBranches = objectOf(pair.narrow)['oneOf'];
  const wideBranches = objectOf(pair.wide)['oneOf'];
  if (!Array.isArray(narrowBranches) || !Array.isArray(wideBranches) || narrowBranches.length !== wideBranches.length) return false;
  if (context.memo.sameMeaning(narrowBranches, wideBranches)) return true;
  return narrowBranches.every((_, index) => {
    const narrowBranch = childSide(pair.narrow, 'oneOf', index);
    const wideBranch = childSide(pair.wide, 'oneOf', index);
    return attempt(context, narrowBranch, wideBranch).ok && attempt(context, wideBranch, narrowBranch).ok;
  });
}
