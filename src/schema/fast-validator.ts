/**
 * The byte-level fast path of validateBytes: one pass over a record's bytes checks the JSON grammar,
 * the limits of parseJson and the keywords of a compiled schema (fast-validator-compile.ts) without
 * building the value. Only 'valid' is trusted by the caller; 'invalid' and 'fallback' both send the
 * record through parseJson and ajv, which then give today's error. The one property that matters:
 * never 'valid' where parseJson or ajv would refuse, since that would be a validation bypass.
 *
 * Why the pass goes on after a keyword fails, instead of answering 'invalid' at once: JSON.parse
 * keeps the last of repeated keys, so a later `"qty": 2` can replace a failing `"qty": 0`. A failure
 * is therefore noted, and the pass continues until the end, answering 'fallback' if any property
 * the schema names repeats. After a failure no further keyword is evaluated.
 */
import {
  ANY_VALUE,
  type Choices,
  type FastNode,
  PropertyTable,
  TYPE_ARRAY,
  TYPE_BOOLEAN,
  TYPE_INTEGER,
  TYPE_NULL,
  TYPE_NUMBER,
  TYPE_OBJECT,
  TYPE_STRING,
  SEEN_BITS,
  NUMBERS_ALL,
  NUMBERS_NONE,
  NUMBERS_NON_NEGATIVE,
  TRACKED_KEY_BYTES,
  TRACKED_UNKNOWN_KEYS,
  keyHash,
} from './fast-node.js';
import { compileFastSchema } from './fast-validator-compile.js';
import { matchBytes, matchInPlace } from './fast-pattern.js';
import { numberValuePasses } from './fast-validator-number.js';
import {
  FALLBACK,
  MAX_DEPTH,
  MAX_ITEMS,
  MAX_KEYS,
  MAX_TOTAL_BYTES,
  REFUSED,
  cursor,
  distinctKeys,
  scanNumber,
  scanString,
  skipWhitespace,
  stringBytesEqual,
  stringLength,
  stringText,
} from './fast-validator-lex.js';

/** 'valid' is final; 'invalid' means parseJson or ajv refuses; 'fallback' means this path cannot tell. */
export type FastResult = 'valid' | 'invalid' | 'fallback';
export type FastValidator = (bytes: Uint8Array) => FastResult;

// Const enums, so that each use compiles to its literal: a module constant (let alone an imported
// one) is a load and a hole check wherever it is read, and these are read for nearly every byte.
const enum Byte {
  QUOTE = 0x22,
  COMMA = 0x2c,
  COLON = 0x3a,
  MINUS = 0x2d,
  DIGIT_0 = 0x30,
  DIGIT_9 = 0x39,
  OPEN_OBJECT = 0x7b,
  CLOSE_OBJECT = 0x7d,
  OPEN_ARRAY = 0x5b,
  CLOSE_ARRAY = 0x5d,
}
/** REFUSED and FALLBACK of fast-validator-lex.ts. */
const enum Scan {
  REFUSED = -1,
  FALLBACK = -2,
}
/** The TYPE_* bits of fast-node.ts. */
const enum Type {
  NULL = 1,
  BOOLEAN = 2,
  INTEGER = 4,
  NUMBER = 8,
  STRING = 16,
  ARRAY = 32,
  OBJECT = 64,
}
/** The NUMBERS_* of fast-node.ts. */
const enum Passing {
  NONE = 0,
  NON_NEGATIVE = 1,
  ALL = 2,
}
/** SEEN_BITS of fast-node.ts: properties whose repeat a bit in a local integer tells, without touching the table's stamps. */
const enum Seen {
  BITS = 31,
}
/** MAX_DEPTH, MAX_KEYS and MAX_ITEMS of fast-validator-lex.ts (parseJson's limits). */
const enum Limit {
  DEPTH = 64,
  KEYS = 1000,
  ITEMS = 100_000,
}
// The copies above must be what the other modules say.
if (
  [Scan.REFUSED, Scan.FALLBACK].join() !== [REFUSED, FALLBACK].join() ||
  [Limit.DEPTH, Limit.KEYS, Limit.ITEMS].join() !== [MAX_DEPTH, MAX_KEYS, MAX_ITEMS].join() ||
  Seen.BITS !== SEEN_BITS ||
  [Passing.NONE, Passing.NON_NEGATIVE, Passing.ALL].join() !== [NUMBERS_NONE, NUMBERS_NON_NEGATIVE, NUMBERS_ALL].join() ||
  [Type.NULL, Type.BOOLEAN, Type.INTEGER, Type.NUMBER, Type.STRING, Type.ARRAY, Type.OBJECT].join() !== [TYPE_NULL, TYPE_BOOLEAN, TYPE_INTEGER, TYPE_NUMBER, TYPE_STRING, TYPE_ARRAY, TYPE_OBJECT].join()
) {
  throw new Error('fast-validator: constants out of step');
}
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');
const NULL_BYTES = Buffer.from('null');

