/**
 * Safe JSON: the native JSON.parse behind limits, for every document that comes from outside the
 * process or from disk. It lives below every other module (it depends on src/errors only), so the
 * log, the payload format and the protocol may use it as well as the server; src/schema re-exports
 * it.
 *
 * One byte-level pass over the text comes first, and refuses with SEALBUS_ERR_JSON_LIMIT:
 * - nesting deeper than `maxDepth` (recursive code downstream, JSON.stringify included, must stay
 *   far from the stack limit);
 * - a string (key or value) longer than `maxStringBytes`, counted between its quotes as written;
 * - an object with more than `maxKeys` keys or an array with more than `maxArrayItems` items;
 * - a text longer than `maxTotalBytes`;
 * - an integer literal beyond ±Number.MAX_SAFE_INTEGER: JSON.parse would silently round it, and a
 *   check of rounded data is a check of other data (a consumer in a language with 64-bit integers
 *   reads the number that was written, not the one that was checked);
 * - a number that overflows a double (`1e400`), which JSON.parse turns into Infinity.
 * A number written with a fraction or an exponent is a double for every JSON reader, so `1e20`
 * and `6.02e23` are kept as JSON.parse reads them.
 * Then JSON.parse itself, on a latin1 string when every byte is ASCII (no UTF-8 decoding), on
 * UTF-8 otherwise, after checking that the bytes are UTF-8 (a replacement character would again make
 * the checked text differ from the stored one). Its syntax errors become SEALBUS_ERR_JSON_INVALID
 * with a position and without the input (src/json/syntax-reason.ts).
 *
 * Prototype keys: JSON.parse makes `__proto__`, `constructor` and `prototype` ordinary own data
 * properties, so parsing pollutes nothing, and parseJson keeps them: data may hold such keys. The
 * danger is in what is done with the result. The rule: a parsed value is never copied into a plain
 * object with `Object.assign`, `target[key] = value` or a hand-written merge, all of which call the
 * `__proto__` setter and hand the target an attacker's prototype. Read with `Object.hasOwn`,
 * `Object.entries` or destructuring; build with object spread, `Object.fromEntries` or
 * `Object.create(null)`, which define own properties.
 */
import { isUtf8 } from 'node:buffer';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { syntaxReason } from './syntax-reason.js';

/** What parseJson accepts. Every bound is inclusive. */
export interface JsonLimits {
  /** Bytes of the whole text. */
  readonly maxTotalBytes: number;
  /** Objects and arrays open at once: 1 allows `[1]`, not `[[1]]`. */
  readonly maxDepth: number;
  /** Bytes of one string, key or value, between its quotes, escapes counted as written. */
  readonly maxStringBytes: number;
  /** Keys of one object, as written (a repeated key counts each time). */
  readonly maxKeys: number;
  /** Items of one array. */
  readonly maxArrayItems: number;
}

/**
 * The defaults, meant for records, control documents and files. Where a document is already
 * bounded by its size and legitimately holds long strings (an HTTP body with base64 values), the
 * caller raises `maxStringBytes` to that size.
 */
export const JSON_LIMITS: JsonLimits = Object.freeze({
  /** 16 MiB: the default HTTP body limit, and the largest journal frame. */
  maxTotalBytes: 16 * 1024 * 1024,
  /** Far beyond any document of sealbus, far below any stack limit. */
  maxDepth: 64,
  /** 1 MiB: the default largest record. */
  maxStringBytes: 1024 * 1024,
  /** V8 turns objects with many keys into slow dictionaries; no document of sealbus comes close. */
  maxKeys: 1000,
  /** Ten times the largest page of records the HTTP API serves. */
  maxArrayItems: 100_000,
});

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const PLUS = 0x2b;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_CASE_BIT = 0x20;
const LOWER_E = 0x65;
/** Number.MAX_SAFE_INTEGER, whose 16 digits a 16-digit integer literal is compared with. */
const MAX_SAFE_DIGITS = Buffer.from(String(Number.MAX_SAFE_INTEGER), 'latin1');

/**
 * Per open container: commas seen so far, and whether it is an object. Shared by all calls, which
 * is safe because a scan is synchronous and calls nothing that could scan again; a stack deeper
 * than RETAINED_DEPTH is allocated for its call only.
 */
