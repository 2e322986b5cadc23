/**
 * The record batch format, shared by the disk, the wire and the SDK. Little-endian throughout.
 *
 * A stored batch:
 *
 *   offset  size  field
 *   0       8     baseOffset       offset of the first record
 *   8       4     batchLength      bytes that follow this field (total size = 12 + batchLength)
 *   12      4     crc              CRC-32 (zlib) of bytes [0, 12) and [16, end): everything but itself
 *   16      1     magic            format version, 1
 *   17      1     attributes       0 (bits reserved for compression)
 *   18      2     reserved         0
 *   20      4     recordCount
 *   24      8     timestamp        broker append time, ms since the epoch (clients cannot forge it)
 *   32      8     producerId       0 when the batch has no producer stamp
 *   40      2     producerEpoch    0xffff when none
 *   42      4     baseSequence     -1 when none
 *   46      ...   records section
 *
 * A records section (what a producer sends, copied verbatim into the stored batch):
 *
 *   u32 recordLength (bytes after this field) | u8 attributes (0)
 *   i32 keyLength (-1: null) | key | i32 valueLength (-1: null) | value
 *   u16 headerCount | per header: u16 nameLength | name (UTF-8) | i32 valueLength (-1: null) | value
 *
 * Record i of a batch has offset baseOffset + i and the batch's timestamp.
 */
import { crc32 } from 'node:zlib';
import { SealbusError } from '../errors/index.js';
import { isUtf8Name, nameBytes, recordFieldName } from './record-fields.js';
import { i32le, u16le, u32le } from './little-endian.js';
import type { EncodedRecords } from './types.js';

export const BATCH_MAGIC = 1;
export const BATCH_HEADER_BYTES = 46;
/** Bytes before the CRC'd body that are needed to know a batch's size. */
export const BATCH_PREFIX_BYTES = 12;
const NO_EPOCH = 0xffff;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface RecordHeader {
  readonly name: string;
  readonly value: Buffer | null;
}

export interface RecordInput {
  readonly key?: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly RecordHeader[];
}

export interface LogRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface BatchHeader {
  readonly baseOffset: number;
  /** Total bytes of the batch, header included. */
  readonly totalBytes: number;
  readonly crc: number;
  readonly magic: number;
  readonly recordCount: number;
  readonly timestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number | null;
  readonly baseSequence: number | null;
}

export interface RecordLimits {
  /** Largest record (everything after its length field) accepted. */
  readonly maxRecordBytes: number;
  readonly maxHeadersPerRecord: number;
  readonly maxHeaderNameBytes: number;
}

export const DEFAULT_RECORD_LIMITS: RecordLimits = {
  maxRecordBytes: 1024 * 1024,
  maxHeadersPerRecord: 64,
  maxHeaderNameBytes: 256,
};

function writeU64(buf: Buffer, pos: number, value: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, pos);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), pos + 4);
}

function readU64(buf: Buffer, pos: number): number {
  const low = buf.readUInt32LE(pos);
  const high = buf.readUInt32LE(pos + 4);
  if (high > 0x1f_ffff) return Number.NaN; // beyond 2^53: callers treat NaN as corruption
  return high * 0x1_0000_0000 + low;
}

function recordSize(record: RecordInput): number {
  let size = 1 + 4 + (record.key?.length ?? 0) + 4 + (record.value?.length ?? 0) + 2;
  const headers = record.headers;
  if (headers !== undefined) for (let h = 0; h < headers.length; h++) size += 2 + nameBytes(headers[h]!.name).length + 4 + (headers[h]!.value?.length ?? 0);
  return size;
}

/** Encodes records into a records section, ready to send or to append. */
export function encodeRecords(records: readonly RecordInput[]): EncodedRecords {
  return encodeSection(records, 0, null);
}

/** A records section whose values have room before them; see `encodeRecordsWithRoom`. */
export interface RoomyRecords {
  readonly records: EncodedRecords;
  /** Per non-null value, in order: the start of its slot in `records.bytes`, then the slot's length (room included). */
  readonly valueSlots: Int32Array;
}

/**
 * encodeRecords, with every non-null value written `room` bytes into a slot that much longer (the
 * length field counts the room; its bytes are left as they are): where an envelope puts a value's nonce
 * and tag, so that the value can be sealed in place. The buffer owns its memory, so that it can be
 * transferred to a worker thread.
 */
