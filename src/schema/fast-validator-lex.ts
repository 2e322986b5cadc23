/**
 * The tokens of the byte-level fast path: whitespace, strings and numbers, checked against the
 * JSON grammar and the limits of parseJson (src/json/safe-json.ts) exactly as JSON.parse and its
 * prescan would, without building a value. A scan returns the index after the token, or REFUSED
 * (parseJson would throw, whatever the schema) or FALLBACK (this scanner cannot tell cheaply);
 * what a keyword needs to know about the token is left in the one Cursor.
 */
import ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';
import { JSON_LIMITS } from '../json/safe-json.js';

// ajv's runtime is CommonJS; its default export may arrive wrapped under ESM. The very function ajv
// counts minLength / maxLength with, so that the counts cannot differ.
const ucs2length = ((ucs2lengthModule as unknown as { default?: unknown }).default ?? ucs2lengthModule) as (text: string) => number;

export const REFUSED = -1;
export const FALLBACK = -2;

/** `Cursor.numberValue` is what JSON.parse makes of the literal. */
export const EXACT = 0;
/**
 * `Cursor.numberValue` is within a relative 1e-13 of the literal (at most 300 digits, taken nine at
 * a time: each of at most 35 steps of the mantissa rounding at most twice by 2^-53, the power and
 * the division once more).
 */
export const APPROXIMATE = 1;
/** Not computed: exactNumber() reads the literal's text. */
export const FROM_TEXT = 2;

export const MAX_DEPTH = JSON_LIMITS.maxDepth;
export const MAX_KEYS = JSON_LIMITS.maxKeys;
export const MAX_ITEMS = JSON_LIMITS.maxArrayItems;
export const MAX_TOTAL_BYTES = JSON_LIMITS.maxTotalBytes;
const MAX_STRING_BYTES = JSON_LIMITS.maxStringBytes;

// Const enums, so that each use compiles to its literal (a module constant is a load and a hole
// check wherever it is read).
const enum Byte {
  QUOTE = 0x22,
  BACKSLASH = 0x5c,
  MINUS = 0x2d,
  PLUS = 0x2b,
  DOT = 0x2e,
  DIGIT_0 = 0x30,
  DIGIT_9 = 0x39,
  LOWER_CASE_BIT = 0x20,
  LOWER_E = 0x65,
  LOWER_U = 0x75,
}
/** REFUSED, FALLBACK and the precisions, for this module's own hot paths. */
const enum Code {
  REFUSED = -1,
  FALLBACK = -2,
  EXACT = 0,
  APPROXIMATE = 1,
  FROM_TEXT = 2,
  /** SAFE_INTEGER_DIGITS. */
  SAFE_INTEGER_DIGITS = 16,
  /** EXACT_POWERS. */
  EXACT_POWERS = 22,
}

/** Bytes that stand for themselves in a string: printable ASCII but the quote and the backslash. */
const PLAIN_IN_STRING = Uint8Array.from({ length: 256 }, (_, byte) => (byte >= 0x20 && byte < 0x80 && byte !== Byte.QUOTE && byte !== Byte.BACKSLASH ? 1 : 0));
/** The shortest escapes: the byte after the backslash. */
const SIMPLE_ESCAPES = new Uint8Array(128);
for (const escape of '"\\/bfnrt') SIMPLE_ESCAPES[escape.charCodeAt(0)] = 1;
const HEX_DIGITS = new Uint8Array(128);
for (const digit of '0123456789abcdefABCDEF') HEX_DIGITS[digit.charCodeAt(0)] = 1;

/** 10^n as JSON.parse rounds it; exact up to 10^22. */
const EXACT_POWERS = 22;
const MAX_APPROXIMATE_DIGITS = 300;
const POWERS_OF_TEN = Float64Array.from({ length: MAX_APPROXIMATE_DIGITS + 1 }, (_, exponent) => Number(`1e${exponent}`));
/** Far above the approximation's error, far below any gap it is trusted to decide. */
const MARGIN = 1e-12;
/** Integer digits below this keep a literal exact and finite without an exponent (as parseJson's prescan). */
const SAFE_INTEGER_DIGITS = String(Number.MAX_SAFE_INTEGER).length;

