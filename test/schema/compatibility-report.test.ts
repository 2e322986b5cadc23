import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import {
  COMPATIBILITY_MODES,
  checkCompatibility,
  subsetProblems,
  type CompatibilityMode,
} from '../../src/schema/compatibility.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';

const v1 = (schema: JsonSchema) => [{ version: 1, schema }];
const field = (schema: object) => ({ type: 'object', properties: { amount: schema } });
const compile = (schema: JsonSchema) => new Ajv2020({ strict: false, strictSchema: true, allowUnionTypes: true }).compile(schema);

describe('what a report says', () => {
  it('names the version, the direction, the pointer into the new schema and the change', () => {
    const report = checkCompatibility('BACKWARD', field({ type: 'number' }), v1(field({ type: ['number', 'string'] })));
    expect(report).toEqual({
      compatible: false,
      mode: 'BACKWARD',
      problems: [{
        version: 1,
        direction: 'backward',
        pointer: '/properties/amount/type',
        reason: 'the new schema narrows type from ["number","string"] to "number": data written with the old schema may have a type the new schema rejects',
      }],
    });
  });

  it('explains why a constrained optional field breaks BACKWARD under an open content model', () => {
    const before = { type: 'object', properties: { id: { type: 'string' } } };
    const after = { type: 'object', properties: { id: { type: 'string' }, currency: { type: 'string', maxLength: 3 } } };
    const [problem, ...others] = checkCompatibility('FULL', after, v1(before)).problems;
    expect(others).toEqual([]);
    expect(problem).toMatchObject({ direction: 'backward', pointer: '/properties/currency' });
    expect(problem!.reason).toContain('adds property "currency"');
    expect(problem!.reason).toContain('additionalProperties is not false');
    expect(problem!.reason).toContain('may already hold "currency"');
    // The witness the reason describes: old data that already had the property, with another value.
    expect(compile(before)({ id: 'x', currency: 'euro' })).toBe(true);
    expect(compile(after)({ id: 'x', currency: 'euro' })).toBe(false);
  });

  it('points into $defs when a referenced definition changed, escaping the pointer', () => {
    const schema = (type: string) => ({
      $defs: { 'a/b~c': { type: 'object', properties: { amount: { type } } } },
      properties: { price: { $ref: '#/$defs/a~1b~0c' } },
    });
    const report = checkCompatibility('FORWARD', schema('number'), v1(schema('integer')));
    expect(report.problems).toEqual([{
      version: 1,
      direction: 'forward',
      pointer: '/$defs/a~1b~0c/properties/amount/type',
      reason: 'the new schema widens type from "integer" to "number": data written with the new schema may have a type the old schema rejects',
    }]);
  });

  it.each([
    ['maxLength', { type: 'string', maxLength: 20 }, { type: 'string', maxLength: 10 }, '/properties/amount/maxLength', 'the new schema lowers maxLength from 20 to 10'],
    ['minimum', { type: 'number' }, { type: 'number', exclusiveMinimum: 0 }, '/properties/amount/exclusiveMinimum', 'the new schema adds exclusiveMinimum 0'],
    ['enum', { enum: ['EUR', 'USD'] }, { enum: ['EUR'] }, '/properties/amount/enum', 'the new schema removes enum value "USD", which data written with the old schema may hold'],
    ['pattern', { type: 'string', pattern: '^[A-Z]{3}$' }, { type: 'string', pattern: '^[A-Z]{3,4}$' }, '/properties/amount/pattern', 'the new schema changes pattern from "^[A-Z]{3}$" to "^[A-Z]{3,4}$"'],
  ])('reports %s with its pointer and reason', (_, before, after, pointer, reason) => {
    expect(checkCompatibility('BACKWARD', field(after), v1(field(before))).problems).toEqual([{ version: 1, direction: 'backward', pointer, reason }]);
  });

  it('says which required property is missing, in both directions', () => {
    const before = { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, required: ['id'] };
    const after = { ...before, required: ['note'] };
    expect(checkCompatibility('FULL', after, v1(before)).problems).toEqual([
      { version: 1, direction: 'backward', pointer: '/required', reason: 'the new schema makes "note" required: data written with the old schema may lack it' },
      { version: 1, direction: 'forward', pointer: '/required', reason: 'the new schema makes "id" optional: data written with it may lack "id", which the old schema requires' },
    ]);
  });

  it('names the old anyOf branch that no new branch covers', () => {
    const report = checkCompatibility('BACKWARD', field({ anyOf: [{ type: 'string' }] }), v1(field({ anyOf: [{ type: 'string' }, { type: 'integer' }] })));
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]!.pointer).toBe('/properties/amount/anyOf');
    expect(report.problems[0]!.reason).toContain('no branch of the new schema\'s anyOf accepts all data valid under the old schema at /properties/amount/anyOf/1');
  });
});