export function encodeRecordsWithRoom(records: readonly RecordInput[], room: number): RoomyRecords {
  let values = 0;
  for (let i = 0; i < records.length; i++) if (records[i]!.value !== null) values++;
  const valueSlots = new Int32Array(2 * values);
  return { records: encodeSection(records, room, valueSlots), valueSlots };
}

function encodeSection(records: readonly RecordInput[], room: number, valueSlots: Int32Array | null): EncodedRecords {
  let total = 0;
  const sizes = new Array<number>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const size = recordSize(record) + (record.value === null ? 0 : room);
    sizes[i] = size;
    total += 4 + size;
  }
  const bytes = valueSlots === null ? Buffer.allocUnsafe(total) : Buffer.allocUnsafeSlow(total);
  let pos = 0;
  let slot = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    bytes.writeUInt32LE(sizes[i]!, pos);
    bytes[pos + 4] = 0;
    pos += 5;
    pos = writeBytes(bytes, pos, record.key ?? null);
    if (valueSlots === null || record.value === null) {
      pos = writeBytes(bytes, pos, record.value);
    } else {
      const length = room + record.value.length;
      bytes.writeInt32LE(length, pos);
      valueSlots[slot++] = pos + 4;
      valueSlots[slot++] = length;
      bytes.set(record.value, pos + 4 + room);
      pos += 4 + length;
    }
    const headers = record.headers ?? [];
    bytes.writeUInt16LE(headers.length, pos);
    pos += 2;
    for (let h = 0; h < headers.length; h++) {
      const name = nameBytes(headers[h]!.name);
      bytes.writeUInt16LE(name.length, pos);
      bytes.set(name, pos + 2);
      pos = writeBytes(bytes, pos + 2 + name.length, headers[h]!.value);
    }
  }
  return { count: records.length, bytes };
}

function writeBytes(buf: Buffer, pos: number, value: Buffer | null): number {
  if (value === null) {
    buf.writeInt32LE(-1, pos);
    return pos + 4;
  }
  buf.writeInt32LE(value.length, pos);
  buf.set(value, pos + 4);
  return pos + 4 + value.length;
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_BATCH_INVALID', { reason });
}

/**
 * Checks an untrusted records section: every length within bounds, the count exact, no trailing
 * bytes, each record under the limit. Walks lengths only; values are not copied.
 */
export function validateRecords(records: EncodedRecords, limits: RecordLimits, topic = ''): void {
  const buf = records.bytes;
  if (!Number.isInteger(records.count) || records.count < 1) throw invalid('a batch holds at least one record');
  let pos = 0;
  for (let index = 0; index < records.count; index++) {
    if (pos + 4 > buf.length) throw invalid(`record ${index} is cut short`);
    const length = u32le(buf, pos);
    const end = pos + 4 + length;
    if (length > limits.maxRecordBytes) {
      throw new SealbusError('SEALBUS_ERR_RECORD_TOO_LARGE', { index, size: length, topic, limit: limits.maxRecordBytes });
    }
    if (end > buf.length) throw invalid(`record ${index} is cut short`);
    if (length < 11) throw invalid(`record ${index} is shorter than its fixed fields`);
    if (buf[pos + 4] !== 0) throw invalid(`record ${index} has unknown attributes`);
    let at = pos + 5;
    at = skipBytes(buf, at, end, index, 'key');
    at = skipBytes(buf, at, end, index, 'value');
    if (at + 2 > end) throw invalid(`record ${index} is cut short`);
    const headerCount = u16le(buf, at);
    at += 2;
    if (headerCount > limits.maxHeadersPerRecord) {
      throw invalid(`record ${index} has ${headerCount} headers; at most ${limits.maxHeadersPerRecord} are allowed`);
    }
    for (let h = 0; h < headerCount; h++) {
      if (at + 2 > end) throw invalid(`record ${index} header ${h} is cut short`);
      const nameLength = u16le(buf, at);
      if (nameLength === 0 || nameLength > limits.maxHeaderNameBytes) {
        throw invalid(`record ${index} header ${h} name must be 1..${limits.maxHeaderNameBytes} bytes`);
      }
      if (at + 2 + nameLength > end) throw invalid(`record ${index} header ${h} name is cut short`);
      // Replacement characters would let two byte strings decode to one name, and the stored
      // bytes would no longer be what a decoded record re-encodes to (as for frame strings).
      if (!isUtf8Name(buf, at + 2, at + 2 + nameLength)) throw invalid(`record ${index} header ${h} name is not valid UTF-8`);
      at += 2 + nameLength;
      at = skipBytes(buf, at, end, index, h);
    }
    if (at !== end) throw invalid(`record ${index} has ${end - at} bytes past its last field`);
    pos = end;
  }
  if (pos !== buf.length) throw invalid(`${buf.length - pos} bytes follow the last of ${records.count} records`);
}

