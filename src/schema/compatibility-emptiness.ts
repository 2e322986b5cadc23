/**
 * Facts that hold for no instance at all: a schema that accepts nothing, two schemas that share no
 * instance. Both answer true only when sure; false means "not shown".
 */
import { childSide, has, isIgnorable, objectOf, type Comparison, type Side } from './compatibility-context.js';
import { evaluate } from './compatibility-evaluate.js';
import { isPlainObject, type SchemaObject } from './compatibility-json.js';
import { declaredTypes, finiteValues, intersectTypes, typesOverlap } from './compatibility-types.js';

/** Follows `$ref`s that stand alone, a few hops at most. */
export function resolvedPlain(context: Comparison, side: Side): Side {
  let current = side;
  for (let hops = 0; hops < 8; hops++) {
    const object = objectOf(current);
    const reference = object['$ref'];
    if (typeof reference !== 'string' || Object.keys(object).some((keyword) => keyword !== '$ref' && !isIgnorable(keyword, current))) break;
    const target = context.resolve(current, reference);
    if (typeof target === 'string') break;
    current = target;
  }
  return current;
}

/** True only when no instance can be valid under both: disjoint types, values, or a required discriminator. */
export function disjoint(context: Comparison, first: Side, second: Side, depth: number): boolean {
  const a = resolvedPlain(context, first);
  const b = resolvedPlain(context, second);
  if (a.schema === false || b.schema === false) return true;
  if (has(objectOf(a), '$ref') || has(objectOf(b), '$ref')) return false;
  const typesA = declaredTypes(objectOf(a));
  const typesB = declaredTypes(objectOf(b));
  if (typesA !== undefined && typesB !== undefined && !typesOverlap(typesA, typesB)) return true;
  for (const [one, other] of [[a, b], [b, a]] as const) {
    const values = listedValues(one);
    if (values !== undefined && values.every((value) => evaluate(context, value, other) === false)) return true;
  }
  if (depth <= 0) return false;
  const objectsOnly = (types: ReadonlySet<string> | undefined) => types !== undefined && [...types].every((type) => type === 'object');
  if (!objectsOnly(typesA) && !objectsOnly(typesB)) return false;
  const requiredB = new Set(requiredOf(b));
  return requiredOf(a).some((name) => requiredB.has(name)
    && has(propertiesOf(a), name) && has(propertiesOf(b), name)
    && disjoint(context, childSide(a, 'properties', name), childSide(b, 'properties', name), depth - 1));
}

function listedValues(side: Side): readonly unknown[] | undefined {
  const object = objectOf(side);
  if (has(object, 'const')) return [object['const']];
  return Array.isArray(object['enum']) ? object['enum'] : undefined;
}

function requiredOf(side: Side): string[] {
  const required = objectOf(side)['required'];
  return Array.isArray(required) ? required.filter((name): name is string => typeof name === 'string') : [];
}

function propertiesOf(side: Side): SchemaObject {
  const properties = objectOf(side)['properties'];
  return isPlainObject(properties) ? properties : {};
}

export const EMPTINESS_DEPTH = 4;

/**
 * True only when no instance can be valid: `false`, values all rejected, no type left, an `allOf` with an
 * empty part or parts whose types do not meet, a union of empty branches.
 */
export function isEmpty(context: Comparison, side: Side, depth: number): boolean {
  if (side.schema === false) return true;
  if (!isPlainObject(side.schema) || depth <= 0 || !context.tick()) return false;
  const object = side.schema;
  const values = finiteValues(object);
  if (values !== undefined && values.every((value) => evaluate(context, value, side) === false)) return true;
  const parts = (keyword: string) => (Array.isArray(object[keyword]) ? (object[keyword] as unknown[]).map((_, index) => childSide(side, keyword, index)) : []);
  const conjuncts = [side, ...parts('allOf')];
  let types = declaredTypes({});
  for (const conjunct of conjuncts) {
    const declared = declaredTypes(objectOf(resolvedPlain(context, conjunct)));
    if (types !== undefined && declared !== undefined) types = new Set(intersectTypes(types, declared));
  }
  if (types !== undefined && types.size === 0) return true;
  if (parts('allOf').some((part) => isEmpty(context, part, depth - 1))) return true;
  for (const keyword of ['anyOf', 'oneOf']) {
    const branches = parts(keyword);
    if (branches.length > 0 && branches.every((branch) => isEmpty(context, branch, depth - 1))) return true;
  }
  if (typeof object['$ref'] === 'string') {
    const target = context.resolve(side, object['$ref']);
    if (typeof target !== 'string' && isEmpty(context, target, depth - 1)) return true;
  }
  return false;
}
