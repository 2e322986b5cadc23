import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCompatibility, subsetProblems } from '../../src/schema/compatibility.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';

/**
 * Properties of the checker against ajv, the validator the registry runs: a schema is compatible with
 * itself, and whenever the checker proves old ⊆ new, no instance that ajv accepts under the old schema
 * is rejected under the new one.
 */
type Schema = JsonSchema;

const NAMES = ['a', 'b', 'c'] as const;
const STRINGS = ['', 'a', 'b', 'ab', 'ba', 'aaa', 'abcdef'];
const NUMBERS = [-2, -1, -0.5, 0, 0.5, 1, 2, 3, 10];
const SCALARS: readonly unknown[] = [null, true, false, ...NUMBERS, ...STRINGS];
const REF = { $ref: '#/$defs/shared' };

const scalarType = fc.constantFrom('null', 'boolean', 'integer', 'number', 'string');
const small = fc.integer({ min: 0, max: 4 });
const bound = fc.constantFrom(...NUMBERS);

function optional<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(arbitrary, { nil: undefined });
}

/** Drops the keys whose value is undefined, so every schema is plain JSON. */
function defined(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

const { schema } = fc.letrec<{ schema: Schema; leaf: Schema; compound: Schema }>((tie) => ({
  schema: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('compound')),
  leaf: fc.oneof(
    fc.boolean(),
    fc.constant(REF),
    scalarType.map((type) => ({ type })),
    fc.uniqueArray(scalarType, { minLength: 1, maxLength: 3 }).map((type) => ({ type })),
    fc.record({ type: fc.constant('string'), minLength: optional(small), maxLength: optional(small), pattern: optional(fc.constantFrom('^a', '^b', '^[ab]*$')) }).map(defined),
    fc.record({
      type: fc.constantFrom('integer', 'number'),
      minimum: optional(bound),
      maximum: optional(bound),
      exclusiveMinimum: optional(bound),
      multipleOf: optional(fc.constantFrom(0.5, 1, 2)),
    }).map(defined),
    fc.subarray([...SCALARS], { minLength: 1, maxLength: 4 }).map((values) => ({ enum: values })),
    fc.constantFrom(...SCALARS).map((value) => ({ const: value })),
  ),
  compound: fc.oneof(
    fc.record({
      type: fc.constant('object'),
      properties: fc.dictionary(fc.constantFrom(...NAMES), tie('schema'), { maxKeys: 3, noNullPrototype: true }),
      required: optional(fc.subarray([...NAMES])),
      additionalProperties: optional(fc.oneof(fc.boolean(), tie('schema'))),
      minProperties: optional(small),
    }).map(defined),
    fc.record({
      patternProperties: optional(fc.dictionary(fc.constantFrom('^a', '^[bc]', 'b$'), tie('schema'), { maxKeys: 2, noNullPrototype: true })),
      additionalProperties: optional(fc.oneof(fc.boolean(), tie('schema'))),
      propertyNames: optional(fc.constantFrom<Schema>({ maxLength: 1 }, { pattern: '^[ab]' }, { enum: ['a', 'b'] })),
      dependentRequired: optional(fc.constantFrom({ a: ['b'] }, { b: ['a', 'c'] })),
      maxProperties: optional(small),
    }).map(defined),
    fc.record({
      type: fc.constant('array'),
      contains: tie('schema'),
      minContains: optional(small),
      maxContains: optional(small),
    }).map(defined),
    fc.record({ if: tie('schema'), then: optional(tie('schema')), else: optional(tie('schema')) }).map(defined),
    fc.record({
      type: fc.constant('array'),
      items: optional(tie('schema')),
      prefixItems: optional(fc.array(tie('schema'), { minLength: 1, maxLength: 2 })),
      minItems: optional(small),
      maxItems: optional(small),
      uniqueItems: optional(fc.boolean()),
    }).map(defined),
    fc.array(tie('schema'), { minLength: 1, maxLength: 3 }).map((branches) => ({ anyOf: branches })),
    fc.array(tie('schema'), { minLength: 1, maxLength: 3 }).map((branches) => ({ oneOf: branches })),
    fc.array(tie('schema'), { minLength: 1, maxLength: 2 }).map((branches) => ({ allOf: branches })),
    tie('schema').map((negated) => ({ not: negated })),
  ),
}));

/** What `#/$defs/shared` holds: plain, or a recursive list (guarded by `properties`). */
const shared: fc.Arbitrary<Schema> = fc.oneof(
  fc.constantFrom<Schema>({ type: 'string' }, { type: 'integer', minimum: 0 }, { enum: ['a', 'b'] }, true),
  fc.constantFrom<Schema>({ type: 'object', properties: { a: { type: 'integer' }, b: { $ref: '#/$defs/shared' } } }),
);