function skipBytes(buf: Buffer, at: number, end: number, index: number, what: 'key' | 'value' | number): number {
  if (at + 4 > end) throw invalid(`record ${index} ${recordFieldName(what)} is cut short`);
  const length = i32le(buf, at);
  if (length === -1) return at + 4;
  if (length < 0 || at + 4 + length > end) throw invalid(`record ${index} ${recordFieldName(what)} length ${length} is out of bounds`);
  return at + 4 + length;
}

export interface BatchStamp {
  readonly baseOffset: number;
  readonly timestamp: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
}

/**
 * Builds the 46-byte header of a stored batch over an already validated records section, CRC
 * included. Write `[header, records.bytes]` (writev) to avoid copying the records.
 */
export function encodeBatchHeader(stamp: BatchStamp, records: EncodedRecords): Buffer {
  if (stamp.baseOffset + records.count > MAX_SAFE) throw new RangeError('offset beyond 2^53');
  const header = Buffer.alloc(BATCH_HEADER_BYTES);
  writeU64(header, 0, stamp.baseOffset);
  header.writeUInt32LE(BATCH_HEADER_BYTES - BATCH_PREFIX_BYTES + records.bytes.length, 8);
  header[16] = BATCH_MAGIC;
  header.writeUInt32LE(records.count, 20);
  writeU64(header, 24, stamp.timestamp);
  writeU64(header, 32, stamp.producerId ?? 0);
  header.writeUInt16LE(stamp.producerEpoch ?? NO_EPOCH, 40);
  header.writeInt32LE(stamp.baseSequence ?? -1, 42);
  let crc = crc32(header.subarray(0, 12));
  crc = crc32(header.subarray(16), crc);
  crc = crc32(records.bytes, crc);
  header.writeUInt32LE(crc, 12);
  return header;
}

/** A whole stored batch in one buffer. */
export function encodeBatch(stamp: BatchStamp, records: EncodedRecords): Buffer {
  return Buffer.concat([encodeBatchHeader(stamp, records), records.bytes]);
}

/**
 * Reads a batch header at `pos`. Returns null when fewer than 46 bytes remain (a torn tail).
 * Does not check the CRC; see `verifyBatch`.
 */
export function decodeBatchHeader(buf: Buffer, pos = 0): BatchHeader | null {
  if (pos + BATCH_HEADER_BYTES > buf.length) return null;
  const epoch = buf.readUInt16LE(pos + 40);
  const sequence = buf.readInt32LE(pos + 42);
  return {
    baseOffset: readU64(buf, pos),
    totalBytes: BATCH_PREFIX_BYTES + buf.readUInt32LE(pos + 8),
    crc: buf.readUInt32LE(pos + 12),
    magic: buf[pos + 16]!,
    recordCount: buf.readUInt32LE(pos + 20),
    timestamp: readU64(buf, pos + 24),
    producerId: readU64(buf, pos + 32),
    producerEpoch: epoch === NO_EPOCH ? null : epoch,
    baseSequence: sequence === -1 ? null : sequence,
  };
}

/** Computes the CRC a batch must carry; `batch` is exactly one whole batch. */
export function computeBatchCrc(batch: Buffer): number {
  return crc32(batch.subarray(16), crc32(batch.subarray(0, 12)));
}

/**
 * True when `batch` (exactly one whole batch) is intact: known magic, sane header, matching CRC.
 * Stored bytes are untrusted on read; a batch that fails this is never served.
 */
export function verifyBatch(batch: Buffer): boolean {
  const header = decodeBatchHeader(batch);
  if (header === null || header.totalBytes !== batch.length) return false;
  if (header.magic !== BATCH_MAGIC || Number.isNaN(header.baseOffset) || Number.isNaN(header.timestamp) || Number.isNaN(header.producerId)) return false;
  // Attributes and reserved bytes are 0 in this version: a reader must not take a batch whose bits
  // it does not know (compression, say) for a plain one.
  if (batch[17] !== 0 || batch.readUInt16LE(18) !== 0) return false;
  // Every offset up to the next one must be exact, as encodeBatch requires: past 2^53, baseOffset + i is rounded.
  if (header.baseOffset + header.recordCount > MAX_SAFE) return false;
  return computeBatchCrc(batch) === header.crc;
}

