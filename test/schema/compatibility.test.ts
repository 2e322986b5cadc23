import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { checkCompatibility, type CompatibilityMode } from '../../src/schema/compatibility.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';

/**
 * The compatibility matrix. Each row is a change from an old schema to a new one, with whether it is
 * BACKWARD compatible (old ⊆ new) and FORWARD compatible (new ⊆ old); FULL is both. Every "no" comes with
 * a witness, an instance that ajv accepts under one schema and rejects under the other, so a row cannot
 * claim an incompatibility that is only the checker being cautious.
 */
interface Row {
  readonly change: string;
  readonly before: JsonSchema;
  readonly after: JsonSchema;
  readonly backward: boolean;
  readonly forward: boolean;
  /** Valid under `before`, invalid under `after`: proves backward incompatibility. */
  readonly oldOnly?: unknown;
  /** Valid under `after`, invalid under `before`: proves forward incompatibility. */
  readonly newOnly?: unknown;
}

const base = { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, required: ['id'] } as const;
const closed = { ...base, additionalProperties: false } as const;
const withProperties = (schema: object, properties: object, extra: object = {}) => ({
  ...schema,
  properties: { ...(schema as { properties: object }).properties, ...properties },
  ...extra,
});
const field = (schema: object) => ({ type: 'object', properties: { value: schema } });
const money = (type: string) => ({
  $defs: { money: { type: 'object', properties: { amount: { type } }, required: ['amount'] } },
  type: 'object',
  properties: { price: { $ref: '#/$defs/money' } },
});
const composed = (parts: readonly object[]) => ({
  $defs: money('number').$defs,
  allOf: [{ type: 'object', properties: { price: { $ref: '#/$defs/money' } } }, ...parts],
});
const tree = (name: string, leaf: object) => ({
  $defs: { [name]: { type: 'object', properties: { value: leaf, children: { type: 'array', items: { $ref: `#/$defs/${name}` } } } } },
  $ref: `#/$defs/${name}`,
});
const shape = (kinds: readonly string[]) => ({
  oneOf: kinds.map((kind) => ({ type: 'object', properties: { kind: { const: kind }, size: { type: 'number' } }, required: ['kind'] })),
});

