/**
 * Reads a records section in place, one record at a time, without building a record object per
 * record: for the per-record checks of the produce path (the schema ids and values of every
 * record of a batch), where decoding each record into objects would cost as much as the check.
 * Every length it reads is bounds-checked, so a forged section throws SEALBUS_ERR_BATCH_INVALID
 * rather than reading past its record; the section as a whole is checked once, on receipt
 * (validateRecords: limits, header names, no stray bytes).
 */
import { SealbusError } from '../errors/index.js';
import { i32le, u16le, u32le } from './little-endian.js';
import { recordFieldName } from './record-fields.js';
import type { EncodedRecords } from './types.js';

/** Smallest record: u32 length, u8 attributes, two null lengths and a header count. */
const MIN_RECORD_BYTES = 4 + 1 + 4 + 4 + 2;

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_BATCH_INVALID', { reason });
}

export class RecordSpans {
  readonly #bytes: Buffer;
  readonly #count: number;
  /** The current record's index; -1 before the first `next()`. */
  index = -1;
  /** Where the next record starts. */
  #next = 0;
  /** The current record's key and value, `start` -1 when null. */
  keyStart = -1;
  keyEnd = -1;
  valueStart = -1;
  valueEnd = -1;
  /** Where the value found by the last `header()` ends. */
  headerEnd = -1;
  #headersAt = 0;
  #headerCount = 0;
  #end = 0;
  /** What the last #span read. */
  #spanStart = -1;
  #spanEnd = -1;

  constructor(section: EncodedRecords) {
    this.#bytes = section.bytes;
    this.#count = section.count;
    if (!Number.isInteger(this.#count) || this.#count < 0 || this.#count * MIN_RECORD_BYTES > this.#bytes.length) {
      throw invalid(`${this.#bytes.length} bytes cannot hold ${this.#count} records`);
    }
  }

  get bytes(): Buffer {
    return this.#bytes;
  }

  /** Moves to the next record; false after the last (having checked that no bytes follow it). */
  next(): boolean {
    const buf = this.#bytes;
    const index = this.index + 1;
    const pos = this.#next;
    if (index >= this.#count) {
      if (pos !== buf.length) throw invalid(`${buf.length - pos} bytes follow the last of ${this.#count} records`);
      return false;
    }
    if (pos + 4 > buf.length) throw invalid(`record ${index} is cut short`);
    const end = pos + 4 + u32le(buf, pos);
    if (end > buf.length || end - pos < MIN_RECORD_BYTES) throw invalid(`record ${index} length does not fit its batch`);
    if (buf[pos + 4] !== 0) throw invalid(`record ${index} has unknown attributes`);
    this.index = index;
    this.#end = end;
    const afterKey = this.#span(pos + 5, index, 'key');
    this.keyStart = this.#spanStart;
    this.keyEnd = this.#spanEnd;
    const afterValue = this.#span(afterKey, index, 'value');
    this.valueStart = this.#spanStart;
    this.valueEnd = this.#spanEnd;
    if (afterValue + 2 > end) throw invalid(`record ${index} is cut short`);
    this.#headerCount = u16le(buf, afterValue);
    this.#headersAt = afterValue + 2;
    this.#next = end;
    return true;
  }

  /** The current record's value (a view), or null. */
  value(): Buffer | null {
    return this.valueStart < 0 ? null : this.#bytes.subarray(this.valueStart, this.valueEnd);
  }

  /** The current record's key (a view), or null. */
  key(): Buffer | null {
    return this.keyStart < 0 ? null : this.#bytes.subarray(this.keyStart, this.keyEnd);
  }

  /**
   * Where the value of the current record's first header named `name` (its UTF-8 bytes) starts;
   * -1 when there is no such header, -2 when its value is null. `headerEnd` is where the value ends.
   */
  header(name: Uint8Array): number {
    const buf = this.#bytes;
    const end = this.#end;
    let at = this.#headersAt;
    for (let h = 0; h < this.#headerCount; h++) {
      if (at + 2 > end) throw invalid(`record ${this.index} header ${h} is cut short`);
      const nameStart = at + 2;
      const nameEnd = nameStart + u16le(buf, at);
      if (nameEnd > end) throw invalid(`record ${this.index} header ${h} name is cut short`);
      at = this.#span(nameEnd, this.index, h);
      if (nameEnd - nameStart !== name.length) continue;
      let same = true;
      for (let i = 0; i < name.length && same; i++) same = buf[nameStart + i] === name[i];
      if (!same) continue;
      this.headerEnd = this.#spanEnd;
      return this.#spanStart < 0 ? -2 : this.#spanStart;
    }
    return -1;
  }

  /** Reads a length-prefixed field at `at` into #spanStart/#spanEnd (-1 for null); returns where it ends. */
  #span(at: number, index: number, what: 'key' | 'value' | number): number {
    if (at + 4 > this.#end) throw invalid(`record ${index} ${recordFieldName(what)} is cut short`);
    const length = i32le(this.#bytes, at);
    if (length === -1) {
      this.#spanStart = -1;
      this.#spanEnd = -1;
      return at + 4;
    }
    if (length < 0 || at + 4 + length > this.#end) throw invalid(`record ${index} ${recordFieldName(what)} length ${length} is out of bounds`);
    this.#spanStart = at + 4;
    this.#spanEnd = at + 4 + length;
    return at + 4 + length;
  }
}