/**
 * Decodes the records of one whole batch. Verify it first (`verifyBatch`): a CRC is no MAC, so the
 * lengths are still checked as they are read, and a batch whose records do not fit its bytes
 * throws SEALBUS_ERR_BATCH_INVALID rather than reading past them.
 */
export function decodeRecords(batch: Buffer): LogRecord[] {
  const header = decodeBatchHeader(batch);
  if (header === null) throw invalid('batch shorter than its header');
  if (header.totalBytes > batch.length) throw invalid(`batch of ${header.totalBytes} bytes is cut short at ${batch.length}`);
  return decodeSection(batch.subarray(0, header.totalBytes), BATCH_HEADER_BYTES, header.recordCount, header.baseOffset, header.timestamp);
}

/**
 * Decodes a records section as a client sent it (no batch header, so no offsets or timestamp yet:
 * both are 0). Call `validateRecords` on it first, for the limits and the header names.
 */
export function decodeRecordSection(records: EncodedRecords): LogRecord[] {
  return decodeSection(records.bytes, 0, records.count, 0, 0);
}

/** Smallest record: u32 length, u8 attributes, two null lengths and a header count. */
const MIN_RECORD_BYTES = 4 + 1 + 4 + 4 + 2;

function decodeSection(buf: Buffer, start: number, count: number, baseOffset: number, timestamp: number): LogRecord[] {
  // Checked before allocating, so that a forged count allocates nothing.
  if (!Number.isInteger(count) || count < 0 || count * MIN_RECORD_BYTES > buf.length - start) {
    throw invalid(`${buf.length - start} bytes cannot hold ${count} records`);
  }
  const records = new Array<LogRecord>(count);
  let pos = start;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > buf.length) throw invalid(`record ${i} is cut short`);
    const end = pos + 4 + u32le(buf, pos);
    if (end > buf.length || end - pos < MIN_RECORD_BYTES) throw invalid(`record ${i} length does not fit its batch`);
    if (buf[pos + 4] !== 0) throw invalid(`record ${i} has unknown attributes`);
    const [key, afterKey] = readBytes(buf, pos + 5, end, i, 'key');
    const [value, afterValue] = readBytes(buf, afterKey, end, i, 'value');
    if (afterValue + 2 > end) throw invalid(`record ${i} is cut short`);
    const headerCount = u16le(buf, afterValue);
    let at = afterValue + 2;
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      if (at + 2 > end) throw invalid(`record ${i} header ${h} is cut short`);
      const nameEnd = at + 2 + u16le(buf, at);
      if (nameEnd > end) throw invalid(`record ${i} header ${h} name is cut short`);
      const name = buf.toString('utf8', at + 2, nameEnd);
      const [headerValue, next] = readBytes(buf, nameEnd, end, i, `header ${h} value`);
      headers.push({ name, value: headerValue });
      at = next;
    }
    if (at !== end) throw invalid(`record ${i} has ${end - at} bytes past its last field`);
    records[i] = { offset: baseOffset + i, timestamp, key, value, headers };
    pos = end;
  }
  if (pos !== buf.length) throw invalid(`${buf.length - pos} bytes follow the last of ${count} records`);
  return records;
}

function readBytes(buf: Buffer, at: number, end: number, index: number, what: string): [Buffer | null, number] {
  if (at + 4 > end) throw invalid(`record ${index} ${what} is cut short`);
  const length = i32le(buf, at);
  if (length === -1) return [null, at + 4];
  if (length < 0 || at + 4 + length > end) throw invalid(`record ${index} ${what} length ${length} is out of bounds`);
  return [buf.subarray(at + 4, at + 4 + length), at + 4 + length];
}

/** The records section of a whole batch (a view, not a copy). */
export function recordsOf(batch: Buffer): EncodedRecords {
  const header = decodeBatchHeader(batch);
  if (header === null) throw invalid('batch shorter than its header');
  return { count: header.recordCount, bytes: batch.subarray(BATCH_HEADER_BYTES, header.totalBytes) };
}
