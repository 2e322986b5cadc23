/**
 * The byte-load reads of the record walks must read what Buffer's own methods read, for every byte
 * value (the sign bit of an i32, the top byte of a u32 above 2^31).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { i32le, u16le, u32le } from '../../src/log/little-endian.js';

const placed = fc.uint8Array({ minLength: 4, maxLength: 32 }).chain((bytes) => fc.tuple(fc.constant(Buffer.from(bytes)), fc.nat({ max: bytes.length - 4 })));

describe('little-endian reads', () => {
  it('read as Buffer#readUInt32LE, #readInt32LE and #readUInt16LE do, at any offset', () => {
    fc.assert(
      fc.property(placed, ([bytes, at]) => {
        expect(u32le(bytes, at)).toBe(bytes.readUInt32LE(at));
        expect(i32le(bytes, at)).toBe(bytes.readInt32LE(at));
        expect(u16le(bytes, at)).toBe(bytes.readUInt16LE(at));
      }),
      { numRuns: 2000 },
    );
  });

  it('read the extremes: a u32 with its top bit set is positive, an i32 with it is negative', () => {
    const ones = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    expect(u32le(ones, 0)).toBe(0xffff_ffff);
    expect(i32le(ones, 0)).toBe(-1);
    expect(u16le(ones, 0)).toBe(0xffff);
    const top = Buffer.from([0, 0, 0, 0x80]);
    expect(u32le(top, 0)).toBe(0x8000_0000);
    expect(i32le(top, 0)).toBe(-0x8000_0000);
  });
});