let commas = new Int32Array(JSON_LIMITS.maxDepth + 1);
let isObject = new Uint8Array(JSON_LIMITS.maxDepth + 1);
const RETAINED_DEPTH = 1024;

function tooMuch(what: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_JSON_LIMIT', { what, reason }, { details: { reason } });
}

function notJson(what: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_JSON_INVALID', { what, reason }, { details: { reason } });
}

// The errors of the scan, out of its loop.
function stringTooLong(what: string, at: number, bytes: number, limit: number): SealbusError {
  return tooMuch(what, `the string at byte ${at} is ${bytes} bytes long; at most ${limit} are allowed`);
}

function tooDeep(what: string, at: number, limit: number): SealbusError {
  return tooMuch(what, `it nests deeper than ${limit} levels (at byte ${at})`);
}

function tooManyItems(what: string, at: number, object: boolean, limits: JsonLimits): SealbusError {
  const [container, items, limit] = object ? ['object', 'keys', limits.maxKeys] : ['array', 'items', limits.maxArrayItems];
  return tooMuch(what, `the ${container} at byte ${at} has more than ${limit} ${items}`);
}

function isDigit(byte: number): boolean {
  return byte >= DIGIT_0 && byte <= DIGIT_9;
}

/** Whether the `count` digits at `start` (no leading zeros) exceed Number.MAX_SAFE_INTEGER. */
function beyondSafeInteger(bytes: Uint8Array, start: number, count: number): boolean {
  if (count !== MAX_SAFE_DIGITS.length) return count > MAX_SAFE_DIGITS.length;
  for (let index = 0; index < count; index++) {
    const difference = bytes[start + index]! - MAX_SAFE_DIGITS[index]!;
    if (difference !== 0) return difference > 0;
  }
  return false;
}

/** Checks the number starting at `start`; returns the index after it. Syntax is JSON.parse's job. */
function scanNumber(bytes: Uint8Array, start: number, what: string): number {
  const length = bytes.length;
  let index = start;
  if (bytes[index] === MINUS) index++;
  let digitsStart = index;
  while (index < length && isDigit(bytes[index]!)) index++;
  let integerDigits = index - digitsStart;
  let exponent = false;
  let fraction = false;
  for (; index < length; index++) {
    const byte = bytes[index]!;
    if ((byte | LOWER_CASE_BIT) === LOWER_E) exponent = true;
    else if (byte === DOT) fraction = true;
    else if (!isDigit(byte) && byte !== PLUS && byte !== MINUS) break;
  }
  // Fewer than 16 digits and no exponent: exact, and finite. Checked first, as it is nearly always true.
  if (integerDigits < MAX_SAFE_DIGITS.length && !exponent) return index;
  if (!exponent && !fraction) {
    // Leading zeros are a syntax error; they are skipped so that JSON.parse reports it.
    while (integerDigits > 1 && bytes[digitsStart] === DIGIT_0) {
      digitsStart++;
      integerDigits--;
    }
    if (beyondSafeInteger(bytes, digitsStart, integerDigits)) {
      throw tooMuch(
        what,
        `the integer at byte ${start} (${integerDigits} digits) is beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1): ` +
          'JSON.parse would round it, and a check of the rounded number is a check of another number',
      );
    }
    return index;
  }
  const value = Number(Buffer.from(bytes.buffer, bytes.byteOffset + start, index - start).toString('latin1'));
  if (value === Infinity || value === -Infinity) {
    throw tooMuch(what, `the number at byte ${start} overflows a double: JSON.parse would make it ${value}`);
  }
  return index;
}

/** Whether only whitespace comes between `index` and the byte `close` (`]` or `}`): an empty container. */
function closesAt(bytes: Uint8Array, index: number, close: number): boolean {
  while (index < bytes.length && (bytes[index] === 0x20 || bytes[index] === 0x0a || bytes[index] === 0x0d || bytes[index] === 0x09)) index++;
  return bytes[index] === close;
}

/**
 * One pass over the text: depth, string lengths, keys and items per container, numbers. Returns
 * every byte outside structure ORed together (below 0x80: the text is ASCII).
 */
