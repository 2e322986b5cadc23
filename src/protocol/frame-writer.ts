import { SealbusError } from '../errors/index.js';
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION } from './constants.js';

const TWO_POW_32 = 0x1_0000_0000;

function cannotEncode(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason: `cannot encode: ${reason}` });
}

function checkUint(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw cannotEncode(`${field} must be an integer in [0, ${max}], got ${value}`);
  }
}

/**
 * Writes one frame into a buffer allocated once at its exact size. Encoders compute the size
 * first (see `str16Size`), so that a PRODUCE or RECORDS frame costs one allocation and one copy of
 * its payload. Values are checked here too: a frame we would refuse to decode is never sent.
 */
export class FrameWriter {
  readonly buf: Buffer;
  private pos = 0;

  constructor(size: number, typeCode: number, requestId: number) {
    checkUint(requestId, 0xffff_ffff, 'requestId');
    this.buf = Buffer.allocUnsafe(size);
    this.buf[0] = PROTOCOL_VERSION;
    this.buf[1] = typeCode;
    this.buf.writeUInt32LE(requestId, 2);
    this.pos = FRAME_HEADER_BYTES;
  }

  u8(value: number, field: string): this {
    checkUint(value, 0xff, field);
    this.buf[this.pos] = value;
    this.pos += 1;
    return this;
  }

  bool(value: boolean): this {
    this.buf[this.pos] = value ? 1 : 0;
    this.pos += 1;
    return this;
  }

  u16(value: number, field: string): this {
    checkUint(value, 0xffff, field);
    this.buf.writeUInt16LE(value, this.pos);
    this.pos += 2;
    return this;
  }

  u32(value: number, field: string): this {
    checkUint(value, 0xffff_ffff, field);
    this.buf.writeUInt32LE(value, this.pos);
    this.pos += 4;
    return this;
  }

  i32(value: number, field: string): this {
    if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
      throw cannotEncode(`${field} must be a 32-bit signed integer, got ${value}`);
    }
    this.buf.writeInt32LE(value, this.pos);
    this.pos += 4;
    return this;
  }

  u64(value: number, field: string): this {
    checkUint(value, Number.MAX_SAFE_INTEGER, field);
    this.buf.writeUInt32LE(value % TWO_POW_32, this.pos);
    this.buf.writeUInt32LE(Math.floor(value / TWO_POW_32), this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** `byteLength` must be `Buffer.byteLength(value)`, computed once by the caller for sizing. */
  str16(value: string, byteLength: number, field: string): this {
    checkUint(byteLength, 0xffff, `${field} length`);
    this.buf.writeUInt16LE(byteLength, this.pos);
    this.buf.write(value, this.pos + 2, byteLength, 'utf8');
    this.pos += 2 + byteLength;
    return this;
  }

  str32(value: string, byteLength: number, field: string): this {
    checkUint(byteLength, 0xffff_ffff, `${field} length`);
    this.buf.writeUInt32LE(byteLength, this.pos);
    this.buf.write(value, this.pos + 4, byteLength, 'utf8');
    this.pos += 4 + byteLength;
    return this;
  }

  bytes(value: Buffer): this {
    value.copy(this.buf, this.pos);
    this.pos += value.length;
    return this;
  }

  /** The frame; throws if the size computed up front and the bytes written disagree (a bug here). */
  finish(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`frame writer wrote ${this.pos} of ${this.buf.length} bytes`);
    return this.buf;
  }
}
