/**
 * Mutations of valid binary inputs: bit flips, truncations, insertions, duplicated sections, and
 * length or count fields set to huge, negative or off-by-one values. Positions are drawn as plain
 * numbers and taken modulo the input's length, so that one arbitrary fits inputs of any size.
 */
import fc from 'fast-check';

/** Values written into a length-like field: the edges that parsers get wrong. */
const FIELD_VALUES = ['zero', 'one', 'max', 'signed-max', 'negative-one', 'negative', 'plus-one', 'minus-one', 'double', 'beyond-2^53'] as const;
type FieldValue = (typeof FIELD_VALUES)[number];

export type ByteMutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'cut'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'remove'; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number; readonly to: number }
  /** Rewrites a little-endian integer; `hot` picks among the fields that look like lengths or counts. */
  | { readonly kind: 'field'; readonly at: number; readonly hot: boolean; readonly width: 2 | 4 | 8; readonly value: FieldValue };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }), to: fc.nat() }),
  fc.record({
    kind: fc.constant('field' as const),
    at: fc.nat(),
    hot: fc.boolean(),
    width: fc.constantFrom(2 as const, 4 as const, 8 as const),
    value: fc.constantFrom(...FIELD_VALUES),
  }),
);

/** One to `max` mutations in a row. */
export const byteMutations = (max = 4): fc.Arbitrary<ByteMutation[]> => fc.array(byteMutation, { minLength: 1, maxLength: max });

/**
 * Offsets whose u16 or u32 (little-endian) is a plausible length or count for this input: small,
 * non-zero, at most the input's size. Without knowing the format, these are where the length and
 * count fields are, and mutating them is what reaches a parser's bounds checks.
 */
export function lengthLikeFields(bytes: Uint8Array): { at: number; width: 2 | 4 }[] {
  const fields: { at: number; width: 2 | 4 }[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 2 <= bytes.length; at++) {
    if (at + 4 <= bytes.length) {
      const u32 = view.getUint32(at, true);
      if (u32 > 0 && u32 <= bytes.length) fields.push({ at, width: 4 });
    }
    const u16 = view.getUint16(at, true);
    if (u16 > 0 && u16 <= bytes.length && u16 < 0x100) fields.push({ at, width: 2 });
  }
  return fields;
}

function fieldValue(current: number, width: 2 | 4 | 8, value: FieldValue): bigint {
  const bits = BigInt(width * 8);
  const mask = (1n << bits) - 1n;
  const big = BigInt(current);
  switch (value) {
    case 'zero':
      return 0n;
    case 'one':
      return 1n;
    case 'max':
      return mask;
    case 'signed-max':
      return mask >> 1n;
    case 'negative-one':
      return mask;
    case 'negative':
      return (1n << (bits - 1n)) & mask;
    case 'plus-one':
      return (big + 1n) & mask;
    case 'minus-one':
      return (big - 1n) & mask;
    case 'double':
      return (big * 2n) & mask;
    case 'beyond-2^53':
      return width === 8 ? 1n << 53n : mask;
  }
}

function readLe(bytes: Uint8Array, at: number, width: number): number {
  let value = 0;
  for (let i = width - 1; i >= 0; i--) value = value * 256 + bytes[at + i]!;
  return value;
}

function writeLe(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  for (let i = 0; i < width; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

/** Applies the mutations in order to a copy of `original`. */
export function mutateBytes(original: Uint8Array, steps: readonly ByteMutation[]): Buffer {
  let bytes = Buffer.from(original);
  for (const step of steps) {
    const at = bytes.length === 0 ? 0 : step.at % bytes.length;
    switch (step.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << step.bit);
        break;
      case 'set':
        if (bytes.length > 0) bytes[at] = step.value;
        break;
      case 'cut':
        bytes = bytes.subarray(0, at);
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), step.bytes, bytes.subarray(at)]);
        break;
      case 'remove':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + step.length)]);
        break;
      case 'duplicate': {
        const section = bytes.subarray(at, at + step.length);
        const to = step.to % (bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, to), section, bytes.subarray(to)]);
        break;
      }
      case 'field': {
        const hot = step.hot ? lengthLikeFields(bytes) : [];
        const chosen = hot.length > 0 ? hot[step.at % hot.length]! : { at, width: step.width };
        const width = step.hot && hot.length > 0 ? chosen.width : step.width;
        if (chosen.at + width > bytes.length) break;
        writeLe(bytes, chosen.at, width, fieldValue(readLe(bytes, chosen.at, width), width, step.value));
        break;
      }
    }
  }
  return bytes;
}

/** Fully random bytes, biased toward the short and the zero-heavy. */
export const randomBytes = (maxLength = 200): fc.Arbitrary<Buffer> =>
  fc
    .oneof(
      fc.uint8Array({ maxLength }),
      fc.uint8Array({ maxLength: 24 }),
      fc.array(fc.constantFrom(0, 0, 0, 1, 0xff, 0x7f, 0x80), { maxLength }).map((values) => Uint8Array.from(values)),
    )
    .map((bytes) => Buffer.from(bytes));