function rooted(body: Schema, definition: Schema): Schema {
  const $defs = { shared: definition };
  return typeof body === 'boolean' ? { $defs, allOf: [body] } : { ...body, $defs };
}

/** Replaces the `index`-th subschema (in a depth-first walk) by `replacement`. */
function replaceAt(root: Schema, index: number, replacement: Schema): Schema {
  let counter = 0;
  const walk = (node: Schema): Schema => {
    if (counter++ === index) return replacement;
    if (typeof node === 'boolean') return node;
    const copy: Record<string, unknown> = { ...node };
    for (const keyword of ['not', 'items', 'additionalProperties']) {
      if (typeof copy[keyword] === 'object' || typeof copy[keyword] === 'boolean') copy[keyword] = walk(copy[keyword] as Schema);
    }
    for (const keyword of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) {
      if (Array.isArray(copy[keyword])) copy[keyword] = (copy[keyword] as Schema[]).map(walk);
    }
    if (typeof copy['properties'] === 'object') {
      copy['properties'] = Object.fromEntries(Object.entries(copy['properties'] as Record<string, Schema>).map(([name, value]) => [name, walk(value)]));
    }
    return copy;
  };
  return walk(root);
}

/** Pairs (old, new) that are often related: a mutation, a widening, a narrowing, or unrelated. */
const pair: fc.Arbitrary<{ readonly before: Schema; readonly after: Schema }> = fc
  .tuple(schema, schema, fc.nat(), shared, shared, fc.constantFrom('mutate', 'widen', 'narrow', 'unrelated'))
  .map(([first, second, index, definition, otherDefinition, how]) => {
    const before = rooted(first, definition);
    switch (how) {
      case 'mutate':
        return { before, after: rooted(replaceAt(first, index % 12, second), index % 5 === 0 ? otherDefinition : definition) };
      case 'widen':
        return { before, after: rooted({ anyOf: [first, second] }, definition) };
      case 'narrow':
        return { before, after: rooted({ allOf: [first, second] }, definition) };
      default:
        return { before, after: rooted(second, otherDefinition) };
    }
  });

const instance: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(...SCALARS),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...NAMES, 'd', 'ab', 'cb'), tie('value'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).value;

const compile = (candidate: Schema): ValidateFunction | undefined => {
  try {
    return new Ajv2020({ strict: false, strictSchema: true, allowUnionTypes: true }).compile(candidate);
  } catch {
    return undefined;
  }
};

const proven = (before: Schema, after: Schema) => {
  const result = subsetProblems(before, after);
  return result.problems.length === 0 && !result.tooComplex;
};

describe('compatibility properties', () => {
  it('every schema is FULL compatible with itself and with a copy of itself', () => {
    fc.assert(fc.property(schema, shared, (body, definition) => {
      const root = rooted(body, definition);
      expect(checkCompatibility('FULL_TRANSITIVE', root, [{ version: 1, schema: root }, { version: 2, schema: structuredClone(root) }]).problems).toEqual([]);
    }), { numRuns: 300 });
  });

  it('when old ⊆ new is proven, ajv accepts under the new schema every sampled instance it accepts under the old', () => {
    fc.assert(fc.property(pair, fc.array(instance, { minLength: 30, maxLength: 60 }), ({ before, after }, instances) => {
      if (!proven(before, after)) return;
      const validateBefore = compile(before);
      const validateAfter = compile(after);
      fc.pre(validateBefore !== undefined && validateAfter !== undefined);
      for (const value of [...SCALARS, ...instances]) {
        if (validateBefore!(value)) expect(validateAfter!(value), `${JSON.stringify(value)} is valid under the old schema only`).toBe(true);
      }
    }), { numRuns: 250 });
  }, 120_000);

  it('proves a good share of the widenings and narrowings it is given (the soundness check above is not vacuous)', () => {
    const samples = fc.sample(fc.tuple(schema, schema, shared), { numRuns: 200, seed: 20_240_611 });
    const widened = samples.filter(([first, second, definition]) => proven(rooted(first, definition), rooted({ anyOf: [first, second] }, definition)));
    const narrowed = samples.filter(([first, second, definition]) => proven(rooted({ allOf: [first, second] }, definition), rooted(first, definition)));
    expect(widened.length).toBeGreaterThan(samples.length * 0.8);
    expect(narrowed.length).toBeGreaterThan(samples.length * 0.8);
  });
});