/** Whether a keyword failed in this record. Module state, like the cursor: a check is synchronous. */
let failed = false;
/**
 * Counts objects entered whose schema names more than SEEN_BITS properties; a property stamped with
 * the current object's count is a repeat. It wraps at 2^32: a stale stamp that matches again can
 * only make a 'fallback'.
 */
let visits = 0;

function checkNumber(node: FastNode, bytes: Buffer, at: number): number {
  const end = scanNumber(bytes, at, bytes.length);
  if (end < 0 || failed) return end;
  // Where the node passes every number, or every one written without a minus sign, the literal's
  // value does not matter (see numbersPassingOf in fast-node.ts).
  const passing = node.numbersPassing;
  if (passing === Passing.ALL || (passing === Passing.NON_NEGATIVE && bytes[at] !== Byte.MINUS)) return end;
  // Apart, so that the above stays small enough to be inlined where values are dispatched.
  if (!numberValuePasses(node, bytes, at, end)) failed = true;
  return end;
}

function stringChosen(choices: Choices): boolean {
  if (cursor.stringEscaped) return choices.strings.includes(stringText());
  for (const expected of choices.stringBytes) if (expected !== null && stringBytesEqual(expected)) return true;
  return false;
}

function checkString(node: FastNode, bytes: Buffer, at: number): number {
  if (node.inPlaceString) {
    // The common case of a pattern of one length (an id, a code): checked where it lies, in one pass.
    // Kept apart from the general case below, so that this part is small enough to be inlined.
    const quote = matchInPlace(node.bytePattern!, bytes, at + 1, bytes.length);
    if (quote >= 0) return quote + 1;
  }
  return checkScannedString(node, at);
}

function checkScannedString(node: FastNode, at: number): number {
  const end = scanString(at);
  if (end < 0 || failed) return end;
  if ((node.types & Type.STRING) === 0) {
    failed = true;
  } else if (node.hasLengthChecks) {
    const length = stringLength();
    if (length < node.minLength || length > node.maxLength) failed = true;
  }
  if (!failed && node.pattern !== null) {
    // Unescaped strings meet the byte matcher where it exists (a non-ASCII byte fails it, as it fails the RegExp).
    const bytePattern = node.bytePattern;
    const matched = bytePattern !== null && !cursor.stringEscaped ? matchBytes(bytePattern, cursor.bytes, cursor.stringStart, cursor.stringEnd) : node.pattern.test(stringText());
    if (!matched) failed = true;
  }
  if (!failed && node.choices !== null && !stringChosen(node.choices)) failed = true;
  return end;
}

function checkLiteral(node: FastNode, at: number, literal: Uint8Array, type: number, chosen: (choices: Choices) => boolean): number {
  const { bytes } = cursor;
  for (let index = 1; index < literal.length; index++) if (bytes[at + index] !== literal[index]) return Scan.REFUSED;
  if (!failed && ((node.types & type) === 0 || (node.choices !== null && !chosen(node.choices)))) failed = true;
  return at + literal.length;
}

const trueChosen = (choices: Choices): boolean => choices.trueAllowed;
const falseChosen = (choices: Choices): boolean => choices.falseAllowed;
const nullChosen = (choices: Choices): boolean => choices.nullAllowed;

/** Index of the last string among the table's properties, or -1. */
function findProperty(table: PropertyTable): number {
  if (cursor.stringEscaped) return table.byName.get(stringText()) ?? -1;
  const { bytes, stringStart: start, stringEnd: end } = cursor;
  const { slots, mask } = table;
  for (let slot = keyHash(bytes, start, end) & mask; ; slot = (slot + 1) & mask) {
    const entry = slots[slot]!;
    if (entry === 0) return -1;
    if (stringBytesEqual(table.bytes[entry - 1]!)) return entry - 1;
  }
}

/** `minProperties` / `maxProperties`: ajv counts the distinct keys of the parsed object. */
function checkPropertyCount(node: FastNode, known: number, unknown: number): number {
  // Repeated unknown keys make the count anything from known + 1 to known + unknown.
  let count = known + unknown;
  const fewest = known + Math.min(unknown, 1);
  if (count !== fewest && (fewest < node.minProperties || count > node.maxProperties)) {
    const distinct = distinctKeys(node.unknownKeys!, unknown, TRACKED_UNKNOWN_KEYS);
    if (distinct < 0) return Scan.FALLBACK;
    count = known + distinct;
  }
  if (count < node.minProperties || count > node.maxProperties) failed = true;
  return 0;
}

