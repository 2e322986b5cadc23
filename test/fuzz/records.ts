/**
 * Records sections (what a producer sends, validated at the broker) and stored batches (what the
 * log reads back from disk and the SDK receives in RECORDS frames), src/log/record-batch.ts.
 */
import fc from 'fast-check';
import {
  BATCH_HEADER_BYTES,
  DEFAULT_RECORD_LIMITS,
  computeBatchCrc,
  decodeBatchHeader,
  decodeRecordSection,
  decodeRecords,
  encodeBatch,
  encodeRecords,
  validateRecords,
  verifyBatch,
  type LogRecord,
  type RecordInput,
  type RecordLimits,
} from '../../src/log/record-batch.js';
import type { EncodedRecords } from '../../src/log/types.js';
import { ensure, ensureBounded, neverThrows, outcomeOf, timed, type FuzzTarget } from './contract.js';
import { byteMutations, mutateBytes, randomBytes } from './mutate-bytes.js';

const bytesOrNull = (maxLength: number): fc.Arbitrary<Buffer | null> =>
  fc.option(fc.uint8Array({ maxLength }).map((b) => Buffer.from(b)), { nil: null, freq: 4 });

/** Header names of any script, lone surrogates included (they encode as U+FFFD's bytes). */
const headerName = fc.oneof(
  fc.constantFrom('sealbus-envelope', 'sealbus-schema', 'content-type', 'trace', 'x'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  fc.string({ minLength: 1, maxLength: 4 }).map((s) => `${s}\ud800`),
);

export const recordInput: fc.Arbitrary<RecordInput> = fc.record({
  key: bytesOrNull(24),
  value: bytesOrNull(48),
  headers: fc.array(fc.record({ name: headerName, value: bytesOrNull(16) }), { maxLength: 3 }),
});

export const recordInputs = (maxLength = 4): fc.Arbitrary<RecordInput[]> => fc.array(recordInput, { minLength: 1, maxLength });

/** Default limits mostly; tight ones sometimes, so that every limit is reached. */
export const recordLimits: fc.Arbitrary<RecordLimits> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(DEFAULT_RECORD_LIMITS) },
  {
    weight: 1,
    arbitrary: fc.record({
      maxRecordBytes: fc.integer({ min: 0, max: 80 }),
      maxHeadersPerRecord: fc.integer({ min: 0, max: 3 }),
      maxHeaderNameBytes: fc.integer({ min: 1, max: 8 }),
    }),
  },
);

const RECORD_CODES = ['SEALBUS_ERR_BATCH_INVALID', 'SEALBUS_ERR_RECORD_TOO_LARGE'] as const;

/** Re-encoding a decoded record gives back its bytes: what the broker stores is what it checked. */
function reencoded(records: readonly LogRecord[]): Buffer {
  return encodeRecords(records.map((record) => ({ key: record.key, value: record.value, headers: record.headers }))).bytes;
}

/** The fields a record's decoding may not exceed, given the limits it was validated with. */
function checkWithinLimits(records: readonly LogRecord[], limits: RecordLimits): void {
  for (const record of records) {
    ensure(record.headers.length <= limits.maxHeadersPerRecord, `a record with ${record.headers.length} headers passed a limit of ${limits.maxHeadersPerRecord}`);
    for (const header of record.headers) {
      const bytes = Buffer.byteLength(header.name);
      ensure(bytes >= 1 && bytes <= limits.maxHeaderNameBytes, `a header name of ${bytes} bytes passed a limit of ${limits.maxHeaderNameBytes}`);
    }
  }
}

/**
 * What the broker does with a producer's records section: validateRecords, then (accepted)
 * decodeRecordSection. Accepted sections decode to exactly `count` records that re-encode to the
 * same bytes and respect the limits; refused ones throw BATCH_INVALID or RECORD_TOO_LARGE.
 */
export function checkRecordSection(section: EncodedRecords, limits: RecordLimits): LogRecord[] | null {
  const validated = outcomeOf('validateRecords', RECORD_CODES, () => validateRecords(section, limits, 'fuzz'));
  if (!validated.ok) return null;
  const records = neverThrows('decodeRecordSection after validateRecords', () => decodeRecordSection(section));
  ensure(records.length === section.count, `${section.count} records validated, ${records.length} decoded`);
  ensure(reencoded(records).equals(section.bytes), 'an accepted records section does not re-encode to its bytes');
  checkWithinLimits(records, limits);
  ensureBounded(records, section.bytes.length, 4);
  return records;
}

/**
 * What a reader does with a stored batch (disk, or a RECORDS frame at the SDK): verifyBatch, then
 * decodeRecords. Neither of the first two throws; a verified batch decodes, or is refused with
 * BATCH_INVALID (a CRC is no MAC: a hostile broker can make one for any bytes), and what decodes
 * re-encodes to the very same batch.
 */
