import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileShape, hasShape } from '../../src/schema/fast-shape.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';
import { compileValidator } from '../../src/schema/validator.js';
import { ORDER_SCHEMA, orderValue } from '../../bench/fixtures/orders.js';
import { schemaArbitrary, valueNear } from './fast-validator-arbitraries.js';
import { checker } from './fast-validator-helpers.js';
import { styleArbitrary, write } from './fast-validator-serializer.js';

const shapeOf = (schema: JsonSchema): RegExp => {
  const shape = compileShape(schema);
  if (shape === null) throw new Error(`no shape for ${JSON.stringify(schema)}`);
  return shape;
};
const matches = (shape: RegExp, text: string): boolean => hasShape(shape, Buffer.from(text, 'utf8'));

describe('the shape of a schema (the RegExp tier of validateBytes)', () => {
  const order = JSON.stringify(orderValue());
  const shape = shapeOf(ORDER_SCHEMA);
  const validator = compileValidator(ORDER_SCHEMA);

  it('takes the compact record most producers write, in the order of the schema', () => {
    expect(matches(shape, order)).toBe(true);
    expect(matches(shape, JSON.stringify({ ...orderValue(0), note: undefined }))).toBe(true);
  });

  it('leaves valid records written otherwise to the other tiers, which accept them', () => {
    const value = orderValue(2);
    const variants = [
      JSON.stringify(value, null, 2),
      JSON.stringify({ customer: value['customer'], id: value['id'], currency: 'EUR', items: value['items'] }),
      JSON.stringify({ ...value, note: 'caf\u00e9' }),
      JSON.stringify({ ...value, note: 'say "hi"' }),
      order.replace('"id":42', '"id":42.0'),
      order.replace('"price":9.99', '"price":999e-2'),
    ];
    for (const text of variants) {
      expect(matches(shape, text), text).toBe(false);
      expect(validator.validateBytes(Buffer.from(text)), text).toBeNull();
    }
  });

  it('never takes an invalid record, whose error the other tiers then name', () => {
    const cases: [string, string][] = [
      [order.replace('"SKU-1003"', '"SKU-103"'), '/items/3/sku'],
      [order.replace('"qty":1,', '"qty":0,'), '/items/0/qty'],
      [order.replace('"currency":"EUR"', '"currency":"CHF"'), '/currency'],
      [order.replace('"id":42,', '"id":42,"extra":1,'), '/extra'],
      [order.replace('"customer":"customer-00042",', ''), '/customer'],
      [order.replace('"price":9.99', '"price":-9.99'), '/items/0/price'],
      [order.replace('"customer":"customer-00042"', `"customer":"${'c'.repeat(65)}"`), '/customer'],
      [order.replace('"items":[', `"items":[${'{"sku":"SKU-0001","qty":1,"price":1},'.repeat(100)}`), '/items'],
    ];
    for (const [text, pointer] of cases) {
      expect(matches(shape, text), text).toBe(false);
      expect(validator.validateBytes(Buffer.from(text))?.pointer, text).toBe(pointer);
    }
    expect(matches(shape, `${order} `)).toBe(false);
    expect(matches(shape, `${order}x`)).toBe(false);
    expect(matches(shape, order.slice(0, -1))).toBe(false);
  });

  it('places commas only between keys, whichever optional ones are present', () => {
    const optional = shapeOf({ type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' }, c: { type: 'integer' } }, required: ['c'] });
    for (const text of ['{"c":1}', '{"a":1,"c":1}', '{"b":1,"c":1}', '{"a":1,"b":2,"c":3}']) expect(matches(optional, text), text).toBe(true);
    for (const text of ['{,"c":1}', '{"a":1"c":1}', '{"a":1,,"c":1}', '{"a":1,"c":1,}', '{}', '{"c":1,"a":1}', '{"a":1,"a":1,"c":1}']) {
      expect(matches(optional, text), text).toBe(false);
    }
    const none = shapeOf({ properties: { a: { type: 'integer' }, b: { type: 'string' } } });
    for (const text of ['{}', '{"a":1}', '{"b":"x"}', '{"a":1,"b":"x"}', '"text"', '[1,"x",null]', '-2.5']) expect(matches(none, text), text).toBe(true);
    for (const text of ['{"b":"x","a":1}', '{,"b":"x"}', '{"a":1,}']) expect(matches(none, text), text).toBe(false);
  });

  it('admits no shape where a required key cannot be there, and none beyond its size limit', () => {
    expect(compileShape({ type: 'object', required: ['a'], additionalProperties: false })).toBeNull();
    expect(compileShape({ type: 'object', properties: { 'a"b': { type: 'integer' } }, required: ['a"b'] })).toBeNull();
    expect(compileShape({ type: 'string', pattern: '^(a|b)$' })).toBeNull();
    expect(compileShape({ not: {} })).toBeNull();
    const huge: JsonSchema = { enum: Array.from({ length: 5000 }, (_, index) => `value-number-${index}-of-the-enum`) };
    expect(compileShape(huge)).toBeNull();
    expect(compileValidator(huge).validateBytes(Buffer.from('"value-number-4999-of-the-enum"'))).toBeNull();
  });

  it('bounds arrays by maxItems and the parser limit, and answers on large records without throwing', () => {
    const list = shapeOf({ type: 'array', items: { type: 'integer' } });
    const items = (count: number): string => `[${Array(count).fill('7').join(',')}]`;
    expect(matches(list, items(100_000))).toBe(true);
    expect(matches(list, items(100_001))).toBe(false);
    expect(matches(list, `${items(50_000).slice(0, -1)},"x"]`)).toBe(false);
    expect(matches(shapeOf({ items: { type: 'integer' }, minItems: 2, maxItems: 3 }), '[1]')).toBe(false);
    expect(matches(shapeOf({ items: { type: 'integer' }, minItems: 2, maxItems: 3 }), '[1,2,3]')).toBe(true);
    expect(matches(shapeOf({ items: { type: 'integer' }, minItems: 2, maxItems: 3 }), '[1,2,3,4]')).toBe(false);
  });
});

describe('the shape against parseJson + ajv (differential)', () => {
  it('takes integers exactly within their bounds', () => {
    const bound = fc.oneof(fc.integer({ min: -2000, max: 2000 }), fc.constantFrom(-1e15, -999_999_999_999_999, 0, 1, 9, 10, 99, 100, 1e15, 2 ** 53), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(bound, bound, fc.boolean(), fc.boolean(), fc.array(fc.oneof(fc.integer({ min: -3000, max: 3000 }), fc.integer()), { minLength: 20, maxLength: 20 }), (low, high, exclusiveLow, exclusiveHigh, values) => {
        const schema: JsonSchema = { type: 'integer', [exclusiveLow ? 'exclusiveMinimum' : 'minimum']: low, [exclusiveHigh ? 'exclusiveMaximum' : 'maximum']: high };
        const shape = compileShape(schema);
        for (const value of values) {
          const within = (exclusiveLow ? value > low : value >= low) && (exclusiveHigh ? value < high : value <= high);
          expect(shape !== null && matches(shape, String(value)), `${JSON.stringify(schema)} ${value}`).toBe(within);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('takes decimals only within their bounds, however they round', () => {
    const bound = fc.oneof(fc.integer({ min: -50, max: 50 }), fc.double({ min: -100, max: 100, noNaN: true }), fc.constantFrom(0, 1, -1, 0.5, 2 ** 53));
    const decimal = fc.oneof(
      fc.tuple(fc.integer({ min: -60, max: 60 }), fc.stringMatching(/^[0-9]{1,17}$/)).map(([whole, fraction]) => `${whole}.${fraction}`),
      fc.constantFrom('-0.5', '0.9999999999999999999', '-0.0', '1.0', '49.999999999999999', '50.000000000000001', '-50.99999999999999999'),
    );
    fc.assert(
      fc.property(bound, bound, fc.boolean(), fc.boolean(), fc.array(decimal, { minLength: 20, maxLength: 20 }), (low, high, exclusiveLow, exclusiveHigh, texts) => {
        const schema: JsonSchema = { type: 'number', [exclusiveLow ? 'exclusiveMinimum' : 'minimum']: low, [exclusiveHigh ? 'exclusiveMaximum' : 'maximum']: high };
        const shape = compileShape(schema);
        const validator = checker(schema);
        for (const text of texts) {
          if (shape !== null && matches(shape, text)) expect(validator.verdicts(text).slow, `${JSON.stringify(schema)} ${text}`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    // Where bounds leave room, decimals between them take the shape.
    const room = shapeOf({ type: 'number', exclusiveMinimum: -10.5, maximum: 20 });
    for (const text of ['-9.75', '-9', '0.5', '18.999', '19', '20']) expect(matches(room, text), text).toBe(true);
    for (const text of ['-11', '21', '20.5', '1e3']) expect(matches(room, text), text).toBe(false);
  });

  it('never takes a record the slow path refuses, and takes many it accepts', () => {
    const seen = { shaped: 0, records: 0, schemas: 0 };
    const cases = schemaArbitrary.chain((schema: JsonSchema) => fc.tuple(fc.constant(schema), fc.array(fc.tuple(valueNear(schema), styleArbitrary), { minLength: 12, maxLength: 12 })));
    fc.assert(
      fc.property(cases, ([schema, records]) => {
        const shape = compileShape(schema);
        if (shape === null) return;
        seen.schemas++;
        const check = checker(schema);
        for (const [value, style] of records) {
          // Half the records compact and unescaped: the writing the shape is for.
          const { bytes } = write(value, seen.records++ % 2 === 0 ? { ...style, whitespace: false, escapeRate: 0, integersWithFraction: false, repeatKeys: false, damage: undefined } : style);
          if (!hasShape(shape, bytes)) continue;
          seen.shaped++;
          expect(check.verdicts(bytes).slow, `${JSON.stringify(schema)} ${JSON.stringify(bytes.toString('latin1'))}`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    // A run in which the shape never matched would prove nothing.
    expect(seen.schemas).toBeGreaterThan(100);
    expect(seen.shaped).toBeGreaterThan(300);
  });
});

describe('the shape of bounded strings (long runs matched in steps)', () => {
  it('takes a string exactly when its length is within the bounds', () => {
    const length = fc.integer({ min: 0, max: 300 });
    fc.assert(
      fc.property(length, length, fc.array(length, { minLength: 12, maxLength: 12 }), fc.boolean(), (low, high, lengths, patterned) => {
        const schema: JsonSchema = patterned ? { type: 'string', pattern: `^[a-z]{${Math.min(low, high)},${Math.max(low, high)}}$` } : { type: 'string', minLength: low, maxLength: high };
        const [min, max] = patterned ? [Math.min(low, high), Math.max(low, high)] : [low, high];
        const shape = compileShape(schema);
        for (const n of [...lengths, min - 1, min, max, max + 1].filter((n) => n >= 0)) {
          const within = n >= min && n <= max;
          expect(shape !== null && matches(shape, `"${'q'.repeat(n)}"`), `${JSON.stringify(schema)} ${n}`).toBe(within);
        }
      }),
      { numRuns: 300 },
    );
  });
});