/** Whether the bytes at `at` are `expected` followed by a closing quote. */
function keyAt(bytes: Buffer, at: number, expected: Uint8Array): boolean {
  const size = expected.length;
  for (let index = 0; index < size; index++) if (bytes[at + index] !== expected[index]) return false;
  return bytes[at + size] === Byte.QUOTE;
}

/** Stands for an object node without properties, so that checkObject's locals always have one type. */
const NO_PROPERTIES = new PropertyTable();
NO_PROPERTIES.seal();

function checkObject(schemaNode: FastNode, at: number, depth: number): number {
  if (depth >= Limit.DEPTH) return Scan.REFUSED;
  let node = schemaNode;
  // An enum or const holds primitives only: no object is among them.
  if ((node.types & Type.OBJECT) === 0 || node.choices !== null) {
    failed = true;
    node = ANY_VALUE;
  }
  const { bytes, length } = cursor;
  // Read once: the calls in the loop would make every iteration load them again.
  const table = node.properties ?? NO_PROPERTIES;
  const { following, plain, stamps, nodes, required } = table;
  const names = table.bytes;
  const additionalAllowed = node.additionalAllowed;
  const unknownKeys = node.unknownKeys;
  // Only properties from SEEN_BITS on are stamped.
  const visit = table.count > Seen.BITS ? (visits = (visits + 1) | 0) : 0;
  let keys = 0;
  let known = 0;
  let requiredSeen = 0;
  /** The properties below SEEN_BITS seen in this object, one bit each (the others are stamped, and the required ones among them counted). */
  let seen = 0;
  let previous = table.count;
  let index = skipWhitespace(bytes, at + 1, length);
  if (bytes[index] === Byte.CLOSE_OBJECT) {
    index++;
  } else {
    for (;;) {
      if (bytes[index] !== Byte.QUOTE) return Scan.REFUSED;
      // The key that followed the previous one last time, compared as written; else a scan and a lookup.
      let property = following[previous]!;
      let keyEnd: number;
      if (property >= 0 && keyAt(bytes, index + 1, names[property]!)) {
        keyEnd = index + names[property]!.length + 2;
      } else {
        keyEnd = scanString(index);
        if (keyEnd < 0) return keyEnd;
        property = table.count === 0 ? -1 : findProperty(table);
        if (property >= 0 && plain[property] === 1) following[previous] = property;
      }
      if (++keys > Limit.KEYS) return Scan.REFUSED;
      let child = ANY_VALUE;
      if (property >= 0) {
        // A known key seen twice leaves the verdict to JSON.parse and ajv.
        if (property < Seen.BITS) {
          const bit = 1 << property;
          if ((seen & bit) !== 0) return Scan.FALLBACK;
          seen |= bit;
        } else {
          if (stamps[property] === visit) return Scan.FALLBACK;
          stamps[property] = visit;
          requiredSeen += required[property]!;
        }
        previous = property;
        known++;
        const propertyNode = nodes[property]!;
        if (propertyNode !== null) child = propertyNode;
        else if (!additionalAllowed) failed = true;
      } else if (!additionalAllowed) {
        failed = true;
      } else if (unknownKeys !== null && keys - known <= TRACKED_UNKNOWN_KEYS) {
        // Only keys that went through scanString are unknown, so the cursor describes this one.
        const slot = 2 * (keys - known - 1);
        unknownKeys[slot] = cursor.stringEscaped || cursor.stringEnd - cursor.stringStart > TRACKED_KEY_BYTES ? -1 : cursor.stringStart;
        unknownKeys[slot + 1] = cursor.stringEnd;
      }
      // Each expected byte is tried before whitespace: compact JSON costs one read per byte.
      index = keyEnd;
      if (bytes[index] !== Byte.COLON) {
        index = skipWhitespace(bytes, index, length);
        if (bytes[index] !== Byte.COLON) return Scan.REFUSED;
      }
      index = checkValue(child, bytes, index + 1, depth + 1);
      if (index < 0) return index;
      let separator = bytes[index];
      if (separator !== Byte.COMMA && separator !== Byte.CLOSE_OBJECT) {
        index = skipWhitespace(bytes, index, length);
        separator = bytes[index];
      }
      if (separator === Byte.CLOSE_OBJECT) {
        index++;
        break;
      }
      if (separator !== Byte.COMMA) return Scan.REFUSED;
      index++;
      if (bytes[index] !== Byte.QUOTE) index = skipWhitespace(bytes, index, length);
    }
  }
  if (failed) return index;
  if ((seen & table.requiredBits) !== table.requiredBits || requiredSeen < table.requiredStamped) failed = true;
  else if (node.unknownKeys !== null && checkPropertyCount(node, known, keys - known) === Scan.FALLBACK) return Scan.FALLBACK;
  return index;
}

