import { describe, expect, it } from 'vitest';
import { compileFastValidator, type FastResult } from '../../src/schema/fast-validator.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';
import { checker } from './fast-validator-helpers.js';
import { ORDER_SCHEMA } from '../../bench/fixtures/orders.js';

/** Asserts the fast verdict, and that the slow path agrees with it ('fallback': `slow` says what the slow path does). */
function expectVerdict(schema: JsonSchema, input: string | Uint8Array, fast: FastResult, slow?: boolean): void {
  const verdicts = checker(schema).verdicts(input);
  const expectedSlow = slow ?? fast === 'valid';
  expect({ fast: verdicts.fast, slow: verdicts.slow }, typeof input === 'string' ? input.slice(0, 120) : 'bytes').toEqual({ fast, slow: expectedSlow });
}

const ORDER = ORDER_SCHEMA;

describe('compileFastValidator: the supported subset', () => {
  it('compiles the schemas of the subset, annotations and $defs included', () => {
    for (const schema of [
      ORDER,
      true,
      false,
      {},
      { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'urn:x', title: 't', description: 'd', $comment: 'c', examples: [1], default: 1, deprecated: true, readOnly: true, writeOnly: false },
      { type: ['string', 'null'], $defs: { unused: { type: 'string' } } },
      { properties: { a: true, b: false }, additionalProperties: {} },
      { properties: { a: {} }, additionalProperties: { description: 'anything' } },
      { enum: ['a', 1, true, null], const: 'a' },
      { type: 'array', items: false, minItems: 0, maxItems: 3 },
      { type: 'object', minProperties: 1, maxProperties: 3 },
      { type: 'number', minimum: 0, maximum: 1, exclusiveMinimum: -1, exclusiveMaximum: 2 },
    ] as JsonSchema[]) {
      expect(compileFastValidator(schema), JSON.stringify(schema)).not.toBeNull();
    }
  });

  it('leaves every other keyword, and names objects inherit, to ajv (null)', () => {
    for (const schema of [
      { $ref: '#/$defs/a', $defs: { a: {} } },
      { allOf: [{}] },
      { anyOf: [{}] },
      { oneOf: [{}] },
      { not: {} },
      { if: {}, then: {} },
      { type: 'string', format: 'email' },
      { patternProperties: { '^a': {} } },
      { propertyNames: { maxLength: 3 } },
      { uniqueItems: true },
      { multipleOf: 2 },
      { dependentRequired: { a: ['b'] } },
      { dependentSchemas: { a: {} } },
      { prefixItems: [{}] },
      { contains: {} },
      { unevaluatedProperties: false },
      { unevaluatedItems: false },
      { additionalProperties: { type: 'string' } },
      { enum: [{ a: 1 }] },
      { enum: [[1]] },
      { const: { a: 1 } },
      { properties: { toString: { type: 'string' } } },
      { properties: { constructor: {} } },
      { required: ['hasOwnProperty'] },
      { properties: { a: { $id: 'urn:nested' } } },
      { $anchor: 'here' },
      { properties: { a: { type: 'string', format: 'uuid' } } },
      { items: { anyOf: [{}] } },
    ] as JsonSchema[]) {
      expect(compileFastValidator(schema), JSON.stringify(schema)).toBeNull();
    }
  });
});

