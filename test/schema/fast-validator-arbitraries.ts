/**
 * Generators for the differential test of the fast path: schemas of its subset, values near a
 * schema (valid ones and near misses), and a serializer that writes them with whitespace, escapes,
 * other number forms and repeated keys, then maybe damages the bytes. Each case says whether it is
 * "plain" (no escape, exponent, repeated key, non-ASCII byte, 16-digit integer or damage): a plain
 * record that the slow path accepts must be 'valid' for the fast path.
 */
import fc from 'fast-check';
import type { JsonSchema } from '../../src/schema/schema-document.js';

type SchemaObject = { readonly [keyword: string]: unknown };

/** A number literal written as is: other forms of a value, and numbers JSON.stringify cannot write. */
export class Literal {
  constructor(readonly text: string) {}
}

/** An object as written: keys in order, repeats allowed. */
export class Entries {
  constructor(readonly entries: readonly (readonly [string, Json])[]) {}
}

export type Json = null | boolean | number | string | Literal | Entries | readonly Json[] | { readonly [key: string]: Json };

/** Patterns with strings that match and strings that do not. */
const PATTERNS: Readonly<Record<string, readonly string[]>> = {
  '^[A-Z]{3}-[0-9]{4}$': ['SKU-1000', 'ABC-0000', 'SKU-100', 'sku-1000', 'SKU-10000', 'ÀBC-1000'],
  '^a': ['a', 'abc', 'ba', ''],
  'b$': ['b', 'ab', 'ba'],
  '^[a-z]*$': ['', 'abc', 'aBc', 'é'],
  '\\d': ['1', 'a1', 'a', '٣'],
  '^.{2,3}$': ['ab', '😀😀', 'abcd', 'a', 'é€', '\ud800\ud800'],
  '^\\p{L}+$': ['abc', 'été', 'a1', ''],
  // Byte matchers (src/schema/fast-pattern.ts): one length, in place; varying counts; a quote in a class.
  '^[a-z0-9-]+$': ['a-1', 'abc', '', 'aB', 'a_b', 'é', 'a-\n'],
  '^[A-Z]{2}\\d{1,3}x?$': ['AB1', 'AB123x', 'AB1234', 'A1', 'ab1', 'AB12xx', 'AB٣'],
  '^["a]{2}$': ['"a', 'aa', 'a', '""', 'a\\', 'é"'],
  '^\\w{3}$': ['a_1', 'ab', 'abcd', 'a-b', 'é12'],
};

const KEYS = ['a', 'b', 'id', 'qty', 'sku', 'é', '😀', 'a"b', 'a\\b', '', 'x y', '\u0001', '__proto__x'];
const BOUNDS = [0, 1, -1, 0.1, 9.99, 16.99, 100, -2.5, 1e-7, 9007199254740991, 2 ** 60];
const LITERALS = [
  ...['1.50', '-0', '-0.0', '2.000', '1E2', '1e-2', '15e-1', '123456789012345678901234567890', '9007199254740993', '-9007199254740992', '0.000000000000000000000000001', '1e400'],
  ...['16.990000000000002', '0.30000000000000004', '1.0000000000000000001'],
  // Signs and zeros for the bounds a literal without a minus sign passes unread (minimum 0 and below).
  ...['0.000', '-0.0000', '-0.0001', '-0.000000000000000000000000001', '-1e-400', '1e-400', '-16.990000000000002'],
  ...[`0.${'0'.repeat(400)}1`, `-0.${'0'.repeat(400)}1`, `-0.${'0'.repeat(290)}1`, `1.${'5'.repeat(320)}`],
  // Short integers at the edges of the integer bounds.
  ...['999999999', '-999999999', '1.000', '-1.0'],
  // Where an approximation of the literal lands on the other side of a bound than JSON.parse does.
  '1.000000000000000111022302462515654042363166809082031251',
  '9.9900000000000002131628207280300557613372802734375',
];

const STRING_UNIT = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'Z', '-', '0', '1', ' ', 'x') },
  { weight: 1, arbitrary: fc.constantFrom('"', '\\', '/', '\n', '\u0000', '\u007f', 'é', '€', '😀', '\ud800', '\udc00', '\u2028', '\ufffd') },
);

const primitive: fc.Arbitrary<null | boolean | number | string> = fc.oneof(
  fc.constantFrom(null, true, false),
  fc.constantFrom(...BOUNDS, 2, -0),
  fc.string({ unit: STRING_UNIT, maxLength: 4 }),
  fc.constantFrom(...Object.values(PATTERNS).flat()),
);