function checkArray(schemaNode: FastNode, at: number, depth: number): number {
  if (depth >= Limit.DEPTH) return Scan.REFUSED;
  let node = schemaNode;
  if ((node.types & Type.ARRAY) === 0 || node.choices !== null) {
    failed = true;
    node = ANY_VALUE;
  }
  const { bytes, length } = cursor;
  const item = node.items ?? ANY_VALUE;
  let items = 0;
  let index = skipWhitespace(bytes, at + 1, length);
  if (bytes[index] === Byte.CLOSE_ARRAY) {
    index++;
  } else {
    for (;;) {
      if (++items > Limit.ITEMS) return Scan.REFUSED;
      index = checkValue(item, bytes, index, depth + 1);
      if (index < 0) return index;
      let separator = bytes[index];
      if (separator !== Byte.COMMA && separator !== Byte.CLOSE_ARRAY) {
        index = skipWhitespace(bytes, index, length);
        separator = bytes[index];
      }
      if (separator === Byte.CLOSE_ARRAY) {
        index++;
        break;
      }
      if (separator !== Byte.COMMA) return Scan.REFUSED;
      index++;
    }
  }
  if (!failed && (items < node.minItems || items > node.maxItems)) failed = true;
  return index;
}

/** Checks the value at `at` (after any whitespace); `depth` containers are open around it. */
function checkValue(node: FastNode, bytes: Buffer, at: number, depth: number): number {
  const byte = bytes[at];
  switch (byte) {
    case Byte.OPEN_OBJECT:
      return checkObject(node, at, depth);
    case Byte.OPEN_ARRAY:
      return checkArray(node, at, depth);
    case Byte.QUOTE:
      return checkString(node, bytes, at);
    default:
      if (byte === Byte.MINUS || (byte !== undefined && byte >= Byte.DIGIT_0 && byte <= Byte.DIGIT_9)) return checkNumber(node, bytes, at);
      // Apart, so that this function stays small enough to be inlined into the loops that call it.
      return checkOtherValue(node, bytes, at, depth);
  }
}

/** A literal, or whitespace before a value. */
function checkOtherValue(node: FastNode, bytes: Buffer, at: number, depth: number): number {
  switch (bytes[at]) {
    case 0x74:
      return checkLiteral(node, at, TRUE_BYTES, Type.BOOLEAN, trueChosen);
    case 0x66:
      return checkLiteral(node, at, FALSE_BYTES, Type.BOOLEAN, falseChosen);
    case 0x6e:
      return checkLiteral(node, at, NULL_BYTES, Type.NULL, nullChosen);
    default: {
      const start = skipWhitespace(bytes, at, bytes.length);
      return start === at ? Scan.REFUSED : checkValue(node, bytes, start, depth);
    }
  }
}

function run(root: FastNode, input: Uint8Array): FastResult {
  if (input.length > MAX_TOTAL_BYTES) return 'invalid';
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  cursor.reset(bytes);
  failed = false;
  let end: number;
  try {
    end = checkValue(root, bytes, 0, 0);
    if (end >= 0 && skipWhitespace(bytes, end, bytes.length) !== bytes.length) end = Scan.REFUSED;
  } catch {
    // Nothing here is expected to throw (the stack included: depth is bounded); if anything does, ajv decides.
    end = Scan.FALLBACK;
  } finally {
    cursor.reset(EMPTY);
  }
  if (end === Scan.REFUSED) return 'invalid';
  if (end === Scan.FALLBACK) return 'fallback';
  return failed ? 'invalid' : 'valid';
}

const EMPTY = Buffer.alloc(0);

/**
 * The fast validator of `schema`, or null when the schema uses anything outside the subset the
 * fast path reproduces exactly (see docs/schemas.md); such schemas are always validated by ajv.
 * `schema` must already have compiled with ajv (compileValidator does that first).
 */
export function compileFastValidator(schema: unknown): FastValidator | null {
  const root = compileFastSchema(schema);
  return root === null ? null : fastValidatorOf(root);
}

/** The fast path of an already compiled tree (validator.ts compiles one for both fast tiers). */
export function fastValidatorOf(root: FastNode): FastValidator {
  return (bytes) => run(root, bytes);
}