const rows: readonly Row[] = [
  { change: 'adding an optional field (open model)', before: base, after: withProperties(base, { extra: { type: 'integer' } }), backward: false, forward: true, oldOnly: { id: 'x', extra: 'text' } },
  { change: 'adding an optional field that accepts anything (open model)', before: base, after: withProperties(base, { extra: true }), backward: true, forward: true },
  { change: 'adding an optional field (closed model)', before: closed, after: withProperties(closed, { extra: { type: 'integer' } }), backward: true, forward: false, newOnly: { id: 'x', extra: 1 } },
  { change: 'adding a required field (open model)', before: base, after: withProperties(base, { extra: { type: 'integer' } }, { required: ['id', 'extra'] }), backward: false, forward: true, oldOnly: { id: 'x' } },
  { change: 'adding a required field (closed model)', before: closed, after: withProperties(closed, { extra: { type: 'integer' } }, { required: ['id', 'extra'] }), backward: false, forward: false, oldOnly: { id: 'x' }, newOnly: { id: 'x', extra: 1 } },
  { change: 'removing an optional field (open model)', before: base, after: { ...base, properties: { id: { type: 'string' } } }, backward: true, forward: false, newOnly: { id: 'x', note: 1 } },
  { change: 'removing an optional field (closed model)', before: closed, after: { ...closed, properties: { id: { type: 'string' } } }, backward: false, forward: true, oldOnly: { id: 'x', note: 'n' } },
  { change: 'removing a required field (open model)', before: base, after: { type: 'object', properties: { note: { type: 'string' } } }, backward: true, forward: false, newOnly: {} },
  { change: 'removing a required field (closed model)', before: closed, after: { type: 'object', properties: { note: { type: 'string' } }, additionalProperties: false }, backward: false, forward: false, oldOnly: { id: 'x' }, newOnly: {} },
  { change: 'making a field required', before: base, after: { ...base, required: ['id', 'note'] }, backward: false, forward: true, oldOnly: { id: 'x' } },
  { change: 'making a required field optional', before: base, after: { ...base, required: [] }, backward: true, forward: false, newOnly: {} },
  { change: 'widening integer to number', before: field({ type: 'integer' }), after: field({ type: 'number' }), backward: true, forward: false, newOnly: { value: 1.5 } },
  { change: 'widening string to [string, null]', before: field({ type: 'string' }), after: field({ type: ['string', 'null'] }), backward: true, forward: false, newOnly: { value: null } },
  { change: 'narrowing number to integer', before: field({ type: 'number' }), after: field({ type: 'integer' }), backward: false, forward: true, oldOnly: { value: 1.5 } },
  { change: 'narrowing [number, string] to number', before: field({ type: ['number', 'string'] }), after: field({ type: 'number' }), backward: false, forward: true, oldOnly: { value: 'a' } },
  { change: 'changing a type', before: field({ type: 'string' }), after: field({ type: 'number' }), backward: false, forward: false, oldOnly: { value: 'a' }, newOnly: { value: 1 } },
  { change: 'adding an enum value', before: field({ enum: ['a', 'b'] }), after: field({ enum: ['a', 'b', 'c'] }), backward: true, forward: false, newOnly: { value: 'c' } },
  { change: 'removing an enum value', before: field({ enum: ['a', 'b', 'c'] }), after: field({ enum: ['a', 'b'] }), backward: false, forward: true, oldOnly: { value: 'c' } },
  { change: 'restricting a string to an enum', before: field({ type: 'string' }), after: field({ type: 'string', enum: ['a'] }), backward: false, forward: true, oldOnly: { value: 'b' } },
  { change: 'changing a const', before: field({ const: 1 }), after: field({ const: 2 }), backward: false, forward: false, oldOnly: { value: 1 }, newOnly: { value: 2 } },
  { change: 'tightening maxLength', before: field({ type: 'string', maxLength: 20 }), after: field({ type: 'string', maxLength: 10 }), backward: false, forward: true, oldOnly: { value: 'x'.repeat(15) } },
  { change: 'loosening maxLength', before: field({ type: 'string', maxLength: 10 }), after: field({ type: 'string', maxLength: 20 }), backward: true, forward: false, newOnly: { value: 'x'.repeat(15) } },
  { change: 'raising minimum', before: field({ type: 'number', minimum: 0 }), after: field({ type: 'number', minimum: 1 }), backward: false, forward: true, oldOnly: { value: 0.5 } },
  { change: 'lowering minimum', before: field({ type: 'number', minimum: 1 }), after: field({ type: 'number', minimum: 0 }), backward: true, forward: false, newOnly: { value: 0.5 } },
  { change: 'exclusiveMinimum 0 to minimum 1 on integers', before: field({ type: 'integer', exclusiveMinimum: 0 }), after: field({ type: 'integer', minimum: 1 }), backward: true, forward: true },
  { change: 'multipleOf 2 to multipleOf 4', before: field({ type: 'integer', multipleOf: 2 }), after: field({ type: 'integer', multipleOf: 4 }), backward: false, forward: true, oldOnly: { value: 2 } },
  { change: 'changing a pattern', before: field({ type: 'string', pattern: '^a' }), after: field({ type: 'string', pattern: '^b' }), backward: false, forward: false, oldOnly: { value: 'a' }, newOnly: { value: 'b' } },
  { change: 'adding a pattern', before: field({ type: 'string' }), after: field({ type: 'string', pattern: '^[a-z]+$' }), backward: false, forward: true, oldOnly: { value: '1' } },
  { change: 'adding maxItems', before: field({ type: 'array', items: { type: 'string' } }), after: field({ type: 'array', items: { type: 'string' }, maxItems: 2 }), backward: false, forward: true, oldOnly: { value: ['a', 'b', 'c'] } },
  { change: 'removing minItems', before: field({ type: 'array', minItems: 1 }), after: field({ type: 'array' }), backward: true, forward: false, newOnly: { value: [] } },
  { change: 'adding uniqueItems', before: field({ type: 'array' }), after: field({ type: 'array', uniqueItems: true }), backward: false, forward: true, oldOnly: { value: [1, 1] } },
  { change: 'widening items', before: field({ type: 'array', items: { type: 'string' } }), after: field({ type: 'array', items: { type: ['string', 'number'] } }), backward: true, forward: false, newOnly: { value: [1] } },
  { change: 'closing a tuple with items: false', before: field({ type: 'array', prefixItems: [{ type: 'string' }] }), after: field({ type: 'array', prefixItems: [{ type: 'string' }], items: false }), backward: false, forward: true, oldOnly: { value: ['a', 1] } },
  { change: 'removing an items schema', before: field({ type: 'array', items: { type: 'string' } }), after: field({ type: 'array' }), backward: true, forward: false, newOnly: { value: [1] } },
  { change: 'changing a patternProperties schema', before: { type: 'object', patternProperties: { '^x-': { type: 'string' } } }, after: { type: 'object', patternProperties: { '^x-': { type: 'number' } } }, backward: false, forward: false, oldOnly: { 'x-a': 'a' }, newOnly: { 'x-a': 1 } },
  { change: 'adding patternProperties (open model)', before: { type: 'object' }, after: { type: 'object', patternProperties: { '^x-': { type: 'string' } } }, backward: false, forward: true, oldOnly: { 'x-a': 1 } },
  { change: 'adding an anyOf branch', before: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }), after: field({ anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] }), backward: true, forward: false, newOnly: { value: null } },
  { change: 'removing an anyOf branch', before: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }), after: field({ anyOf: [{ type: 'string' }] }), backward: false, forward: true, oldOnly: { value: 1 } },
  { change: 'type array to an equivalent anyOf', before: field({ type: ['string', 'null'] }), after: field({ anyOf: [{ type: 'string' }, { type: 'null' }] }), backward: true, forward: true },
  { change: 'adding a oneOf branch with its own discriminator', before: shape(['circle', 'square']), after: shape(['circle', 'square', 'star']), backward: true, forward: false, newOnly: { kind: 'star' } },
  { change: 'widening a $ref\'d definition', before: money('integer'), after: money('number'), backward: true, forward: false, newOnly: { price: { amount: 1.5 } } },
  { change: 'narrowing a $ref\'d definition', before: money('number'), after: money('integer'), backward: false, forward: true, oldOnly: { price: { amount: 1.5 } } },
  { change: 'inlining a $ref\'d definition', before: money('number'), after: { type: 'object', properties: { price: money('number').$defs.money } }, backward: true, forward: true },
  { change: 'renaming a recursive definition', before: tree('node', { type: 'string' }), after: tree('tree', { type: 'string' }), backward: true, forward: true },
  { change: 'widening the leaf of a recursive definition', before: tree('node', { type: 'string' }), after: tree('node', { type: ['string', 'number'] }), backward: true, forward: false, newOnly: { children: [{ value: 1 }] } },
  { change: 'dropping an allOf part', before: composed([{ required: ['price'] }]), after: composed([]), backward: true, forward: false, newOnly: {} },
  { change: 'adding an allOf part', before: composed([]), after: composed([{ properties: { price: { required: ['currency'] } } }]), backward: false, forward: true, oldOnly: { price: { amount: 1 } } },
  { change: 'changing only annotations', before: { ...base, title: 'A', description: 'old' }, after: { ...base, title: 'B', examples: [{ id: 'x' }], $comment: 'new' }, backward: true, forward: true },
  { change: 'true to false', before: true, after: false, backward: false, forward: true, oldOnly: 1 },
  { change: 'false to true', before: false, after: true, backward: true, forward: false, newOnly: 1 },
  { change: 'true to the empty schema', before: true, after: {}, backward: true, forward: true },
  { change: 'a schema to false', before: base, after: false, backward: false, forward: true, oldOnly: { id: 'x' } },
  { change: 'a property to false', before: base, after: withProperties(base, { note: false }), backward: false, forward: true, oldOnly: { id: 'x', note: 'n' } },
];

