import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RECORD_LIMITS,
  decodeRecordSection,
  decodeRecords,
  encodeBatch,
  encodeRecords,
  validateRecords,
  verifyBatch,
} from '../../src/log/record-batch.js';
import { codeOfThrow } from '../helpers/error-code.js';
import { recordSectionTarget, storedBatchTarget, withFreshCrc } from './records.js';
import { runTarget } from './run-target.js';

describe('fuzz: records sections and stored batches', () => {
  it(recordSectionTarget.name, () =>
    runTarget(recordSectionTarget, ['validateRecords: ok', 'validateRecords: SEALBUS_ERR_BATCH_INVALID', 'validateRecords: SEALBUS_ERR_RECORD_TOO_LARGE']));

  it(storedBatchTarget.name, () => runTarget(storedBatchTarget, ['decodeRecords: ok', 'decodeRecords: SEALBUS_ERR_BATCH_INVALID']));
});

/** One record with a header named `name` whose name bytes are then replaced by `bytes`. */
function sectionWithNameBytes(bytes: number[]): { count: number; bytes: Buffer } {
  const section = encodeRecords([{ value: Buffer.from('v'), headers: [{ name: 'n'.repeat(bytes.length), value: null }] }]);
  Buffer.from(bytes).copy(section.bytes, section.bytes.indexOf('n'.repeat(bytes.length)));
  return section;
}

describe('regressions found by the fuzz run', () => {
  it('validateRecords refuses a header name that is not UTF-8, which two byte strings would decode to alike', () => {
    const [first, second] = [sectionWithNameBytes([0xff, 0x41]), sectionWithNameBytes([0xfe, 0x41])];
    for (const section of [first, second]) expect(codeOfThrow(() => validateRecords(section, DEFAULT_RECORD_LIMITS))).toBe('SEALBUS_ERR_BATCH_INVALID');
    // What the refusal prevents: different stored bytes, one decoded name, and no way back to the bytes.
    expect(decodeRecordSection(first)[0]!.headers[0]!.name).toBe(decodeRecordSection(second)[0]!.headers[0]!.name);
    expect(codeOfThrow(() => validateRecords(sectionWithNameBytes([0xc3, 0xa9]), DEFAULT_RECORD_LIMITS))).toBe('accepted');
  });

  const batch = encodeBatch({ baseOffset: 7, timestamp: 1_700_000_000_000 }, encodeRecords([{ key: Buffer.from('k'), value: Buffer.from('value') }]));

  it('verifyBatch refuses unknown attribute bits, non-zero reserved bytes and a producer id of 2^53 or more, CRC right or not', () => {
    expect(verifyBatch(batch)).toBe(true);
    for (const [at, value] of [[17, 1], [18, 1], [19, 0x80]] as const) {
      const changed = Buffer.from(batch);
      changed[at] = value;
      expect(verifyBatch(withFreshCrc(changed)), `byte ${at}`).toBe(false);
    }
    const producer = Buffer.from(batch);
    producer.writeUInt32LE(0x20_0000, 36); // the high word of producerId: 2^53
    expect(verifyBatch(withFreshCrc(producer))).toBe(false);
  });

  it('decodeRecords refuses a batch whose CRC is right but whose records do not fit it, without reading past it or allocating', () => {
    const lie = (at: number, write: (bytes: Buffer) => void) => {
      const changed = Buffer.from(batch);
      write(changed.subarray(at));
      return withFreshCrc(changed);
    };
    const cases = {
      'record length past the batch': lie(46, (b) => b.writeUInt32LE(0xffff_fff0, 0)),
      'negative key length': lie(51, (b) => b.writeInt32LE(-5, 0)),
      'value length past the record': lie(56, (b) => b.writeInt32LE(100, 0)),
      'four billion records': lie(20, (b) => b.writeUInt32LE(0xffff_ffff, 0)),
      'one record more than written': lie(20, (b) => b.writeUInt32LE(2, 0)),
      'one record fewer than written': lie(20, (b) => b.writeUInt32LE(0, 0)),
    };
    for (const [what, bytes] of Object.entries(cases)) {
      expect(verifyBatch(bytes), what).toBe(true); // a CRC is no MAC: a hostile broker makes it right
      expect(codeOfThrow(() => decodeRecords(bytes)), what).toBe('SEALBUS_ERR_BATCH_INVALID');
    }
    expect(decodeRecords(batch).map((record) => [record.offset, record.value?.toString()])).toEqual([[7, 'value']]);
  });
});