describe('compileFastValidator: keywords, with the slow path agreeing', () => {
  const order = (overrides: Record<string, unknown>): string =>
    JSON.stringify({ id: 1, customer: 'c', currency: 'EUR', items: [{ sku: 'ABC-1234', qty: 1, price: 0 }], ...overrides });

  it('accepts the bench order, compact and with whitespace of every kind', () => {
    const value = { id: 42, customer: 'customer-00042', currency: 'EUR', note: 'leave at the door', items: [{ sku: 'SKU-1000', qty: 1, price: 16.990000000000002 }] };
    expectVerdict(ORDER, JSON.stringify(value), 'valid');
    expectVerdict(ORDER, ` \t\r\n${JSON.stringify(value, null, '\t')}\r\n `, 'valid');
    expectVerdict(ORDER, JSON.stringify(value, null, 2).replace(/\n/g, '\r\n'), 'valid');
  });

  it('type, single and listed; integer is Number.isInteger of the parsed number', () => {
    expectVerdict({ type: 'string' }, '"a"', 'valid');
    expectVerdict({ type: 'string' }, '1', 'invalid');
    expectVerdict({ type: ['string', 'null'] }, 'null', 'valid');
    expectVerdict({ type: ['string', 'null'] }, 'false', 'invalid');
    expectVerdict({ type: 'boolean' }, 'true', 'valid');
    expectVerdict({ type: 'boolean' }, 'null', 'invalid');
    expectVerdict({ type: 'object' }, '[]', 'invalid');
    expectVerdict({ type: 'array' }, '{}', 'invalid');
    expectVerdict({ type: 'integer' }, '1.0', 'valid');
    expectVerdict({ type: 'integer' }, '-0', 'valid');
    expectVerdict({ type: 'integer' }, '1.5', 'invalid');
    // Rounded by JSON.parse to 1, an integer for ajv.
    expectVerdict({ type: 'integer' }, '1.0000000000000000001', 'valid');
    expectVerdict({ type: 'integer' }, '0.30000000000000004', 'invalid');
    expectVerdict({ type: 'number' }, '0.30000000000000004', 'valid');
    expectVerdict({ type: 'integer' }, '1e2', 'fallback', true);
  });

  it('properties, required and additionalProperties', () => {
    expectVerdict(ORDER, order({}), 'valid');
    expectVerdict(ORDER, order({ id: 'one' }), 'invalid');
    expectVerdict(ORDER, order({ extra: 1 }), 'invalid');
    expectVerdict(ORDER, JSON.stringify({ id: 1, customer: 'c', currency: 'EUR' }), 'invalid');
    expectVerdict({ required: ['a'] }, '{"b": 1}', 'invalid');
    expectVerdict({ required: ['a'] }, '{"b": 1, "a": null}', 'valid');
    expectVerdict({ required: ['a'] }, '[]', 'valid');
    // Named only by required, and additionalProperties false: present is additional, absent is missing.
    expectVerdict({ required: ['a'], additionalProperties: false }, '{"a": 1}', 'invalid');
    expectVerdict({ properties: { a: false } }, '{"a": 1}', 'invalid');
    expectVerdict({ properties: { a: false } }, '{"b": 1}', 'valid');
    expectVerdict({ properties: { 'é€😀': { type: 'integer' } }, additionalProperties: false }, '{"é€😀": 1}', 'valid');
    expectVerdict({ properties: { 'é€😀': { type: 'integer' } }, additionalProperties: false }, '{"é€😀": "1"}', 'invalid');
    expectVerdict({ properties: { 'a"b': { type: 'integer' } }, additionalProperties: false }, '{"a\\"b": 1}', 'valid');
    // An escaped key is the property it spells.
    expectVerdict({ properties: { id: { type: 'integer' } }, additionalProperties: false }, '{"\\u0069d": "x"}', 'invalid');
    expectVerdict({ properties: { id: { type: 'integer' } }, additionalProperties: false }, '{"\\u0069d": 1}', 'valid');
    expectVerdict({ properties: { '__proto__x': { type: 'integer' } } }, '{"__proto__": {}, "__proto__x": 2}', 'valid');
  });

  it('items, minItems and maxItems', () => {
    expectVerdict({ items: { type: 'integer' }, minItems: 1, maxItems: 2 }, '[1, 2]', 'valid');
    expectVerdict({ items: { type: 'integer' }, minItems: 1, maxItems: 2 }, '[]', 'invalid');
    expectVerdict({ items: { type: 'integer' }, minItems: 1, maxItems: 2 }, '[1,2,3]', 'invalid');
    expectVerdict({ items: { type: 'integer' } }, '[1, "2"]', 'invalid');
    expectVerdict({ items: false }, '[]', 'valid');
    expectVerdict({ items: false }, '[0]', 'invalid');
    expectVerdict({ minItems: 5 }, '"not an array"', 'valid');
  });

  it('minLength and maxLength count code points as ajv does, escapes and astral characters included', () => {
    const two = { type: 'string', minLength: 2, maxLength: 2 };
    expectVerdict(two, '"ab"', 'valid');
    expectVerdict(two, '"é€"', 'valid');
    expectVerdict(two, '"😀😀"', 'valid');
    expectVerdict(two, '"😀😀😀"', 'invalid');
    expectVerdict(two, '"a"', 'invalid');
    expectVerdict(two, '"\\ud83d\\ude00x"', 'valid');
    expectVerdict(two, '"\\ud83d\\ude00"', 'invalid');
    // Lone surrogates count one each.
    expectVerdict(two, '"\\ud83d\\ud83d"', 'valid');
    expectVerdict(two, '"\\n\\""', 'valid');
  });

  it('pattern runs ajv RegExp (unicode flag) on the decoded string', () => {
    const sku = { type: 'string', pattern: '^[A-Z]{3}-[0-9]{4}$' };
    expectVerdict(sku, '"SKU-1000"', 'valid');
    expectVerdict(sku, '"SKU-100"', 'invalid');
    expectVerdict(sku, '"SKU\\u002d1000"', 'valid');
    expectVerdict({ type: 'string', pattern: '^.$' }, '"😀"', 'valid');
    expectVerdict({ type: 'string', pattern: '^\\p{Lu}+$' }, '"ÉTÉ"', 'valid');
    expectVerdict({ type: 'string', pattern: '^\\p{Lu}+$' }, '"été"', 'invalid');
    expectVerdict({ pattern: '^a' }, '12', 'valid');
  });

  it('enum and const compare primitives with ===, strings with escapes decoded', () => {
    const currency = { enum: ['EUR', 'USD', null, 2, false] };
    expectVerdict(currency, '"EUR"', 'valid');
    expectVerdict(currency, '"E\\u0055R"', 'valid');
    expectVerdict(currency, '"EURO"', 'invalid');
    expectVerdict(currency, 'null', 'valid');
    expectVerdict(currency, '2.0', 'valid');
    expectVerdict(currency, '2.5', 'invalid');
    expectVerdict(currency, 'false', 'valid');
    expectVerdict(currency, 'true', 'invalid');
    expectVerdict(currency, '{}', 'invalid');
    expectVerdict(currency, '["EUR"]', 'invalid');
    expectVerdict({ const: 0 }, '-0', 'valid');
    expectVerdict({ const: 'é' }, '"é"', 'valid');
    expectVerdict({ const: '\ud800' }, '"\\ud800"', 'valid');
    expectVerdict({ const: '\ud800' }, '"\ufffd"', 'invalid');
    expectVerdict({ enum: ['a', 'b'], const: 'b' }, '"a"', 'invalid');
    expectVerdict({ enum: ['a', 'b'], const: 'b' }, '"b"', 'valid');
  });

  it('minimum, maximum and the exclusive bounds, at and beyond the bound', () => {
    const range = { minimum: 0, maximum: 9.99, exclusiveMinimum: -1, exclusiveMaximum: 10 };
    expectVerdict(range, '0', 'valid');
    expectVerdict(range, '-0.0', 'valid');
    expectVerdict(range, '9.99', 'valid');
    expectVerdict(range, '9.990', 'valid');
    expectVerdict(range, '9.9900000000000001', 'valid');
    expectVerdict(range, '9.991', 'invalid');
    expectVerdict(range, '-0.0000000000000000000000001', 'invalid');
    expectVerdict({ exclusiveMinimum: 0.1 }, '0.1', 'invalid');
    expectVerdict({ exclusiveMinimum: 0.1 }, '0.10000000000000001', 'invalid');
    expectVerdict({ exclusiveMinimum: 0.1 }, '0.10000000000000003', 'valid');
    expectVerdict({ maximum: 16.99 }, '16.990000000000002', 'invalid');
    // Literals whose quick approximation is off in the last bits: near the bound the text decides.
    expectVerdict({ maximum: 9.99 }, '9.9900000000000002131628207280300557613372802734375', 'valid');
    expectVerdict({ maximum: 1 }, '1.000000000000000111022302462515654042363166809082031251', 'invalid');
    expectVerdict({ type: 'integer' }, '1.000000000000000111022302462515654042363166809082031251', 'invalid');
    expectVerdict({ const: 1 }, '1.000000000000000111022302462515654042363166809082031251', 'invalid');
    expectVerdict({ minimum: 1 }, '"strings pass"', 'valid');
  });

  it('a lower bound of 0 or less passes any literal without a minus sign, and only those, unread', () => {
    const price = { type: 'number', minimum: 0 };
    for (const literal of ['0', '0.0', '0.000', '16.990000000000002', '9.99', '123456789012345', `0.${'0'.repeat(400)}1`, `1.${'5'.repeat(320)}`]) {
      expectVerdict(price, literal, 'valid');
    }
    // -0 (however written, or reached by underflow) passes `minimum: 0` in ajv, and is computed.
    for (const literal of ['-0', '-0.0', '-0.0000', `-0.${'0'.repeat(400)}1`]) expectVerdict(price, literal, 'valid');
    for (const literal of ['-0.0001', '-0.0000000000000000000000001', '-16.990000000000002', '-1', `-0.${'0'.repeat(290)}1`]) expectVerdict(price, literal, 'invalid');
    // Exponents and 16-digit integers stay with the slow path, whatever the sign.
    expectVerdict(price, '1e-400', 'fallback', true);
    expectVerdict(price, '-1e-400', 'fallback', true);
    expectVerdict(price, '1e400', 'fallback', false);
    expectVerdict(price, '1000000000000000', 'fallback', true);
    expectVerdict({ minimum: -1 }, '-1', 'valid');
    expectVerdict({ minimum: -1 }, '-1.0000000000000002', 'invalid');
    expectVerdict({ minimum: -1 }, '0.5', 'valid');
    // Not a matter of sign: an exclusive bound of 0, an upper bound, integers only, an enum.
    expectVerdict({ exclusiveMinimum: 0 }, '0', 'invalid');
    expectVerdict({ exclusiveMinimum: 0 }, '-0.0', 'invalid');
    expectVerdict({ exclusiveMinimum: 0 }, '0.0001', 'valid');
    expectVerdict({ minimum: 0, maximum: 10 }, '10.000000000000002', 'invalid');
    expectVerdict({ type: 'integer', minimum: 0 }, '2.5', 'invalid');
    expectVerdict({ minimum: 0, enum: [1, 2] }, '3', 'invalid');
    expectVerdict({ minimum: 0, enum: [1, 2] }, '2', 'valid');
  });

  it('short integers meet the bounds as integers, signed zeros and fractions included', () => {
    const qty = { type: 'integer', minimum: 1 };
    for (const literal of ['1', '16', '999999999', '2.0', '1.000']) expectVerdict(qty, literal, 'valid');
    for (const literal of ['0', '-0', '-1', '-999999999', '0.5', '1.5']) expectVerdict(qty, literal, 'invalid');
    expectVerdict({ type: 'integer', exclusiveMaximum: 0.5 }, '0', 'valid');
    expectVerdict({ type: 'integer', exclusiveMaximum: 0.5 }, '-0', 'valid');
    expectVerdict({ type: 'integer', exclusiveMaximum: 0.5 }, '1', 'invalid');
    expectVerdict({ type: 'integer', exclusiveMinimum: 0 }, '-0', 'invalid');
    expectVerdict({ type: 'integer', exclusiveMinimum: 0 }, '1', 'valid');
    expectVerdict({ type: 'integer', maximum: -0 }, '0', 'valid');
    expectVerdict({ type: 'integer', minimum: 2.5, maximum: 3.5 }, '3', 'valid');
    expectVerdict({ type: 'integer', minimum: 2.5, maximum: 3.5 }, '2', 'invalid');
    expectVerdict({ type: 'integer', minimum: 2.5, maximum: 3.5 }, '4', 'invalid');
    // Bounds beyond 2^53, where the integer bounds round: still on the right side of short integers.
    expectVerdict({ type: 'integer', exclusiveMinimum: 2 ** 60 }, '999999999', 'invalid');
    expectVerdict({ type: 'integer', exclusiveMinimum: -(2 ** 60) }, '-999999999', 'valid');
    expectVerdict({ type: 'integer', exclusiveMaximum: -(2 ** 60) }, '-999999999', 'invalid');
    expectVerdict({ type: 'integer', exclusiveMaximum: 2 ** 60 }, '999999999', 'valid');
    expectVerdict({ type: 'number', minimum: 1 }, '1', 'valid');
    expectVerdict({ type: 'number', minimum: 1 }, '0', 'invalid');
    expectVerdict({ type: 'integer', const: 1 }, '1', 'valid');
    expectVerdict({ type: 'integer', const: 1 }, '2', 'invalid');
    expectVerdict({ type: 'string', minimum: 1 }, '5', 'invalid');
  });

  it('required properties are told by seen bits below 31 and counted beyond', () => {
    const names = Array.from({ length: 40 }, (_, index) => `p${index}`);
    const schema = { type: 'object', properties: Object.fromEntries(names.map((name) => [name, { type: 'integer' }])), required: ['p0', 'p30', 'p31', 'p39'] };
    const all = (skip: string): string => `{${names.filter((name) => name !== skip).map((name) => `"${name}":1`).join(',')}}`;
    expectVerdict(schema, all(''), 'valid');
    for (const missing of ['p0', 'p30', 'p31', 'p39']) expectVerdict(schema, all(missing), 'invalid');
    expectVerdict(schema, all('p1'), 'valid');
    expectVerdict(schema, '{"p0":1,"p30":1,"p31":1,"p39":1}', 'valid');
    expectVerdict(schema, '{"p39":1,"p31":1,"p30":1,"p0":1}', 'valid');
  });

  it('minProperties and maxProperties count distinct keys, as JSON.parse leaves them', () => {
    const two = { minProperties: 2, maxProperties: 2 };
    expectVerdict(two, '{"a":1,"b":2}', 'valid');
    expectVerdict(two, '{"a":1}', 'invalid');
    expectVerdict(two, '{"a":1,"b":2,"c":3}', 'invalid');
    expectVerdict(two, '{"a":1,"a":2}', 'invalid');
    expectVerdict(two, '{"a":1,"a":2,"b":3}', 'valid');
    expectVerdict({ ...two, properties: { a: {} } }, '{"a":1,"b":2,"b":3}', 'valid');
    expectVerdict(two, '{"a":1,"\\u0061":2,"b":3}', 'fallback', true);
    // Unknown keys are compared pairwise only while short: a crafted record buys no quadratic work.
    expectVerdict(two, `{"${'x'.repeat(65)}":1,"${'y'.repeat(65)}":2}`, 'fallback', true);
    expectVerdict(two, `{"${'x'.repeat(64)}":1,"${'y'.repeat(64)}":2}`, 'valid');
  });

  it('finds properties among many, in any order the keys come', () => {
    const names = Array.from({ length: 1000 }, (_, index) => `field${index}`);
    const schema = { type: 'object', additionalProperties: false, properties: Object.fromEntries(names.map((name) => [name, { type: 'integer' }])) };
    const shuffled = [...names].sort((a, b) => (a.length * 7 + a.charCodeAt(a.length - 1)) % 13 - (b.length * 7 + b.charCodeAt(b.length - 1)) % 13);
    expectVerdict(schema, JSON.stringify(Object.fromEntries(shuffled.map((name, index) => [name, index]))), 'valid');
    expectVerdict(schema, JSON.stringify(Object.fromEntries(shuffled.map((name, index) => [name, index === 999 ? 'x' : index]))), 'invalid');
    expectVerdict(schema, JSON.stringify({ field1: 1, field1000: 2 }), 'invalid');
  });

  it('a repeated property the schema names falls back: JSON.parse keeps the last value', () => {
    expectVerdict({ properties: { qty: { minimum: 1 } } }, '{"qty": 0, "qty": 2}', 'fallback', true);
    expectVerdict({ properties: { qty: { minimum: 1 } } }, '{"qty": 2, "qty": 0}', 'fallback', false);
    expectVerdict({ properties: { items: { items: { minimum: 1 } } } }, '{"items": [0], "items": [1]}', 'fallback', true);
    // Repeats of keys the schema does not name change nothing.
    expectVerdict({ properties: { qty: { minimum: 1 } } }, '{"x": 0, "x": 2, "qty": 1}', 'valid');
    expectVerdict({ properties: { qty: { minimum: 1 } }, required: ['qty'] }, '{"a": {"qty": 0, "qty": 1}, "qty": 1}', 'valid');
  });
});