export function checkStoredBatch(batch: Buffer): LogRecord[] | null {
  const header = neverThrows('decodeBatchHeader', () => decodeBatchHeader(batch));
  ensure((header === null) === (batch.length < BATCH_HEADER_BYTES), 'decodeBatchHeader returns null exactly for a torn header');
  if (!neverThrows('verifyBatch', () => verifyBatch(batch))) return null;
  const decoded = outcomeOf('decodeRecords', ['SEALBUS_ERR_BATCH_INVALID'], () => decodeRecords(batch));
  if (!decoded.ok) return null;
  const h = header!;
  const again = encodeBatch(
    {
      baseOffset: h.baseOffset,
      timestamp: h.timestamp,
      producerId: h.producerId,
      ...(h.producerEpoch !== null && { producerEpoch: h.producerEpoch }),
      ...(h.baseSequence !== null && { baseSequence: h.baseSequence }),
    },
    { count: decoded.value.length, bytes: reencoded(decoded.value) },
  );
  // Stored header names are decoded leniently (validateRecords keeps new ones UTF-8; refusing older
  // data for a name would make it unreadable), so only they may differ after a round trip.
  ensure(again.equals(batch) || hasReplacedName(decoded.value), 'a verified batch does not re-encode to its bytes');
  decoded.value.forEach((record, index) => ensure(record.offset === h.baseOffset + index && record.timestamp === h.timestamp, 'record offsets or timestamps differ from the header'));
  ensureBounded(decoded.value, batch.length, 4);
  return decoded.value;
}

function hasReplacedName(records: readonly LogRecord[]): boolean {
  return records.some((record) => record.headers.some((header) => header.name.includes('\ufffd')));
}

/** Makes a mutated batch's CRC right again, as an attacker (or a hostile broker) would. */
export function withFreshCrc(batch: Buffer): Buffer {
  if (batch.length >= BATCH_HEADER_BYTES) batch.writeUInt32LE(computeBatchCrc(batch), 12);
  return batch;
}

const count = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom(0xffff_ffff, 0x7fff_ffff, 2 ** 31, 1_000_000));

type SectionInput = { readonly kind: 'random' | 'valid' | 'mutated'; readonly section: EncodedRecords; readonly limits: RecordLimits };

const sectionInput: fc.Arbitrary<SectionInput> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), section: fc.record({ count, bytes: randomBytes(160) }), limits: recordLimits }),
  fc.record({ kind: fc.constant('valid' as const), section: recordInputs(6).map(encodeRecords), limits: recordLimits }),
  {
    weight: 4,
    arbitrary: fc
      .record({ records: recordInputs(6), steps: byteMutations(), countDelta: fc.constantFrom(0, 0, 0, 1, -1, 1000, 0xffff_fff0), limits: recordLimits })
      .map(({ records, steps, countDelta, limits }) => {
        const encoded = encodeRecords(records);
        const section = { count: Math.max(0, encoded.count + countDelta), bytes: mutateBytes(encoded.bytes, steps) };
        return { kind: 'mutated' as const, section, limits };
      }),
  },
);

export const recordSectionTarget: FuzzTarget = {
  name: 'records/section',
  covers: 'validateRecords + decodeRecordSection (src/log/record-batch.ts), a producer\'s records at the broker',
  weight: 120,
  quickRuns: 1500,
  async build() {
    return {
      property: fc.property(sectionInput, ({ kind, section, limits }) => {
        const records = timed('records section', () => checkRecordSection(section, limits));
        if (kind === 'valid' && limits === DEFAULT_RECORD_LIMITS) ensure(records !== null, 'a valid records section was refused');
      }),
    };
  },
};

const stamp = fc.record({
  baseOffset: fc.oneof(fc.nat(), fc.constant(2 ** 53 - 100)),
  timestamp: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
  producerId: fc.option(fc.maxSafeNat(), { nil: undefined }),
  producerEpoch: fc.option(fc.integer({ min: 0, max: 0xfffe }), { nil: undefined }),
  baseSequence: fc.option(fc.integer({ min: 0, max: 0x7fff_ffff }), { nil: undefined }),
});

export const validBatch: fc.Arbitrary<Buffer> = fc.tuple(stamp, recordInputs(5)).map(([s, records]) =>
  encodeBatch(
    {
      baseOffset: s.baseOffset,
      timestamp: s.timestamp,
      ...(s.producerId !== undefined && { producerId: s.producerId }),
      ...(s.producerEpoch !== undefined && { producerEpoch: s.producerEpoch }),
      ...(s.baseSequence !== undefined && { baseSequence: s.baseSequence }),
    },
    encodeRecords(records),
  ),
);

type BatchInput = { readonly kind: 'random' | 'valid' | 'mutated'; readonly batch: Buffer };

const batchInput: fc.Arbitrary<BatchInput> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), batch: fc.tuple(randomBytes(160), fc.boolean()).map(([b, crc]) => (crc ? withFreshCrc(b) : b)) }),
  fc.record({ kind: fc.constant('valid' as const), batch: validBatch }),
  {
    weight: 4,
    arbitrary: fc
      .tuple(validBatch, byteMutations(), fc.boolean())
      .map(([batch, steps, crc]) => ({ kind: 'mutated' as const, batch: crc ? withFreshCrc(mutateBytes(batch, steps)) : mutateBytes(batch, steps) })),
  },
);

export const storedBatchTarget: FuzzTarget = {
  name: 'records/stored-batch',
  covers: 'decodeBatchHeader + verifyBatch + decodeRecords (src/log/record-batch.ts), batches read from disk or a RECORDS frame',
  weight: 120,
  quickRuns: 1500,
  async build() {
    return {
      property: fc.property(batchInput, ({ kind, batch }) => {
        const records = timed('stored batch', () => checkStoredBatch(batch));
        if (kind === 'valid') ensure(records !== null, 'a valid stored batch was refused');
      }),
    };
  },
};