function scan(bytes: Uint8Array, limits: JsonLimits, what: string): number {
  const { maxDepth, maxStringBytes, maxKeys, maxArrayItems } = limits;
  const length = bytes.length;
  const stackSize = Math.min(maxDepth, length) + 1;
  let counts = commas;
  let kinds = isObject;
  if (counts.length < stackSize) {
    counts = new Int32Array(stackSize);
    kinds = new Uint8Array(stackSize);
    if (stackSize <= RETAINED_DEPTH + 1) [commas, isObject] = [counts, kinds];
  }
  let depth = 0;
  let seen = 0;
  for (let index = 0; index < length; index++) {
    const byte = bytes[index]!;
    if (byte === QUOTE) {
      const start = index + 1;
      let end = start;
      for (; end < length; end++) {
        const inner = bytes[end]!;
        if (inner === QUOTE) break;
        seen |= inner;
        if (inner === BACKSLASH) end++;
      }
      if (end - start > maxStringBytes) throw stringTooLong(what, index, end - start, maxStringBytes);
      index = end;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (depth >= maxDepth) throw tooDeep(what, index, maxDepth);
      // Commas count the items after the first: a limit of 0 is checked here, on the first one.
      if ((byte === OPEN_OBJECT ? maxKeys : maxArrayItems) < 1 && !closesAt(bytes, index + 1, byte + 2)) {
        throw tooManyItems(what, index, byte === OPEN_OBJECT, limits);
      }
      depth++;
      counts[depth] = 0;
      kinds[depth] = byte === OPEN_OBJECT ? 1 : 0;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (byte === COMMA) {
      // The nth comma opens item n + 1.
      if (depth > 0 && ++counts[depth]! >= (kinds[depth] === 1 ? maxKeys : maxArrayItems)) {
        throw tooManyItems(what, index, kinds[depth] === 1, limits);
      }
    } else if (byte === MINUS || isDigit(byte)) {
      index = scanNumber(bytes, index, what) - 1;
    } else {
      seen |= byte;
    }
  }
  return seen;
}

function limitsOf(overrides: Partial<JsonLimits> | undefined): JsonLimits {
  return overrides === undefined ? JSON_LIMITS : { ...JSON_LIMITS, ...overrides };
}

function parseText(text: string, ascii: boolean, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw notJson(what, syntaxReason(err, text, ascii));
  }
}

/**
 * Parses untrusted JSON within `limits` (JSON_LIMITS where not given). `what` names the document
 * in the error (`request body`, `checkpoint file`). Throws SEALBUS_ERR_JSON_LIMIT for a limit,
 * SEALBUS_ERR_JSON_INVALID for bad syntax or bytes that are not UTF-8; positions are byte offsets
 * in the UTF-8 text. See the head of this file for the rule about `__proto__` keys.
 *
 * @example parseJson(request.body, 'request body', { maxStringBytes: bodyLimit })
 */
export function parseJson(input: Buffer | string, what: string, limits?: Partial<JsonLimits>): unknown {
  const bounds = limitsOf(limits);
  // Measured before a string is encoded, so that one too long costs no copy.
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > bounds.maxTotalBytes) throw tooMuch(what, `it is ${size} bytes long; at most ${bounds.maxTotalBytes} are allowed`);
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const ascii = scan(bytes, bounds, what) < 0x80;
  if (typeof input === 'string') return parseText(input, ascii, what);
  if (ascii) return parseText(input.toString('latin1'), true, what);
  if (!isUtf8(input)) throw notJson(what, 'the bytes are not valid UTF-8');
  return parseText(input.toString('utf8'), false, what);
}

/**
 * For callers that report a refused document in their own error: `exceeds a JSON limit: <why>`
 * when `err` is parseJson's SEALBUS_ERR_JSON_LIMIT, null for anything else (bad syntax included,
 * which callers keep calling "not JSON").
 */
export function jsonLimitReason(err: unknown): string | null {
  if (!isSealbusError(err, 'SEALBUS_ERR_JSON_LIMIT')) return null;
  const reason = err.details?.['reason'];
  return `exceeds a JSON limit: ${typeof reason === 'string' ? reason : err.message}`;
}