describe('modes', () => {
  it('lists the seven modes', () => {
    expect([...COMPATIBILITY_MODES].sort()).toEqual(['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE']);
  });

  it('NONE accepts anything', () => {
    expect(checkCompatibility('NONE', false, [{ version: 1, schema: true }, { version: 2, schema: { type: 'string' } }])).toEqual({ compatible: true, mode: 'NONE', problems: [] });
  });

  it.each(COMPATIBILITY_MODES)('%s accepts a first version', (mode) => {
    expect(checkCompatibility(mode, { type: 'string' }, []).compatible).toBe(true);
  });

  it('refuses an unknown mode rather than skipping the check', () => {
    expect(() => checkCompatibility('LENIENT' as CompatibilityMode, true, v1(true))).toThrow(TypeError);
  });

  const currencies = (...values: string[]) => ({ type: 'string', enum: values });

  it.each<[CompatibilityMode, boolean]>([
    ['BACKWARD', true],
    ['BACKWARD_TRANSITIVE', false],
    ['FORWARD', true],
    ['FORWARD_TRANSITIVE', true],
    ['FULL', true],
    ['FULL_TRANSITIVE', false],
  ])('%s after a value was dropped two versions ago: compatible = %s', (mode, compatible) => {
    const history = [{ version: 1, schema: currencies('EUR', 'USD', 'GBP') }, { version: 2, schema: currencies('EUR', 'USD') }];
    const report = checkCompatibility(mode, currencies('EUR', 'USD'), history);
    expect(report.compatible).toBe(compatible);
    if (!compatible) {
      expect(report.problems).toEqual([{ version: 1, direction: 'backward', pointer: '/enum', reason: 'the new schema removes enum value "GBP", which data written with the old schema may hold' }]);
    }
  });

  it.each<[CompatibilityMode, boolean]>([
    ['FORWARD', true],
    ['FORWARD_TRANSITIVE', false],
    ['BACKWARD_TRANSITIVE', true],
    ['FULL_TRANSITIVE', false],
  ])('%s after a value was added since version 1: compatible = %s', (mode, compatible) => {
    const history = [{ version: 1, schema: currencies('EUR') }, { version: 2, schema: currencies('EUR', 'USD') }];
    const report = checkCompatibility(mode, currencies('EUR', 'USD'), history);
    expect(report.compatible).toBe(compatible);
    if (!compatible) expect(report.problems.map(({ version, direction }) => ({ version, direction }))).toEqual([{ version: 1, direction: 'forward' }]);
  });

  it('FULL_TRANSITIVE reports every version it conflicts with, oldest first', () => {
    const history = [1, 2, 3].map((version) => ({ version, schema: field({ type: 'string', maxLength: version * 10 }) }));
    const report = checkCompatibility('FULL_TRANSITIVE', field({ type: 'string', maxLength: 20 }), history);
    expect(report.problems.map(({ version, direction, pointer }) => ({ version, direction, pointer }))).toEqual([
      { version: 1, direction: 'forward', pointer: '/properties/amount/maxLength' },
      { version: 3, direction: 'backward', pointer: '/properties/amount/maxLength' },
    ]);
  });
});

