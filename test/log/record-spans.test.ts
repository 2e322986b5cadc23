/**
 * RecordSpans reads a records section in place: it must see what decodeRecordSection sees, record
 * for record, and throw SEALBUS_ERR_BATCH_INVALID (never read past a record) on a forged section.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSealbusError } from '../../src/errors/index.js';
import { DEFAULT_RECORD_LIMITS, decodeRecordSection, encodeRecords, validateRecords, type RecordInput } from '../../src/log/record-batch.js';
import { RecordSpans } from '../../src/log/record-spans.js';
import { codeOfThrow } from '../helpers/error-code.js';

const bytes = fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), { nil: null });
const header = fc.record({ name: fc.constantFrom('sealbus-schema', 'sealbus-key-schema', 'trace', 'sealbus-schemaX'), value: bytes });
const record: fc.Arbitrary<RecordInput> = fc.record({ key: bytes, value: bytes, headers: fc.array(header, { maxLength: 4 }) });

function walk(records: RecordSpans, names: readonly string[]) {
  const seen = [];
  while (records.next()) {
    const found = names.map((name) => {
      const at = records.header(Buffer.from(name));
      return at < 0 ? null : records.bytes.subarray(at, records.headerEnd);
    });
    seen.push({ index: records.index, key: records.key(), value: records.value(), found });
  }
  return seen;
}

describe('RecordSpans', () => {
  it("finds each record's key, value and first header of a name as decodeRecordSection does", () => {
    const names = ['sealbus-schema', 'sealbus-key-schema', 'absent'];
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), (inputs) => {
        const section = encodeRecords(inputs);
        const expected = decodeRecordSection(section).map((decoded, index) => ({
          index,
          key: decoded.key,
          value: decoded.value,
          // The first header of the name; a null value reads as absent.
          found: names.map((name) => decoded.headers.find((h) => h.name === name)?.value ?? null),
        }));
        expect(walk(new RecordSpans(section), names)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('tells a header without a value (-2) from no header (-1)', () => {
    const spans = new RecordSpans(encodeRecords([{ value: null, headers: [{ name: 'trace', value: Buffer.from('x') }, { name: 'sealbus-envelope', value: null }] }]));
    expect(spans.next()).toBe(true);
    expect(spans.header(Buffer.from('sealbus-envelope'))).toBe(-2);
    expect(spans.header(Buffer.from('absent'))).toBe(-1);
    expect(spans.bytes.toString('utf8', spans.header(Buffer.from('trace')), spans.headerEnd)).toBe('x');
    expect(spans.next()).toBe(false);
  });

  it('throws SEALBUS_ERR_BATCH_INVALID on a cut, overlong or padded section, and on a forged count', () => {
    const section = encodeRecords([{ key: null, value: Buffer.from('{"a":1}'), headers: [{ name: 'sealbus-schema', value: Buffer.from('7') }] }, { value: Buffer.from('x') }]);
    const forged = [
      { count: 2, bytes: section.bytes.subarray(0, section.bytes.length - 1) },
      { count: 3, bytes: section.bytes },
      { count: 1, bytes: section.bytes },
      { count: 1_000_000, bytes: section.bytes },
      { count: 2, bytes: Buffer.concat([section.bytes, Buffer.from([0])]) },
    ];
    for (const bad of forged) {
      const code = codeOfThrow(() => walk(new RecordSpans(bad), ['sealbus-schema']));
      expect(code, `count ${bad.count}, ${bad.bytes.length} bytes`).toBe('SEALBUS_ERR_BATCH_INVALID');
    }
    // A value length that points past its record.
    const lying = Buffer.from(section.bytes);
    lying.writeInt32LE(1000, 4 + 1 + 4);
    expect(codeOfThrow(() => walk(new RecordSpans({ count: 2, bytes: lying }), []))).toBe('SEALBUS_ERR_BATCH_INVALID');
  });
});

/** The message a section is refused with (SEALBUS_ERR_BATCH_INVALID only), or 'accepted'. */
function refusal(work: () => unknown): string {
  try {
    work();
    return 'accepted';
  } catch (err) {
    if (!isSealbusError(err) || err.code !== 'SEALBUS_ERR_BATCH_INVALID') throw err;
    return err.message;
  }
}

describe('header names and values, as validateRecords and RecordSpans check them', () => {
  const section = (name: Buffer) => {
    // Encoded with a placeholder name of the same length, then the name's bytes put in its place.
    const encoded = encodeRecords([{ value: Buffer.from('v'), headers: [{ name: 'trace', value: Buffer.from('x') }, { name: 'n'.repeat(name.length), value: Buffer.from('y') }] }]);
    const at = encoded.bytes.indexOf('n'.repeat(name.length));
    name.copy(encoded.bytes, at);
    return encoded;
  };

  it('takes a name of multibyte UTF-8, and refuses one that is not UTF-8, naming the header', () => {
    expect(refusal(() => validateRecords(section(Buffer.from('trace-é-✓')), DEFAULT_RECORD_LIMITS))).toBe('accepted');
    // An ASCII start, then a lone continuation byte; then a cut sequence at the very end.
    expect(refusal(() => validateRecords(section(Buffer.from([0x61, 0x62, 0x80, 0x63])), DEFAULT_RECORD_LIMITS))).toBe('Malformed record batch: record 0 header 1 name is not valid UTF-8');
    expect(refusal(() => validateRecords(section(Buffer.from([0x61, 0x62, 0xc3])), DEFAULT_RECORD_LIMITS))).toBe('Malformed record batch: record 0 header 1 name is not valid UTF-8');
  });

  it('names the header whose value length lies', () => {
    const encoded = section(Buffer.from('trace2'));
    const lying = Buffer.from(encoded.bytes);
    // The second header's value length: just before its one byte, the last of the record.
    lying.writeInt32LE(1000, lying.length - 1 - 4);
    const forged = { count: 1, bytes: lying };
    expect(refusal(() => validateRecords(forged, DEFAULT_RECORD_LIMITS))).toBe('Malformed record batch: record 0 header 1 value length 1000 is out of bounds');
    expect(refusal(() => walk(new RecordSpans(forged), ['trace2']))).toBe('Malformed record batch: record 0 header 1 value length 1000 is out of bounds');
    expect(refusal(() => validateRecords(section(Buffer.from('trace2')), DEFAULT_RECORD_LIMITS))).toBe('accepted');
  });
});