/** JSON with the numbers records hold (fc.jsonValue's doubles nearly all have exponents). */
export const recordJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false),
    fc.oneof(fc.integer({ min: -100_000, max: 100_000 }), fc.constantFrom(0.5, -2.25, 9.99, 16.990000000000002, -0), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
    fc.string({ unit: STRING_UNIT, maxLength: 6 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: STRING_UNIT, maxLength: 4 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Any JSON, now and then nested close to the depth limit. */
const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: recordJson },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.integer({ min: 58, max: 66 }).map((depth) => Array.from({ length: depth }).reduce<Json>((inner) => [inner], 0)) },
);

const maybe = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arbitrary, { nil: undefined, freq: 2 });

function defined(record: Record<string, unknown>): SchemaObject {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

const TYPES = ['string', 'integer', 'number', 'boolean', 'null', 'object', 'array'];

const leafSchema: fc.Arbitrary<JsonSchema> = fc.oneof(
  fc.record({ type: maybe(fc.constant('string')), minLength: maybe(fc.nat(4)), maxLength: maybe(fc.nat(6)), pattern: maybe(fc.constantFrom(...Object.keys(PATTERNS))) }).map(defined),
  fc
    .record({
      type: fc.constantFrom(undefined, 'integer', 'integer', 'number'),
      minimum: maybe(fc.constantFrom(...BOUNDS)),
      maximum: maybe(fc.constantFrom(...BOUNDS)),
      exclusiveMinimum: maybe(fc.constantFrom(...BOUNDS)),
      exclusiveMaximum: maybe(fc.constantFrom(...BOUNDS)),
    })
    .map(defined),
  fc.record({ enum: fc.array(primitive, { minLength: 1, maxLength: 4 }) }),
  fc.record({ const: primitive }),
  fc.record({ type: fc.subarray(TYPES, { minLength: 1 }), minLength: maybe(fc.nat(3)), minimum: maybe(fc.constantFrom(...BOUNDS)) }).map(defined),
  fc.constantFrom<JsonSchema>(true, false, {}, { type: 'boolean' }, { type: 'null' }, { title: 'anything', description: 'at all' }),
);

export const schemaArbitrary: fc.Arbitrary<JsonSchema> = fc.letrec<{ schema: JsonSchema }>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafSchema,
    fc
      .record({
        type: maybe(fc.constant('object')),
        properties: fc.dictionary(fc.constantFrom(...KEYS), tie('schema'), { maxKeys: 4 }),
        required: maybe(fc.subarray(KEYS.slice(0, 6))),
        additionalProperties: fc.constantFrom<unknown>(undefined, false, false, true, {}),
        minProperties: maybe(fc.nat(3)),
        maxProperties: maybe(fc.nat(4)),
      })
      .map(defined),
    fc.record({ type: maybe(fc.constant('array')), items: maybe(tie('schema')), minItems: maybe(fc.nat(2)), maxItems: maybe(fc.nat(4)) }).map(defined),
  ),
})).schema;

/** The exact decimal of numerator * 2^exponent. */
function decimal(numerator: bigint, exponent: number): string {
  if (exponent >= 0) return (numerator << BigInt(exponent)).toString();
  const places = -exponent;
  const digits = (numerator * 5n ** BigInt(places)).toString().padStart(places + 1, '0');
  const fraction = digits.slice(-places).replace(/0+$/, '');
  return fraction === '' ? digits.slice(0, -places) : `${digits.slice(0, -places)}.${fraction}`;
}

/**
 * Literals at and just beyond the midpoints between `bound` and its neighbouring doubles: where
 * rounding decides which side of the bound JSON.parse puts a number.
 */
function nearTies(bound: number): string[] {
  if (bound === 0 || !Number.isFinite(bound)) return [];
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(bound));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const mantissa = (bits & ((1n << 52n) - 1n)) | (biased === 0 ? 0n : 1n << 52n);
  const exponent = (biased === 0 ? -1074 : biased - 1075) - 1;
  const sign = bound < 0 ? '-' : '';
  return [2n * mantissa + 1n, 2n * mantissa - 1n].flatMap((numerator) => {
    const midpoint = decimal(numerator, exponent);
    return midpoint.includes('.') ? [`${sign}${midpoint}`, `${sign}${midpoint}1`] : [];
  });
}