describe('what cannot be proven is a problem, never a pass', () => {
  it.each<[string, JsonSchema, JsonSchema, RegExp]>([
    ['an unknown keyword that differs', { type: 'number', 'x-unit': 'cents' }, { type: 'number', 'x-unit': 'euros' }, /keyword "x-unit" differs/],
    ['unevaluatedProperties added', { type: 'object' }, { type: 'object', unevaluatedProperties: false }, /keyword "unevaluatedProperties" differs/],
    ['a changed conditional', { if: { minimum: 0 }, then: { multipleOf: 2 } }, { if: { minimum: 0 }, then: { multipleOf: 3 } }, /keyword "if" differs/],
    ['a remote $ref', { type: 'string' }, { $ref: 'https://example.com/money.json' }, /not local to the schema/],
    ['a dangling $ref', { type: 'string' }, { $ref: '#/$defs/missing' }, /does not resolve/],
    ['a nested $id', { properties: { a: { type: 'string' } } }, { properties: { a: { $id: 'https://example.com/a', type: 'string' } } }, /nested \$id/],
  ])('%s', (_, before, after, reason) => {
    const report = checkCompatibility('BACKWARD', after, v1(before));
    expect(report.compatible).toBe(false);
    expect(report.problems.map((problem) => problem.reason).join('\n')).toMatch(reason);
  });

  it('accepts an unknown keyword that is identical on both sides', () => {
    expect(checkCompatibility('FULL', { type: 'number', 'x-unit': 'cents', maximum: 10 }, v1({ type: 'number', 'x-unit': 'cents', maximum: 10, title: 'x' })).compatible).toBe(true);
  });

  it('does not treat an overlapping oneOf as a union', () => {
    const before = { oneOf: [{ type: 'string' }, { minLength: 1 }] };
    const report = checkCompatibility('FORWARD', { type: 'string' }, v1(before));
    expect(report.problems.map((problem) => problem.reason).join('\n')).toContain('oneOf requires exactly one branch');
    expect(compile(before)('a')).toBe(false); // "a" matches both branches
  });

  it('follows $anchor references', () => {
    const schema = (type: string) => ({ $defs: { cents: { $anchor: 'cents', type } }, properties: { amount: { $ref: '#cents' } } });
    expect(checkCompatibility('BACKWARD', schema('number'), v1(schema('integer'))).compatible).toBe(true);
    expect(checkCompatibility('FORWARD', schema('number'), v1(schema('integer'))).problems[0]?.pointer).toBe('/$defs/cents/type');
  });
});

