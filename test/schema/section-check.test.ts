/**
 * checkSection reads a records section as one latin1 string and tries each record's shape where it
 * lies (hasShapeAt). Its verdicts must be those of validateBytes on each record alone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import { compileShape, hasShapeAt, stickyShape } from '../../src/schema/fast-shape.js';
import { KEY_SCHEMA_ID_HEADER, SCHEMA_ID_HEADER, compileValidator, type JsonSchema } from '../../src/schema/index.js';
import { checkSection, type GovernedSubject } from '../../src/schema/section-check.js';
import type { Validator } from '../../src/schema/validator.js';
import { ORDER_SCHEMA, orderOfSize } from '../../bench/fixtures/orders.js';
import { schemaArbitrary, valueNear } from './fast-validator-arbitraries.js';
import { styleArbitrary, write } from './fast-validator-serializer.js';

const OPTIONS = { encrypted: false, firstInvalidOnly: false };

function recordOf(value: Buffer | null, key: Buffer | null = null): RecordInput {
  return {
    key,
    value,
    headers: [
      { name: SCHEMA_ID_HEADER, value: Buffer.from('1') },
      { name: KEY_SCHEMA_ID_HEADER, value: Buffer.from('2') },
    ],
  };
}

/** `validator`, counting in `taken.shaped` the records its shape took where they lay. */
function counted(validator: Validator, taken: { shaped: number }): Validator {
  return {
    validate: (value) => validator.validate(value),
    validateBytes: (bytes) => validator.validateBytes(bytes),
    validateUnshaped: (bytes) => validator.validateUnshaped(bytes),
    shaped: validator.shaped,
    hasShapeAt: (text, start, end) => {
      const shaped = validator.hasShapeAt(text, start, end);
      if (shaped) taken.shaped++;
      return shaped;
    },
  };
}

/** The invalid records' indexes and pointers, as validateBytes finds them one record at a time. */
function oneByOne(records: readonly RecordInput[], validators: ReadonlyMap<number, Validator>, subjects: readonly GovernedSubject[]): [number, string][] {
  const out: [number, string][] = [];
  records.forEach((record, index) => {
    for (const { subject, schemaId } of subjects) {
      const failure = validators.get(schemaId)!.validateBytes(subject === 'value' ? record.value : (record.key ?? null));
      if (failure === null) continue;
      out.push([index, failure.pointer]);
      break;
    }
  });
  return out;
}

function inSection(records: readonly RecordInput[], validators: ReadonlyMap<number, Validator>, subjects: readonly GovernedSubject[]): [number, string][] {
  const verdict = checkSection(encodeRecords(records), subjects, (id) => validators.get(id)!, OPTIONS);
  if (verdict.kind !== 'checked') throw new Error(`unexpected ${verdict.kind}`);
  return verdict.invalid.map((record) => [record.index, record.pointer]);
}

