import { isUtf8 } from 'node:buffer';
import { SealbusError } from '../errors/index.js';

const TWO_POW_32 = 0x1_0000_0000;
/** The high word of a u64 must stay at or below this for the value to be below 2^53. */
const MAX_SAFE_HIGH = 0x1f_ffff;

export function malformed(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason }, { details: { reason } });
}

/**
 * A bounds-checked cursor over an untrusted frame. Every read names its field, so that a refused
 * frame says which field was wrong and where. Strings must be valid UTF-8: replacement characters
 * would let two different byte strings decode to one topic name, and would break the
 * encode-after-decode identity the tests rely on.
 */
export class FrameReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    private readonly frameName: string,
    start: number,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(bytes: number, field: string): void {
    if (this.pos + bytes > this.buf.length) {
      throw malformed(`${this.frameName}: ${field} is cut short at byte ${this.pos} (needs ${bytes}, ${this.remaining} left)`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    const value = this.buf[this.pos]!;
    this.pos += 1;
    return value;
  }

  bool(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) throw malformed(`${this.frameName}: ${field} must be 0 or 1, got ${value}`);
    return value === 1;
  }

  u16(field: string): number {
    this.need(2, field);
    const value = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return value;
  }

  i32(field: string): number {
    this.need(4, field);
    const value = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return value;
  }

  u64(field: string): number {
    this.need(8, field);
    const low = this.buf.readUInt32LE(this.pos);
    const high = this.buf.readUInt32LE(this.pos + 4);
    if (high > MAX_SAFE_HIGH) throw malformed(`${this.frameName}: ${field} is 2^53 or more`);
    this.pos += 8;
    return high * TWO_POW_32 + low;
  }

  str16(field: string, maxBytes: number): string {
    return this.string(this.u16(`${field} length`), field, maxBytes);
  }

  str32(field: string, maxBytes: number): string {
    return this.string(this.u32(`${field} length`), field, maxBytes);
  }

  private string(length: number, field: string, maxBytes: number): string {
    if (length > maxBytes) throw malformed(`${this.frameName}: ${field} is ${length} bytes; at most ${maxBytes} are allowed`);
    this.need(length, field);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    if (!isUtf8(bytes)) throw malformed(`${this.frameName}: ${field} is not valid UTF-8`);
    this.pos += length;
    return bytes.toString('utf8');
  }

  /** A view of the next `length` bytes (no copy). */
  view(length: number, field: string): Buffer {
    this.need(length, field);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  /** A view of everything left (no copy). */
  rest(): Buffer {
    const bytes = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return bytes;
  }

  /** Peeks a u32 at `offset` bytes ahead without moving; the caller has checked the bounds. */
  peekU32(offset: number): number {
    return this.buf.readUInt32LE(this.pos + offset);
  }

  end(): void {
    if (this.pos !== this.buf.length) {
      throw malformed(`${this.frameName}: ${this.buf.length - this.pos} bytes follow the last field`);
    }
  }
}