describe('bounded work', () => {
  /** Each level is an anyOf of `width` object branches each leading to the next level: width^depth paths. */
  const fanOut = (depth: number, width: number, leaf: object, recursive = false) => {
    const defs: Record<string, object> = recursive ? {} : { [`n${depth}`]: leaf };
    for (let level = 0; level < depth; level++) {
      const next = recursive ? (level + 1) % depth : level + 1;
      const branches = Array.from({ length: width }, (_, i) => ({ type: 'object', properties: { [`p${i}`]: { $ref: `#/$defs/n${next}` } } }));
      defs[`n${level}`] = { anyOf: recursive ? [...branches, leaf] : branches };
    }
    return { $defs: defs, $ref: '#/$defs/n0' };
  };

  it('gives up on a hostile pair quickly, with a problem instead of an answer', () => {
    const started = performance.now();
    const report = checkCompatibility('FULL', fanOut(8, 6, { type: 'number' }, true), v1(fanOut(8, 6, { type: 'string' }, true)));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(report.compatible).toBe(false);
    expect(report.problems).toEqual([
      { version: 1, direction: 'backward', pointer: '', reason: 'too complex to compare: gave up after 100000 comparisons, so compatibility is not proven' },
      { version: 1, direction: 'forward', pointer: '', reason: 'too complex to compare: gave up after 100000 comparisons, so compatibility is not proven' },
    ]);
  });

  it('compares each pair of definitions once, so a wide fan-out of references stays cheap, and names the leaf that differs', () => {
    const started = performance.now();
    const report = checkCompatibility('BACKWARD', fanOut(14, 6, { type: 'number' }), v1(fanOut(14, 6, { type: 'string' })));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(report.problems.length).toBeGreaterThan(0);
    expect(report.problems.every((problem) => problem.reason.includes('changes type from "string" to "number"') && problem.reason.includes('(at /$defs/n14/type)'))).toBe(true);
  });

  it('takes the comparison budget as an option', () => {
    const small = fanOut(3, 3, { type: 'string' });
    expect(checkCompatibility('FULL', small, v1(structuredClone(small))).compatible).toBe(true);
    const report = checkCompatibility('BACKWARD', fanOut(3, 3, { type: 'number' }), v1(small), { maxComparisons: 20 });
    expect(report.problems).toContainEqual({ version: 1, direction: 'backward', pointer: '', reason: 'too complex to compare: gave up after 20 comparisons, so compatibility is not proven' });
  });

  it('bounds a transitive check as a whole, and says which version it did not reach', () => {
    const schema = field({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } } });
    const history = Array.from({ length: 50 }, (_, index) => ({ version: index + 1, schema: structuredClone(schema) }));
    expect(checkCompatibility('FULL_TRANSITIVE', schema, history).compatible).toBe(true);
    const report = checkCompatibility('FULL_TRANSITIVE', schema, history, { maxTotalComparisons: 40 });
    expect(report.compatible).toBe(false);
    const last = report.problems.at(-1)!;
    expect(last.reason).toBe('too complex to compare: the check ran out of comparisons before reaching this version, so compatibility is not proven');
    expect(last.version).toBeGreaterThan(1);
    expect(last.version).toBeLessThan(50);
  });

  it('survives nesting deeper than the call stack would like', () => {
    const nest = (depth: number, leaf: JsonSchema) => {
      let schema: JsonSchema = leaf;
      for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { a: schema } };
      return schema;
    };
    const report = checkCompatibility('BACKWARD', nest(5_000, { type: 'number' }), v1(nest(5_000, { type: 'string' })));
    expect(report.compatible).toBe(false);
    expect(report.problems[0]!.reason).toMatch(/nest more than \d+ levels/);
    expect(checkCompatibility('FULL', nest(5_000, { type: 'number' }), v1(nest(5_000, { type: 'number' }))).compatible).toBe(true);
  });

  it('assumes a recursive pair holds on a cycle, and still finds a difference inside it', () => {
    const list = (type: string) => ({ $defs: { node: { type: 'object', properties: { value: { type }, next: { $ref: '#/$defs/node' } } } }, $ref: '#/$defs/node' });
    expect(checkCompatibility('FULL', list('string'), v1(list('string'))).compatible).toBe(true);
    const report = checkCompatibility('BACKWARD', list('integer'), v1(list('number')));
    expect(report.problems.map(({ pointer }) => pointer)).toEqual(['/$defs/node/properties/value/type']);
  });
});

describe('subsetProblems', () => {
  it('proves or refuses narrow ⊆ wide, worded from the point of view of the candidate', () => {
    expect(subsetProblems({ type: 'integer' }, { type: 'number' })).toEqual({ problems: [], tooComplex: false, comparisons: expect.any(Number) });
    expect(subsetProblems({ type: 'number' }, { type: 'integer' }).problems).toEqual([{
      pointer: '/type',
      reason: 'the new schema narrows type from "number" to "integer": data written with the old schema may have a type the new schema rejects',
    }]);
    expect(subsetProblems({ type: 'number' }, { type: 'integer' }, { candidate: 'narrow' }).problems[0]?.reason)
      .toBe('the new schema widens type from "integer" to "number": data written with the new schema may have a type the old schema rejects');
  });
});
