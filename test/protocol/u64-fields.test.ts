import { describe, expect, it } from 'vitest';
import { isSealbusError } from '../../src/errors/index.js';
import { decodeFrame, encodeFrame, type Frame } from '../../src/protocol/index.js';
import { sampleFrames } from './frame-fixtures.js';

/** A value below 2^53 whose eight little-endian bytes appear nowhere else in the frames below. */
const MARK = 0x1a_2b3c_4d5e_6f;

function sample<T extends Frame['type']>(type: T): Extract<Frame, { type: T }> {
  const found = sampleFrames().find((frame) => frame.type === type);
  if (found === undefined) throw new Error(`no sample ${type} frame`);
  return found as Extract<Frame, { type: T }>; // a fresh object on every call
}

/** Every u64 field of the protocol, in a frame that carries MARK in it (and nowhere else). */
const FIELDS: Array<[string, Frame]> = [
  ['producerId', { ...sample('PRODUCE'), producer: { producerId: MARK, epoch: 1, baseSequence: 0 } }],
  ['startValue', { ...sample('SUBSCRIBE'), start: { kind: 'offset', offset: MARK } }],
  ['startValue', { ...sample('SUBSCRIBE'), start: { kind: 'timestamp', timestamp: MARK } }],
  ['baseOffset', { ...sample('PRODUCE_ACK'), baseOffset: MARK }],
  ['timestamp', { ...sample('PRODUCE_ACK'), timestamp: MARK }],
  ['startOffset', { ...sample('SUBSCRIBED'), startOffset: MARK }],
  ['highWatermark', { ...sample('SUBSCRIBED'), highWatermark: MARK }],
  ['highWatermark', { ...sample('RECORDS'), highWatermark: MARK, batches: [] }],
  ['expiresAt', { ...sample('REFRESHED'), expiresAt: MARK }],
  ['expiresAt', { ...sample('TOKEN_EXPIRING'), expiresAt: MARK }],
  ['producerId', { ...sample('PRODUCER'), producerId: MARK }],
  ['offset', { ...sample('COMMIT'), offsets: [{ topic: 'orders', partition: 0, offset: MARK }] }],
  ['committedOffset', { ...sample('ASSIGNMENT'), partitions: [{ topic: 'orders', partition: 0, committedOffset: MARK }] }],
];

function markAt(bytes: Buffer): number {
  const pattern = Buffer.alloc(8);
  pattern.writeUInt32LE(MARK % 2 ** 32, 0);
  pattern.writeUInt32LE(Math.floor(MARK / 2 ** 32), 4);
  const at = bytes.indexOf(pattern);
  expect(at).toBeGreaterThan(0);
  expect(bytes.indexOf(pattern, at + 1)).toBe(-1);
  return at;
}

function reasonOf(bytes: Buffer): string {
  try {
    decodeFrame(bytes);
  } catch (err) {
    if (isSealbusError(err, 'SEALBUS_ERR_PROTOCOL_FRAME')) return err.message;
    throw err;
  }
  throw new Error('expected the frame to be refused');
}

describe('u64 frame fields', () => {
  it.each(FIELDS)('%s: 2^53 - 1 is read exactly; 2^53 and more are refused, never rounded', (field, frame) => {
    const bytes = Buffer.from(encodeFrame(frame));
    const at = markAt(bytes);
    const withValue = (high: number, low: number): Buffer => {
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE(low, at);
      copy.writeUInt32LE(high, at + 4);
      return copy;
    };
    expect(JSON.stringify(decodeFrame(withValue(0x1f_ffff, 0xffff_ffff)))).toContain(String(Number.MAX_SAFE_INTEGER));
    for (const [high, low] of [
      [0x20_0000, 0], // 2^53
      [0x20_0000, 1], // 2^53 + 1, which a double cannot hold
      [0xffff_ffff, 0xffff_ffff], // 2^64 - 1
    ] as const) {
      expect(reasonOf(withValue(high, low))).toBe(`Malformed frame: ${frame.type}: ${field} is 2^53 or more`);
    }
  });
});
