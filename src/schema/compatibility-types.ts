/**
 * JSON Schema's `type` as sets. "integer" is a subset of "number"; a schema without `type` allows all.
 */
import { render, type SchemaObject } from './compatibility-json.js';

export type TypeName = 'null' | 'boolean' | 'object' | 'array' | 'number' | 'integer' | 'string';

const TYPE_NAMES: ReadonlySet<string> = new Set(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);
const EVERY_TYPE: readonly TypeName[] = ['null', 'boolean', 'object', 'array', 'number', 'string'];

/** The types a schema allows, or undefined when its `type` is malformed. */
export function declaredTypes(object: SchemaObject): ReadonlySet<TypeName> | undefined {
  if (!Object.hasOwn(object, 'type')) return new Set(EVERY_TYPE);
  const type = object['type'];
  const names = typeof type === 'string' ? [type] : type;
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string' && TYPE_NAMES.has(name))) return undefined;
  return new Set(names as TypeName[]);
}

/** Whether every instance of `type` is allowed by `types`. */
export function allowsType(types: ReadonlySet<TypeName>, type: TypeName): boolean {
  return types.has(type) || (type === 'integer' && types.has('number'));
}

/** Whether `types` allows some instance of `type`. */
export function mayBe(types: ReadonlySet<TypeName>, type: TypeName): boolean {
  if (type === 'number' || type === 'integer') return types.has('number') || types.has('integer');
  return types.has(type);
}

/** The types both sets allow (number ∧ integer is integer). */
export function intersectTypes(first: ReadonlySet<TypeName>, second: ReadonlySet<TypeName>): TypeName[] {
  const both = new Set<TypeName>();
  for (const type of first) {
    if (second.has(type)) both.add(type);
    else if ((type === 'number' && second.has('integer')) || (type === 'integer' && second.has('number'))) both.add('integer');
  }
  return [...both];
}

export function typesOverlap(first: ReadonlySet<TypeName>, second: ReadonlySet<TypeName>): boolean {
  return [...first].some((type) => mayBe(second, type));
}

/** Whether all numbers a schema allows are integers. */
export function integersOnly(types: ReadonlySet<TypeName>): boolean {
  return types.has('integer') && !types.has('number');
}

export function renderType(object: SchemaObject): string {
  return Object.hasOwn(object, 'type') ? render(object['type']) : 'any type';
}

/** "narrows", "widens" or "changes": how the new type set relates to the old one. */
export function typeChangeVerb(oldTypes: ReadonlySet<TypeName>, newTypes: ReadonlySet<TypeName>): string {
  const newWithinOld = [...newTypes].every((type) => allowsType(oldTypes, type));
  const oldWithinNew = [...oldTypes].every((type) => allowsType(newTypes, type));
  if (newWithinOld && !oldWithinNew) return 'narrows';
  if (oldWithinNew && !newWithinOld) return 'widens';
  return 'changes';
}

const FINITE_TYPES: ReadonlySet<string> = new Set(['null', 'boolean']);

/** The values a schema can take when it lists them (`const`, `enum`, or only null/boolean types). */
export function finiteValues(object: SchemaObject): readonly unknown[] | undefined {
  if (Object.hasOwn(object, 'const')) return [object['const']];
  if (Array.isArray(object['enum'])) return object['enum'];
  const type = object['type'];
  const types = typeof type === 'string' ? [type] : type;
  if (!Array.isArray(types) || types.length === 0 || !types.every((name) => FINITE_TYPES.has(name as string))) return undefined;
  return [...new Set(types)].flatMap((name) => (name === 'null' ? [null] : [false, true]));
}