const MODES: readonly CompatibilityMode[] = ['BACKWARD', 'FORWARD', 'FULL'];

function expected(row: Row, mode: CompatibilityMode): boolean {
  if (mode === 'BACKWARD') return row.backward;
  if (mode === 'FORWARD') return row.forward;
  return row.backward && row.forward;
}

const matrix = rows.flatMap((row) => MODES.map((mode) => ({ ...row, mode, compatible: expected(row, mode) })));

describe('compatibility matrix', () => {
  it.each(matrix)('$change under $mode: compatible = $compatible', ({ before, after, mode, compatible }) => {
    const report = checkCompatibility(mode, after, [{ version: 1, schema: before }]);
    expect(report.mode).toBe(mode);
    expect(report.compatible, JSON.stringify(report.problems, null, 2)).toBe(compatible);
    if (!compatible) expect(report.problems.length).toBeGreaterThan(0);
    for (const problem of report.problems) {
      expect(problem.version).toBe(1);
      expect(mode === 'FULL' || problem.direction === mode.toLowerCase()).toBe(true);
      expect(problem.reason.length).toBeGreaterThan(10);
    }
  });
});

describe('the matrix itself', () => {
  // As the registry compiles them: unknown keywords are errors, union types and open tuples are allowed.
  const compile = (schema: JsonSchema) => new Ajv2020({ strict: false, strictSchema: true, allowUnionTypes: true }).compile(schema);

  it.each(rows)('$change: both schemas compile under ajv, and each incompatibility has a witness', (row) => {
    const validateBefore = compile(row.before);
    const validateAfter = compile(row.after);
    if (!row.backward) {
      expect(row.oldOnly, 'a backward incompatibility needs a witness').toBeDefined();
      expect(validateBefore(row.oldOnly)).toBe(true);
      expect(validateAfter(row.oldOnly)).toBe(false);
    }
    if (!row.forward) {
      expect(row.newOnly, 'a forward incompatibility needs a witness').toBeDefined();
      expect(validateAfter(row.newOnly)).toBe(true);
      expect(validateBefore(row.newOnly)).toBe(false);
    }
  });
});
