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
  type PropertyTable,
  TYPE_ARRAY,
  TYPE_BOOLEAN,
  TYPE_INTEGER,
  TYPE_NULL,
  TYPE_NUMBER,
  TYPE_OBJECT,
  TYPE_STRING,
  TRACKED_KEY_BYTES,
  TRACKED_UNKNOWN_KEYS,
  compileFastSchema,
  keyHash,
} from './fast-validator-compile.js';
import {
  APPROXIMATE,
  EXACT,
  FALLBACK,
  MAX_DEPTH,
  MAX_ITEMS,
  MAX_KEYS,
  MAX_TOTAL_BYTES,
  REFUSED,
  cursor,
  clearOf,
  exactNumber,
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

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');
const NULL_BYTES = Buffer.from('null');

/** Whether a keyword failed in this record. Module state, like the cursor: a check is synchronous. */
let failed = false;
/**
 * Counts objects entered; a property stamped with the current object's count is a repeat. It wraps
 * at 2^32: a stale stamp that matches again can only make a 'fallback'.
 */
let visits = 0;
/** Where the key readKey read ends (or REFUSED): a second result without an allocation. */
let keyEnd = 0;

/**
 * The last number as JSON.parse makes it, or its approximation where that lies clearly on one side
 * of every value the node compares it with (so that every comparison comes out the same).
 */
function settledNumber(node: FastNode): number {
  if (cursor.numberPrecision === EXACT) return cursor.numberValue;
  let clear = cursor.numberPrecision === APPROXIMATE;
  // An approximation far from every integer is no integer, nor is the number.
  if (clear && (node.types & TYPE_NUMBER) === 0) clear = clearOf(Math.round(cursor.numberValue));
  if (clear && node.hasNumberChecks) clear = clearOf(node.minimum) && clearOf(node.maximum) && clearOf(node.exclusiveMinimum) && clearOf(node.exclusiveMaximum);
  if (clear && node.choices !== null) clear = node.choices.numbers.every(clearOf);
  return clear ? cursor.numberValue : exactNumber();
}

/** Whether `value` passes the node's number keywords, compared as ajv compares them. */
function numberPasses(node: FastNode, value: number): boolean {
  const types = node.types;
  if ((types & TYPE_NUMBER) === 0 && ((types & TYPE_INTEGER) === 0 || !Number.isInteger(value))) return false;
  if (node.hasNumberChecks && (value < node.minimum || value > node.maximum || value <= node.exclusiveMinimum || value >= node.exclusiveMaximum)) return false;
  return node.choices === null || node.choices.numbers.includes(value);
}

function checkNumber(node: FastNode, at: number): number {
  const end = scanNumber(at);
  if (end >= 0 && !failed && !numberPasses(node, settledNumber(node))) failed = true;
  return end;
}

function stringChosen(choices: Choices): boolean {
  if (cursor.stringEscaped) return choices.strings.includes(stringText());
  for (const expected of choices.stringBytes) if (expected !== null && stringBytesEqual(expected)) return true;
  return false;
}

function checkString(node: FastNode, at: number): number {
  const end = scanString(at);
  if (end < 0 || failed) return end;
  if ((node.types & TYPE_STRING) === 0) {
    failed = true;
  } else if (node.hasLengthChecks) {
    const length = stringLength();
    if (length < node.minLength || length > node.maxLength) failed = true;
  }
  if (!failed && node.pattern !== null && !node.pattern.test(stringText())) failed = true;
  if (!failed && node.choices !== null && !stringChosen(node.choices)) failed = true;
  return end;
}

function checkLiteral(node: FastNode, at: number, literal: Uint8Array, type: number, chosen: (choices: Choices) => boolean): number {
  const { bytes } = cursor;
  for (let index = 1; index < literal.length; index++) if (bytes[at + index] !== literal[index]) return REFUSED;
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

/** Distinct keys among the `count` unknown ones recorded in `spans`, or -1 when that cannot be told cheaply. */
function distinctKeys(spans: Int32Array, count: number): number {
  if (count > TRACKED_UNKNOWN_KEYS) return -1;
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

/** `minProperties` / `maxProperties`: ajv counts the distinct keys of the parsed object. */
function checkPropertyCount(node: FastNode, known: number, unknown: number): number {
  // Repeated unknown keys make the count anything from known + 1 to known + unknown.
  let count = known + unknown;
  const fewest = known + Math.min(unknown, 1);
  if (count !== fewest && (fewest < node.minProperties || count > node.maxProperties)) {
    const distinct = distinctKeys(node.unknownKeys!, unknown);
    if (distinct < 0) return FALLBACK;
    count = known + distinct;
  }
  if (count < node.minProperties || count > node.maxProperties) failed = true;
  return 0;
}

/** Whether the bytes at `at` are `expected` followed by a closing quote. */
function keyAt(bytes: Buffer, at: number, expected: Uint8Array): boolean {
  const size = expected.length;
  for (let index = 0; index < size; index++) if (bytes[at + index] !== expected[index]) return false;
  return bytes[at + size] === QUOTE;
}

/** The property of the key at `at` (an opening quote), or -1; in `keyEnd`, the index after the key or REFUSED. */
function readKey(table: PropertyTable | null, at: number, previous: number): number {
  if (table !== null) {
    const guess = table.following[previous]!;
    if (guess >= 0 && table.plain[guess] === 1) {
      const expected = table.bytes[guess]!;
      if (keyAt(cursor.bytes, at + 1, expected)) {
        keyEnd = at + expected.length + 2;
        return guess;
      }
    }
  }
  keyEnd = scanString(at);
  if (keyEnd < 0 || table === null) return -1;
  const property = findProperty(table);
  if (property >= 0) table.following[previous] = property;
  return property;
}

function checkObject(schemaNode: FastNode, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return REFUSED;
  let node = schemaNode;
  // An enum or const holds primitives only: no object is among them.
  if ((node.types & TYPE_OBJECT) === 0 || node.choices !== null) {
    failed = true;
    node = ANY_VALUE;
  }
  const { bytes, length } = cursor;
  const table = node.properties;
  const visit = (visits = (visits + 1) | 0);
  let keys = 0;
  let known = 0;
  let requiredSeen = 0;
  let previous = table === null ? 0 : table.count;
  let index = skipWhitespace(bytes, at + 1, length);
  if (bytes[index] === CLOSE_OBJECT) {
    index++;
  } else {
    for (;;) {
      if (bytes[index] !== QUOTE) return REFUSED;
      const property = readKey(table, index, previous);
      if (keyEnd < 0) return keyEnd;
      if (++keys > MAX_KEYS) return REFUSED;
      let child = ANY_VALUE;
      if (property >= 0) {
        // table is not null here; a known key seen twice leaves the verdict to JSON.parse and ajv.
        const { stamps, nodes, required } = table!;
        if (stamps[property] === visit) return FALLBACK;
        stamps[property] = visit;
        previous = property;
        known++;
        requiredSeen += required[property]!;
        const propertyNode = nodes[property]!;
        if (propertyNode !== null) child = propertyNode;
        else if (!node.additionalAllowed) failed = true;
      } else if (!node.additionalAllowed) {
        failed = true;
      } else if (node.unknownKeys !== null && keys - known <= TRACKED_UNKNOWN_KEYS) {
        // Only keys that went through scanString are unknown, so the cursor describes this one.
        const slot = 2 * (keys - known - 1);
        node.unknownKeys[slot] = cursor.stringEscaped || cursor.stringEnd - cursor.stringStart > TRACKED_KEY_BYTES ? -1 : cursor.stringStart;
        node.unknownKeys[slot + 1] = cursor.stringEnd;
      }
      // Each expected byte is tried before whitespace: compact JSON costs one read per byte.
      index = keyEnd;
      if (bytes[index] !== COLON) {
        index = skipWhitespace(bytes, index, length);
        if (bytes[index] !== COLON) return REFUSED;
      }
      index = checkValue(child, index + 1, depth + 1);
      if (index < 0) return index;
      let separator = bytes[index];
      if (separator !== COMMA && separator !== CLOSE_OBJECT) {
        index = skipWhitespace(bytes, index, length);
        separator = bytes[index];
      }
      if (separator === CLOSE_OBJECT) {
        index++;
        break;
      }
      if (separator !== COMMA) return REFUSED;
      index++;
      if (bytes[index] !== QUOTE) index = skipWhitespace(bytes, index, length);
    }
  }
  if (failed) return index;
  if (table !== null && requiredSeen < table.requiredCount) failed = true;
  else if (node.unknownKeys !== null && checkPropertyCount(node, known, keys - known) === FALLBACK) return FALLBACK;
  return index;
}

function checkArray(schemaNode: FastNode, at: number, depth: number): number {
  if (depth >= MAX_DEPTH) return REFUSED;
  let node = schemaNode;
  if ((node.types & TYPE_ARRAY) === 0 || node.choices !== null) {
    failed = true;
    node = ANY_VALUE;
  }
  const { bytes, length } = cursor;
  const item = node.items ?? ANY_VALUE;
  let items = 0;
  let index = skipWhitespace(bytes, at + 1, length);
  if (bytes[index] === CLOSE_ARRAY) {
    index++;
  } else {
    for (;;) {
      if (++items > MAX_ITEMS) return REFUSED;
      index = checkValue(item, index, depth + 1);
      if (index < 0) return index;
      let separator = bytes[index];
      if (separator !== COMMA && separator !== CLOSE_ARRAY) {
        index = skipWhitespace(bytes, index, length);
        separator = bytes[index];
      }
      if (separator === CLOSE_ARRAY) {
        index++;
        break;
      }
      if (separator !== COMMA) return REFUSED;
      index++;
    }
  }
  if (!failed && (items < node.minItems || items > node.maxItems)) failed = true;
  return index;
}

/** Checks the value at `at` (after any whitespace); `depth` containers are open around it. */
function checkValue(node: FastNode, at: number, depth: number): number {
  const byte = cursor.bytes[at];
  switch (byte) {
    case OPEN_OBJECT:
      return checkObject(node, at, depth);
    case OPEN_ARRAY:
      return checkArray(node, at, depth);
    case QUOTE:
      return checkString(node, at);
    case 0x74:
      return checkLiteral(node, at, TRUE_BYTES, TYPE_BOOLEAN, trueChosen);
    case 0x66:
      return checkLiteral(node, at, FALSE_BYTES, TYPE_BOOLEAN, falseChosen);
    case 0x6e:
      return checkLiteral(node, at, NULL_BYTES, TYPE_NULL, nullChosen);
    default: {
      if (byte === MINUS || (byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9)) return checkNumber(node, at);
      const start = skipWhitespace(cursor.bytes, at, cursor.length);
      return start === at ? REFUSED : checkValue(node, start, depth);
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
    end = checkValue(root, 0, 0);
    if (end >= 0 && skipWhitespace(bytes, end, bytes.length) !== bytes.length) end = REFUSED;
  } catch {
    // Nothing here is expected to throw (the stack included: depth is bounded); if anything does, ajv decides.
    end = FALLBACK;
  } finally {
    cursor.reset(EMPTY);
  }
  if (end === REFUSED) return 'invalid';
  if (end === FALLBACK) return 'fallback';
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
  if (root === null) return null;
  return (bytes) => run(root, bytes);
}