/**
 * The record being checked, and what the last scan found. There is one: a check is synchronous and
 * calls nothing that could check again.
 */
export class Cursor {
  bytes: Buffer = Buffer.alloc(0);
  length = 0;
  /** The record as latin1, one character per byte, decoded once when a keyword first needs text. */
  latin1: string | null = null;
  stringStart = 0;
  stringEnd = 0;
  stringEscaped = false;
  stringNonAscii = false;
  /** UTF-8 continuation bytes of the string: its bytes minus these are its code points. */
  continuationBytes = 0;
  numberStart = 0;
  numberEnd = 0;
  numberValue = 0;
  numberPrecision: number = Code.EXACT;

  reset(bytes: Buffer): void {
    this.bytes = bytes;
    this.length = bytes.length;
    this.latin1 = null;
  }
}

export const cursor = new Cursor();

/** Small enough to be inlined where it is called: compact JSON mostly has no whitespace to skip. */
export function skipWhitespace(bytes: Buffer, at: number, length: number): number {
  return at < length && bytes[at]! <= 0x20 ? skipSpaces(bytes, at, length) : at;
}

function skipSpaces(bytes: Buffer, at: number, length: number): number {
  let index = at;
  while (index < length) {
    const byte = bytes[index]!;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break;
    index++;
  }
  return index;
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Bytes of the UTF-8 sequence at `at` when it is well formed (no overlong form, no surrogate,
 * nothing above U+10FFFF: what node's isUtf8 accepts), else 0.
 */
function utf8Sequence(bytes: Buffer, at: number, length: number): number {
  const lead = bytes[at]!;
  if (lead < 0xc2) return 0;
  if (lead < 0xe0) return at + 1 < length && isContinuation(bytes[at + 1]!) ? 2 : 0;
  if (lead < 0xf0) {
    if (at + 2 >= length) return 0;
    const second = bytes[at + 1]!;
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    return second >= low && second <= high && isContinuation(bytes[at + 2]!) ? 3 : 0;
  }
  if (lead < 0xf5) {
    if (at + 3 >= length) return 0;
    const second = bytes[at + 1]!;
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    return second >= low && second <= high && isContinuation(bytes[at + 2]!) && isContinuation(bytes[at + 3]!) ? 4 : 0;
  }
  return 0;
}

/** Length of the escape at `at` (a backslash), or 0 when JSON.parse would refuse it. */
function escapeLength(bytes: Buffer, at: number, length: number): number {
  if (at + 1 >= length) return 0;
  const kind = bytes[at + 1]!;
  if (kind < 128 && SIMPLE_ESCAPES[kind] === 1) return 2;
  if (kind !== Byte.LOWER_U || at + 5 >= length) return 0;
  for (let index = at + 2; index < at + 6; index++) {
    const digit = bytes[index]!;
    if (digit >= 128 || HEX_DIGITS[digit] !== 1) return 0;
  }
  return 6;
}

/** Scans the string whose opening quote is at `at`. */
export function scanString(at: number): number {
  const { bytes, length } = cursor;
  let index = at + 1;
  let escaped = false;
  let continuation = 0;
  for (;;) {
    if (index >= length) return Code.REFUSED;
    const byte = bytes[index]!;
    if (PLAIN_IN_STRING[byte] === 1) {
      index++;
    } else if (byte === Byte.QUOTE) {
      break;
    } else if (byte === Byte.BACKSLASH) {
      const size = escapeLength(bytes, index, length);
      if (size === 0) return Code.REFUSED;
      escaped = true;
      index += size;
    } else if (byte < 0x20) {
      return Code.REFUSED;
    } else {
      const size = utf8Sequence(bytes, index, length);
      if (size === 0) return Code.REFUSED;
      continuation += size - 1;
      index += size;
    }
  }
  // Counted between the quotes as written, as the prescan does.
  if (index - at - 1 > MAX_STRING_BYTES) return Code.REFUSED;
  cursor.stringStart = at + 1;
  cursor.stringEnd = index;
  cursor.stringEscaped = escaped;
  cursor.stringNonAscii = continuation > 0;
  cursor.continuationBytes = continuation;
  return index + 1;
}

function latin1(): string {
  return (cursor.latin1 ??= cursor.bytes.toString('latin1', 0, cursor.length));
}

/** The last string as JSON.parse decodes it. Allocates: only for keywords that need the text. */
export function stringText(): string {
  const { stringStart: start, stringEnd: end } = cursor;
  // A string with escapes is decoded by JSON.parse itself (its grammar is already checked), lone surrogates included.
  if (cursor.stringEscaped) return JSON.parse(cursor.stringNonAscii ? cursor.bytes.toString('utf8', start - 1, end + 1) : latin1().substring(start - 1, end + 1)) as string;
  if (cursor.stringNonAscii) return cursor.bytes.toString('utf8', start, end);
  return latin1().substring(start, end);
}

/** Code points of the last string, as ajv's minLength / maxLength count them. */
export function stringLength(): number {
  if (cursor.stringEscaped) return ucs2length(stringText());
  return cursor.stringEnd - cursor.stringStart - cursor.continuationBytes;
}

/** Whether the last string, unescaped, is exactly `expected` (UTF-8). */
export function stringBytesEqual(expected: Uint8Array): boolean {
  const { bytes, stringStart: start } = cursor;
  if (cursor.stringEnd - start !== expected.length) return false;
  for (let index = 0; index < expected.length; index++) if (bytes[start + index] !== expected[index]) return false;
  return true;
}

/** Distinct keys among the `count` (at most `limit`) unknown ones recorded in `spans` as start and end in the record, or -1 when that cannot be told cheaply. */
export function distinctKeys(spans: Int32Array, count: number, limit: number): number {
  if (count > limit) return -1;
  const { bytes } = cursor;
  let distinct = 0;
  for (let key = 0; key < count; key++) {
    const start = spans[2 * key]!;
    if (start < 0) return -1;
    const size = spans[2 * key + 1]! - start;
    let repeat = false;
    for (let earlier = 0; earlier < key && !repeat; earlier++) {
      const other = spans[2 * earlier]!;
      if (spans[2 * earlier + 1]! - other !== size) continue;
      let index = 0;
      while (index < size && bytes[start + index] === bytes[other + index]) index++;
      repeat = index === size;
    }
    if (!repeat) distinct++;
  }
  return distinct;
}

function isDigit(byte: number): boolean {
  return byte >= Byte.DIGIT_0 && byte <= Byte.DIGIT_9;
}

/**
 * Scans the number at `at`, for its grammar and parseJson's limits only: most keywords need no
 * value (any number, or any without a minus sign, passes them), and readNumber computes it where
 * one does. An exponent, or 16 integer digits and more, is left to parseJson: the one may overflow,
 * the other may be beyond 2^53, and both are rare in records. Every other literal is one that
 * parseJson's prescan lets through.
 */
export function scanNumber(bytes: Buffer, at: number, length: number): number {
  let index = at;
  if (bytes[index] === Byte.MINUS) index++;
  const integerStart = index;
  if (bytes[index] === Byte.DIGIT_0) {
    index++;
  } else {
    while (index < length && isDigit(bytes[index]!)) index++;
    if (index === integerStart) return Code.REFUSED;
    if (index - integerStart >= Code.SAFE_INTEGER_DIGITS) return Code.FALLBACK;
  }
  if (index < length && bytes[index] === Byte.DOT) {
    const fractionStart = ++index;
    while (index < length && isDigit(bytes[index]!)) index++;
    if (index === fractionStart) return Code.REFUSED;
  }
  if (index < length && (bytes[index]! | Byte.LOWER_CASE_BIT) === Byte.LOWER_E) {
    index++;
    if (bytes[index] === Byte.PLUS || bytes[index] === Byte.MINUS) index++;
    const exponentStart = index;
    while (index < length && isDigit(bytes[index]!)) index++;
    return index === exponentStart ? Code.REFUSED : Code.FALLBACK;
  }
  return index;
}

/**
 * Leaves in the cursor the value of the literal at `bytes[start, end)`, which scanNumber accepted
 * (so: no exponent, fewer than 16 integer digits).
 */
export function readNumber(bytes: Buffer, start: number, end: number): void {
  let index = start;
  const negative = bytes[index] === Byte.MINUS;
  if (negative) index++;
  const integerStart = index;
  // Nine digits at a time in an integer: a float multiply and add per digit would be one long chain
  // of dependent operations. Every partial mantissa not above 2^53 is exact (each is at most the
  // whole), so the mantissa is exact when it is not above MAX_SAFE_INTEGER, and above it otherwise.
  let mantissa = 0;
  let chunk = 0;
  let chunkDigits = 0;
  let fractionDigits = 0;
  for (; index < end; index++) {
    const byte = bytes[index]!;
    if (byte === Byte.DOT) {
      fractionDigits = end - index - 1;
      continue;
    }
    chunk = chunk * 10 + (byte - Byte.DIGIT_0);
    if (++chunkDigits === 9) {
      mantissa = mantissa * 1e9 + chunk;
      chunk = 0;
      chunkDigits = 0;
    }
  }
  mantissa = mantissa * POWERS_OF_TEN[chunkDigits]! + chunk;
  cursor.numberStart = start;
  cursor.numberEnd = end;
  if (mantissa <= Number.MAX_SAFE_INTEGER && fractionDigits <= Code.EXACT_POWERS) {
    // Both operands exact, so the one rounding of the division is JSON.parse's correctly rounded
    // result (and -0 stays -0, as in JSON.parse).
    const value = fractionDigits === 0 ? mantissa : mantissa / POWERS_OF_TEN[fractionDigits]!;
    cursor.numberValue = negative ? -value : value;
    cursor.numberPrecision = Code.EXACT;
  } else if (end - integerStart <= MAX_APPROXIMATE_DIGITS) {
    // JSON.stringify writes 17 significant digits for many a computed price (16.990000000000002).
    const value = mantissa / POWERS_OF_TEN[fractionDigits]!;
    cursor.numberValue = negative ? -value : value;
    cursor.numberPrecision = Code.APPROXIMATE;
  } else {
    cursor.numberPrecision = Code.FROM_TEXT;
  }
}

/** Whether the approximate last number lies clearly on one side of `bound` (always, for an absent, infinite one). */
export function clearOf(bound: number): boolean {
  if (bound === Infinity || bound === -Infinity) return true;
  const value = cursor.numberValue;
  return Math.abs(value - bound) > MARGIN * Math.abs(value);
}

/**
 * What JSON.parse makes of the last number, read from its text: Number() converts a JSON number
 * literal with the same correct rounding. For the rare literal that the approximation leaves
 * too close to a bound.
 */
export function exactNumber(): number {
  if (cursor.numberPrecision !== Code.EXACT) {
    cursor.numberValue = Number(latin1().substring(cursor.numberStart, cursor.numberEnd));
    cursor.numberPrecision = Code.EXACT;
  }
  return cursor.numberValue;
}

if (
  [Code.REFUSED, Code.FALLBACK, Code.EXACT, Code.APPROXIMATE, Code.FROM_TEXT, Code.SAFE_INTEGER_DIGITS, Code.EXACT_POWERS].join() !==
  [REFUSED, FALLBACK, EXACT, APPROXIMATE, FROM_TEXT, SAFE_INTEGER_DIGITS, EXACT_POWERS].join()
) {
  throw new Error('fast-validator-lex: constants out of step');
}
