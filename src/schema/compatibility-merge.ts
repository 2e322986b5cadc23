/**
 * Conjunctions as one schema. `merge` turns parts that constrain different things into a single schema
 * object equivalent to their conjunction; `restrictedLike` drops keywords to make a (wider) schema that
 * looks like another. Both keep keyword groups whose meanings depend on each other together.
 */
import { has, hasAssertions, isIgnorable, objectOf, type Comparison, type Side } from './compatibility-context.js';
import { isPlainObject } from './compatibility-json.js';
import { declaredTypes, intersectTypes } from './compatibility-types.js';

/** Keywords whose meaning depends on each other: a merge must not take them from different parts. */
export const KEYWORD_GROUPS: readonly (readonly string[])[] = [
  ['properties', 'patternProperties', 'additionalProperties'],
  ['prefixItems', 'items'],
  ['contains', 'minContains', 'maxContains'],
  ['if', 'then', 'else'],
];
export const UNMERGEABLE = new Set(['unevaluatedProperties', 'unevaluatedItems', '$dynamicRef']);
const MAX_MERGES = 8;

/** One schema equivalent to the conjunction of the parts (all from one document), or undefined if none is simple. */
export function merge(context: Comparison, parts: readonly Side[]): Side | undefined {
  const forbidding = parts.find((part) => part.schema === false);
  if (forbidding !== undefined) return forbidding;
  const assertive = parts.filter(hasAssertions);
  if (assertive.length <= 1) return assertive[0] ?? parts[0];
  if (assertive.some((part) => part.merges >= MAX_MERGES || !isPlainObject(part.schema))) return undefined;
  const merged: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const owners = new Map<string, Side>();
  for (const part of assertive) {
    for (const [keyword, value] of Object.entries(objectOf(part))) {
      if (isIgnorable(keyword, part)) continue;
      if (keyword === '$id' || UNMERGEABLE.has(keyword)) return undefined;
      if (keyword === 'type' && has(merged, 'type')) {
        const before = declaredTypes({ type: merged['type'] });
        const after = declaredTypes({ type: value });
        if (before === undefined || after === undefined) return undefined;
        merged['type'] = intersectTypes(before, after);
        continue;
      }
      if (keyword === 'required' && Array.isArray(value) && Array.isArray(merged['required'])) {
        merged['required'] = [...new Set([...merged['required'], ...value])];
        continue;
      }
      if (has(merged, keyword)) return undefined;
      merged[keyword] = value;
      origins.set(keyword, part.origins?.get(keyword) ?? part.pointer);
      owners.set(keyword, part);
    }
  }
  for (const group of KEYWORD_GROUPS) {
    if (new Set(group.filter((keyword) => owners.has(keyword)).map((keyword) => owners.get(keyword))).size > 1) return undefined;
  }
  const first = assertive[0]!;
  const merges = Math.max(...assertive.map((part) => part.merges)) + 1;
  return { schema: merged, document: first.document, pointer: first.pointer, key: context.syntheticKey(), origins, merges };
}

/**
 * The narrow schema restricted to the keywords of `branch`, when it has each of them written the same way
 * (taking keyword groups whole): a wider schema than the narrow one that looks like the branch.
 */
export function restrictedLike(context: Comparison, narrow: Side, branch: Side): Side | undefined {
  if (!isPlainObject(branch.schema) || !isPlainObject(narrow.schema)) return context.memo.equal(branch.schema, narrow.schema) ? narrow : undefined;
  const narrowObject = narrow.schema;
  const keywords = Object.keys(branch.schema).filter((keyword) => !isIgnorable(keyword, branch));
  if (keywords.some((keyword) => UNMERGEABLE.has(keyword) || keyword === '$id' || !has(narrowObject, keyword) || !context.memo.equal(narrowObject[keyword], objectOf(branch)[keyword]))) return undefined;
  for (const group of KEYWORD_GROUPS) {
    if (group.some((keyword) => keywords.includes(keyword)) && group.some((keyword) => has(narrowObject, keyword) !== keywords.includes(keyword))) return undefined;
  }
  if (Object.keys(narrowObject).some((keyword) => UNMERGEABLE.has(keyword))) return undefined;
  return context.without(narrow, Object.keys(narrowObject).filter((keyword) => !keywords.includes(keyword)));
}