describe('a section read as one string (the shape where each record lies)', () => {
  it('matches a record only when the match ends where the record does', () => {
    const sticky = stickyShape(compileShape({ type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] })!);
    const text = 'xx{"a":1}{"a":2';
    expect(hasShapeAt(sticky, text, 2, 9)).toBe(true);
    // The shape continues past `end`: the record alone would not match.
    expect(hasShapeAt(sticky, 'x{"a":1}', 1, 7)).toBe(false);
    expect(hasShapeAt(sticky, text, 9, text.length)).toBe(false);
    expect(hasShapeAt(sticky, text, 3, 9)).toBe(false);
    // A root number whose range matches a prefix stops short: false, and the other tiers decide.
    const digits = stickyShape(compileShape({ type: 'integer', minimum: 0, maximum: 99 })!);
    expect(hasShapeAt(digits, '42', 0, 2)).toBe(true);
    // In a section, the byte after a record is a length's top byte, below 0x20.
    expect(hasShapeAt(digits, '42\x00', 0, 2)).toBe(true);
    expect(hasShapeAt(digits, '420', 0, 3)).toBe(false);
    // A digit right after it (never so in a section) only ever makes the shape refuse, not take.
    expect(hasShapeAt(digits, '420', 0, 2)).toBe(false);
  });

  it('reads no text for a schema without a shape, and still gives each record its verdict', () => {
    const noShape = compileValidator({ type: 'object', required: ['a'], additionalProperties: false });
    expect(noShape.shaped).toBe(false);
    expect(compileValidator({ type: 'integer' }).shaped).toBe(true);
    const validators = new Map<number, Validator>([[1, noShape]]);
    const subjects: GovernedSubject[] = [{ subject: 'value', schemaId: 1 }];
    const records = [recordOf(Buffer.from('{}')), recordOf(Buffer.from('{"a":1}'))];
    expect(inSection(records, validators, subjects)).toEqual([
      [0, '/a'],
      [1, '/a'],
    ]);
  });

  it('does not take a key cut short whose next bytes, the value length, complete its shape', () => {
    // The value is 125 bytes long: its little-endian length starts with 0x7d, which is `}`.
    const keySchema: JsonSchema = { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] };
    const validators = new Map<number, Validator>([
      [1, compileValidator({ type: 'string' })],
      [2, compileValidator(keySchema)],
    ]);
    const subjects: GovernedSubject[] = [
      { subject: 'value', schemaId: 1 },
      { subject: 'key', schemaId: 2 },
    ];
    const value = Buffer.from(JSON.stringify('v'.repeat(123)));
    expect(value.length).toBe(0x7d);
    const records = [recordOf(value, Buffer.from('{"id":1}')), recordOf(value, Buffer.from('{"id":1'))];
    const section = encodeRecords(records).bytes.toString('latin1');
    expect(section).toContain('{"id":1}');
    expect(section.split('{"id":1}').length - 1).toBe(2); // the cut key reads as whole with the byte after it
    expect(inSection(records, validators, subjects)).toEqual([[1, '/']]);
  });

  it('reads a section larger than its text window a window at a time, records across windows included', () => {
    const taken = { shaped: 0 };
    const validators = new Map<number, Validator>([[1, counted(compileValidator(ORDER_SCHEMA), taken)]]);
    const subjects: GovernedSubject[] = [{ subject: 'value', schemaId: 1 }];
    // 400 orders of 870 bytes (over 5 windows of 64 KiB), every 37th with a quantity of 0.
    const records = Array.from({ length: 400 }, (_, index) => recordOf(index % 37 === 5 ? Buffer.from(orderOfSize(870).toString().replace('"qty":1,', '"qty":0,')) : orderOfSize(870)));
    expect(encodeRecords(records).bytes.length).toBeGreaterThan(5 * 64 * 1024);
    const expected = oneByOne(records, validators, subjects);
    expect(expected.length).toBe(11);
    taken.shaped = 0;
    expect(inSection(records, validators, subjects)).toEqual(expected);
    expect(taken.shaped).toBe(400 - 11);
  });

  it('gives the verdicts of validateBytes record by record, on random schemas and writings', () => {
    const seen = { records: 0, valid: 0, shaped: 0 };
    const cases = schemaArbitrary.chain((schema: JsonSchema) => fc.tuple(fc.constant(schema), fc.array(fc.tuple(valueNear(schema), styleArbitrary, fc.boolean()), { minLength: 1, maxLength: 10 })));
    fc.assert(
      fc.property(cases, ([schema, values]) => {
        const validators = new Map<number, Validator>([
          [1, counted(compileValidator(schema), seen)],
          [2, counted(compileValidator(schema), seen)],
        ]);
        const subjects: GovernedSubject[] = [
          { subject: 'value', schemaId: 1 },
          { subject: 'key', schemaId: 2 },
        ];
        const records = values.map(([value, style, compact], index) => {
          const written = write(value, compact ? { ...style, whitespace: false, escapeRate: 0, integersWithFraction: false, repeatKeys: false, damage: undefined } : style).bytes;
          // Keys alternate between null, the value itself and a copy of the previous value.
          return recordOf(written, index % 3 === 0 ? null : index % 3 === 1 ? written : Buffer.from(written.toString('latin1').slice(0, -1), 'latin1'));
        });
        const expected = oneByOne(records, validators, subjects);
        seen.records += records.length;
        seen.valid += records.length - expected.length;
        expect(inSection(records, validators, subjects), JSON.stringify(schema)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
    expect(seen.valid).toBeGreaterThan(100);
    // A run in which no record was taken where it lay would prove nothing of hasShapeAt.
    expect(seen.shaped).toBeGreaterThan(100);
    expect(seen.records - seen.valid).toBeGreaterThan(100);
  });
});
