import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../../src/schema/schema-document.js';
import { recordJson, schemaArbitrary, valueNear } from './fast-validator-arbitraries.js';
import { checker, conflict } from './fast-validator-helpers.js';
import { styleArbitrary, write } from './fast-validator-serializer.js';

const RECORDS_PER_SCHEMA = 12;

/** A schema, and records written near it. */
const caseArbitrary = schemaArbitrary.chain((schema: JsonSchema) =>
  fc.tuple(fc.constant(schema), fc.array(fc.tuple(valueNear(schema), styleArbitrary), { minLength: RECORDS_PER_SCHEMA, maxLength: RECORDS_PER_SCHEMA })),
);

describe('compileFastValidator against parseJson + ajv (differential)', () => {
  it('never says valid where the slow path refuses nor invalid where it accepts, says valid on plain accepted records, and leaves validateBytes unchanged', () => {
    const seen = { valid: 0, invalid: 0, fallback: 0, plainAccepted: 0, damaged: 0, unsupported: 0 };
    fc.assert(
      fc.property(caseArbitrary, ([schema, records]) => {
        const check = checker(schema);
        if (!check.supported) seen.unsupported++;
        for (const [value, style] of records) {
          const { bytes, plain } = write(value, style);
          const verdicts = check.verdicts(bytes);
          const context = `${JSON.stringify(schema)} ${JSON.stringify(bytes.toString('latin1'))}`;
          expect(conflict(verdicts), context).toBeNull();
          if (check.supported && plain && verdicts.slow) {
            expect(verdicts.fast, context).toBe('valid');
            seen.plainAccepted++;
          }
          // Whatever the fast path said, validateBytes answers what it answered before it existed.
          expect(check.validator.validateBytes(bytes), context).toEqual(check.slowFailure(bytes));
          seen[verdicts.fast]++;
          if (style.damage !== undefined) seen.damaged++;
        }
      }),
      { numRuns: 200 },
    );
    // A run that never reached a verdict would prove nothing.
    const total = seen.valid + seen.invalid + seen.fallback;
    expect(seen.valid / total).toBeGreaterThan(0.15);
    expect(seen.invalid / total).toBeGreaterThan(0.15);
    expect(seen.fallback).toBeGreaterThan(0);
    expect(seen.plainAccepted).toBeGreaterThan(50);
    expect(seen.damaged).toBeGreaterThan(50);
  });
});

/** Byte sequences the lexer must judge as JSON.parse does, wherever they land. */
const INSERTED = [
  ...[[0x80], [0xc3], [0xc3, 0xa9], [0xed, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xef, 0xbb, 0xbf], [0xf0, 0x9f, 0x98, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xc0, 0xaf]],
  ...[[0x00], [0x0a], [0x09], [0x0c], [0x0b], [0x1f], [0x7f], [0xc2, 0xa0], [0xe2, 0x80, 0xa8]],
  ...['\\x', '\\u12', '\\u00e9', '\\ud800', "\\'", '\\/', '\\', '"', '-', '+', '.', 'e', '0', ',', ':', '[', ']', '{', '}', 'true', 'nul'].map((text) => [...Buffer.from(text)]),
];
/** Bytes after which a digit starts a number (a minus sign included: `-01` is as wrong as `01`). */
const NUMBER_STARTS_AFTER = [...Buffer.from('[,: \t\n\r-')];
/** Trivial, and one that decodes every string (keys through `properties`, values through `items`). */
const LEXER_SCHEMAS: JsonSchema[] = [true, { items: { type: ['string', 'number', 'object', 'array', 'boolean', 'null'], minLength: 0, minimum: -1e308 }, properties: { a: { pattern: '' } } }];

describe('the lexer of compileFastValidator against JSON.parse (differential)', () => {
  it('judges any JSON with a byte sequence inserted anywhere as parseJson does', () => {
    const seen = { valid: 0, invalid: 0, fallback: 0 };
    fc.assert(
      fc.property(recordJson, styleArbitrary, fc.nat(), fc.boolean(), fc.constantFrom(...INSERTED), (written, style, at, beforeDigit, inserted) => {
        const { bytes } = write(written, { ...style, damage: undefined });
        // Half the time just before the first digit of a number, where numbers go wrong (leading zeros, signs, points).
        const digits = [...bytes.keys()].filter((index) => bytes[index]! >= 0x30 && bytes[index]! <= 0x39 && (index === 0 || NUMBER_STARTS_AFTER.includes(bytes[index - 1]!)));
        const position = beforeDigit && digits.length > 0 ? digits[at % digits.length]! : at % (bytes.length + 1);
        const damaged = Buffer.concat([bytes.subarray(0, position), Buffer.from(inserted), bytes.subarray(position)]);
        for (const schema of LEXER_SCHEMAS) {
          const verdicts = checker(schema).verdicts(damaged);
          expect(conflict(verdicts), `${JSON.stringify(schema)} ${JSON.stringify(damaged.toString('latin1'))}`).toBeNull();
          seen[verdicts.fast]++;
        }
      }),
      { numRuns: 1500 },
    );
    expect(seen.valid).toBeGreaterThan(100);
    expect(seen.invalid).toBeGreaterThan(1000);
  });
});