function numberNear(schema: SchemaObject): fc.Arbitrary<Json> {
  const bounds = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].map((keyword) => schema[keyword]).filter((bound): bound is number => typeof bound === 'number');
  const near = bounds.flatMap((bound) => [bound, bound + 1, bound - 1, bound + 0.5, bound * (1 + Number.EPSILON), bound - Number.EPSILON, -bound]);
  const ties = [...bounds, ...(Array.isArray(schema['enum']) ? schema['enum'] : []), schema['const'], 1].flatMap((value) => (typeof value === 'number' ? nearTies(value) : []));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...near, ...BOUNDS, 0, 2) },
    { weight: 2, arbitrary: fc.constantFrom(...ties).map((text) => new Literal(text)) },
    { weight: 2, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom(...LITERALS).map((text) => new Literal(text)) },
  );
}

function stringNear(schema: SchemaObject): fc.Arbitrary<Json> {
  const examples = typeof schema['pattern'] === 'string' ? (PATTERNS[schema['pattern']] ?? ['a']) : ['a'];
  const longest = typeof schema['maxLength'] === 'number' ? schema['maxLength'] + 1 : 6;
  return fc.oneof(fc.constantFrom(...examples), fc.string({ unit: STRING_UNIT, maxLength: longest }));
}

function objectNear(schema: SchemaObject, depth: number): fc.Arbitrary<Json> {
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = (schema['required'] ?? []) as string[];
  const names = [...new Set([...Object.keys(properties), ...required])];
  const entries = names.map((name) =>
    fc.option(
      valueNear(properties[name] ?? true, depth + 1).map((value) => [name, value] as const),
      { nil: null, freq: required.includes(name) ? 12 : 3 },
    ),
  );
  const extras = fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...KEYS, 'extra', 'z'), anyJson), { maxLength: 3 }) });
  return fc.tuple(fc.tuple(...entries), extras, fc.boolean()).map(([known, extra, reversed]) => {
    const all = [...known.filter((entry) => entry !== null), ...extra];
    return new Entries(reversed ? all.reverse() : all);
  });
}

function arrayNear(schema: SchemaObject, depth: number): fc.Arbitrary<Json> {
  const fewest = typeof schema['minItems'] === 'number' ? Math.max(0, schema['minItems'] - 1) : 0;
  const most = typeof schema['maxItems'] === 'number' ? schema['maxItems'] + 1 : 4;
  return fc.array(valueNear((schema['items'] ?? true) as JsonSchema, depth + 1), { minLength: Math.min(fewest, most), maxLength: most });
}

const KEYWORD_TYPES: Readonly<Record<string, string>> = {
  properties: 'object',
  required: 'object',
  additionalProperties: 'object',
  minProperties: 'object',
  maxProperties: 'object',
  items: 'array',
  minItems: 'array',
  maxItems: 'array',
  pattern: 'string',
  minLength: 'string',
  maxLength: 'string',
  minimum: 'number',
  maximum: 'number',
  exclusiveMinimum: 'number',
  exclusiveMaximum: 'number',
};

/** Without `type`, the types the keywords apply to (any other type passes them trivially), else all. */
function likelyTypes(schema: SchemaObject): string[] {
  const implied = [...new Set(Object.keys(schema).flatMap((keyword) => KEYWORD_TYPES[keyword] ?? []))];
  return implied.length === 0 ? TYPES : implied;
}

/** Mostly values of the schema's types and near its bounds, sometimes anything. */
export function valueNear(schema: JsonSchema, depth = 0): fc.Arbitrary<Json> {
  if (typeof schema === 'boolean' || depth > 4) return anyJson;
  const choices: fc.Arbitrary<Json>[] = [];
  if (Array.isArray(schema['enum'])) choices.push(fc.constantFrom(...(schema['enum'] as Json[])));
  if (Object.hasOwn(schema, 'const')) choices.push(fc.constant(schema['const'] as Json));
  const types = schema['type'] === undefined ? likelyTypes(schema) : ([] as string[]).concat(schema['type'] as string);
  for (const type of types) {
    if (type === 'string') choices.push(stringNear(schema));
    else if (type === 'integer' || type === 'number') choices.push(numberNear(schema));
    else if (type === 'object') choices.push(objectNear(schema, depth));
    else if (type === 'array') choices.push(arrayNear(schema, depth));
    else if (type === 'boolean') choices.push(fc.boolean());
    else choices.push(fc.constant(null));
  }
  return fc.oneof({ weight: 9, arbitrary: fc.oneof(...choices) }, { weight: 1, arbitrary: anyJson });
}
