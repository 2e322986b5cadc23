import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SealbusError } from '../../src/errors/index.js';
import { decodeFrame, encodeFrame, encodeFrameParts, FRAME_TYPE_CODES } from '../../src/protocol/index.js';
import { anyFrame } from './frame-fixtures.js';

/** Decodes, and if the bytes are accepted, checks they re-encode to themselves (canonical decoding). */
function decodeOrSealbusError(bytes: Buffer): void {
  let decoded;
  try {
    decoded = decodeFrame(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(SealbusError);
    return;
  }
  expect(encodeFrame(decoded)).toEqual(bytes);
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(original: Buffer, steps: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(original);
  for (const step of steps) {
    const at = bytes.length === 0 ? 0 : step.at % bytes.length;
    if (step.kind === 'set' && bytes.length > 0) bytes[at] = step.value;
    if (step.kind === 'flip' && bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << step.bit);
    if (step.kind === 'cut') bytes = bytes.subarray(0, at);
    if (step.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), step.bytes, bytes.subarray(at)]);
  }
  return bytes;
}

describe('frame codec properties', () => {
  it('decode(encode(frame)) is the frame, and the parts concatenate to the frame', () => {
    fc.assert(
      fc.property(anyFrame, (frame) => {
        const bytes = encodeFrame(frame);
        expect(decodeFrame(bytes)).toEqual(frame);
        expect(Buffer.concat(encodeFrameParts(frame))).toEqual(bytes);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws anything but a SealbusError on random bytes, and what it accepts re-encodes identically', () => {
    const typeCodes = Object.values(FRAME_TYPE_CODES);
    const framed = fc
      .tuple(fc.constantFrom(...typeCodes), fc.uint8Array({ maxLength: 120 }))
      .map(([type, body]) => Buffer.concat([Buffer.from([1, type]), body]));
    const raw = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
    fc.assert(fc.property(fc.oneof(framed, raw), decodeOrSealbusError), { numRuns: 5_000 });
  });

  it('never throws anything but a SealbusError on mutated valid frames, and what it accepts re-encodes identically', () => {
    fc.assert(
      fc.property(anyFrame, fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, steps) => {
        decodeOrSealbusError(mutate(encodeFrame(frame), steps));
      }),
      { numRuns: 5_000 },
    );
  });
});
