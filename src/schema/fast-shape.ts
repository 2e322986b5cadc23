/**
 * The shape of a schema's typical records, as one RegExp: the first tier of validateBytes. Records
 * of a topic are mostly written by one serializer, compactly, in one key order; for those, a single
 * RegExp test (irregexp runs it as machine code, over the record's bytes read as latin1) costs about
 * a quarter of the byte-level pass of fast-validator.ts. The RegExp is built from the same compiled
 * tree (fast-validator-compile.ts) and admits only a subset of the valid records:
 *
 * - JSON without whitespace, with keys in the order of the schema's `properties` (then `required`),
 *   each at most once, and no key the schema does not name;
 * - strings of printable ASCII without escapes, so that a byte is a character (lengths and patterns
 *   count characters) and the text is well-formed UTF-8;
 * - integers of at most 15 digits and decimals without exponent, within the node's bounds as shown
 *   below (numbersOf); enum and const values as JSON.stringify writes them;
 * - nesting within the parseJson limits, array lengths within `maxItems` and maxArrayItems.
 *
 * A record it does not match goes on to the byte-level pass and ajv, which give the verdict: the
 * shape may only ever say "valid". That is the property its tests check against parseJson + ajv.
 *
 * Every piece of the RegExp matches its part of a record in at most one way (types start with
 * different characters, keys are distinct literals, byte patterns are deterministic, integer ranges
 * are disjoint by length and digits), so a record that does not match fails after a bounded amount
 * of backtracking per choice point, not an exponential one.
 */
import { type BytePattern, MAX_COUNT } from './fast-pattern.js';
import { type Choices, type FastNode, TYPE_ARRAY, TYPE_BOOLEAN, TYPE_INTEGER, TYPE_NULL, TYPE_NUMBER, TYPE_OBJECT, TYPE_STRING } from './fast-node.js';
import { compileFastSchema } from './fast-validator-compile.js';
import { MAX_DEPTH, MAX_ITEMS, MAX_KEYS } from './fast-validator-lex.js';
import { JSON_LIMITS } from './safe-json.js';

/** Records up to this size are tried against the shape: no string of one can exceed maxStringBytes. */
export const MAX_SHAPE_RECORD_BYTES = Math.min(JSON_LIMITS.maxStringBytes, JSON_LIMITS.maxTotalBytes);
/** A larger RegExp is not built: its compilation would cost more than the schemas it is for save. */
const MAX_SOURCE = 64 * 1024;
/** Containers nest at most this deep in a shape (parseJson allows MAX_DEPTH). */
const MAX_SHAPE_DEPTH = Math.min(32, MAX_DEPTH);
/** Integers of at most this many digits are exact as doubles (below 2^53). */
const DIGITS = 15;
const LARGEST = 10 ** DIGITS - 1;

/** A string's character as written without escape: printable ASCII but `"` and `\`. */
const CHAR = '[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]';

class TooLarge extends Error {}

const hex = (code: number): string => `\\x${code.toString(16).padStart(2, '0')}`;

/** `text` as a RegExp literal, every character but letters and digits escaped (latin1: one byte each). */
function literal(text: string): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    out += (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) ? text[index] : hex(code);
  }
  return out;
}

/** Whether `text` is written in a JSON string as itself, one byte per character. */
function plainAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
  }
  return true;
}

const alternatives = (parts: readonly string[]): string | null => (parts.length === 0 ? null : parts.length === 1 ? parts[0]! : `(?:${parts.join('|')})`);

const count = (min: number, max: number): string => (max === Infinity ? (min === 0 ? '*' : `{${min},}`) : min === max ? (min === 1 ? '' : `{${min}}`) : `{${min},${max}}`);

/** Long bounded runs of one character class are matched this many characters a step (repeated). */
const CHUNK = 8;

/**
 * `set` (one character) repeated min to max times. irregexp matches `{min,max}` with a counter and a
 * backtrack entry per character, at about twice the cost of `*`; a long run is matched instead in
 * steps of CHUNK characters, a fixed-length body, and the count stays exact: the optional part of n
 * = CHUNK·q + r characters is either fewer than CHUNK·q (up to q - 1 steps, then up to CHUNK - 1)
 * or CHUNK·q to n (q steps, then up to r).
 */
function repeated(set: string, min: number, max: number): string {
  const optional = max - min;
  if (max === Infinity) return `${exactly(set, min)}${set}*`;
  if (optional < 4 * CHUNK) return `${exactly(set, min)}${optional === 0 ? '' : `${set}${count(0, optional)}`}`;
  const step = `(?:${set.repeat(CHUNK)})`;
  const q = Math.floor(optional / CHUNK);
  const r = optional % CHUNK;
  const fewer = `${step}${count(0, q - 1)}${set}${count(0, CHUNK - 1)}`;
  const most = `${step}${count(q, q)}${r === 0 ? '' : `${set}${count(0, r)}`}`;
  return `${exactly(set, min)}(?:${fewer}|${most})`;
}

/** Up to this many, a fixed run of one class is written out: irregexp matches `{n}` with a counter too. */
const UNROLLED = 2 * CHUNK;

/** `set` exactly n times: written out when short, in steps of CHUNK when n is large. */
function exactly(set: string, n: number): string {
  if (n <= UNROLLED) return set.repeat(n);
  if (n < 4 * CHUNK) return `${set}${count(n, n)}`;
  const steps = Math.floor(n / CHUNK);
  const rest = n % CHUNK;
  return `(?:${set.repeat(CHUNK)})${count(steps, steps)}${rest === 0 ? '' : `${set}${count(rest, rest)}`}`;
}

const digitRange = (low: number, high: number): string => (low === high ? String(low) : `[${low}-${high}]`);
const anyDigits = (digits: number): string => exactly('[0-9]', digits);

/**
 * min to max digits of a number. The optional ones are `[0-9]*` behind a lookahead that refuses
 * more than max - min of them: irregexp runs `*` over one class as a tight loop, where `{0,n}` takes
 * a counter and a backtrack entry per digit (the record of the schema benchmarks, mostly numbers,
 * is matched in about half the time). The lookahead also refuses a longer run of digits
 * that the counted form would have split with what follows, so the shape admits no more than
 * before; and a number in a record is never followed by a digit.
 */
function digitRun(min: number, max: number): string {
  const optional = max - min;
  return `${anyDigits(min)}${optional === 0 ? '' : `(?!${anyDigits(optional + 1)})[0-9]*`}`;
}

const FRACTION = `\\.${digitRun(1, DIGITS)}`;
const ANY_NUMBER = `-?(?:0|[1-9]${digitRun(0, DIGITS - 1)})(?:${FRACTION})?`;
const NUMBER_FORM = new RegExp(`^${ANY_NUMBER}$`);
/** Any scalar (an unconstrained value, which the shape does not follow into containers). */
const ANY_SCALAR = `(?:"${CHAR}*"|${ANY_NUMBER}|true|false|null)`;

/** Decimal strings of equal length, low <= high: the RegExp of the integers between them. */
function sameLength(low: string, high: string): string {
  if (low === high) return low;
  const rest = low.length - 1;
  const first = Number(low[0]);
  const last = Number(high[0]);
  const fromAll = /^0*$/.test(low.slice(1));
  const toAll = /^9*$/.test(high.slice(1));
  if (first === last) return low[0]! + sameLength(low.slice(1), high.slice(1));
  const parts: string[] = [];
  if (!fromAll) parts.push(`${first}${sameLength(low.slice(1), '9'.repeat(rest))}`);
  const middleLow = fromAll ? first : first + 1;
  const middleHigh = toAll ? last : last - 1;
  if (middleLow <= middleHigh) parts.push(`${digitRange(middleLow, middleHigh)}${anyDigits(rest)}`);
  if (!toAll) parts.push(`${last}${sameLength('0'.repeat(rest), high.slice(1))}`);
  return alternatives(parts)!;
}

/** The RegExp of the integers in [low, high], 0 <= low, written without sign or leading zero. */
function magnitudes(low: number, high: number): string | null {
  const top = Math.min(high, LARGEST);
  if (low > top) return null;
  const parts: string[] = [];
  /** A run of lengths whose every integer is in range, from `fullFrom` digits: `[1-9][0-9]{m,n}` once. */
  let fullFrom = 0;
  const endRun = (digits: number): void => {
    if (fullFrom === 0) return;
    parts.push(`[1-9]${digitRun(fullFrom - 1, digits - 1)}`);
    fullFrom = 0;
  };
  const lengths = String(top).length;
  for (let digits = String(low).length; digits <= lengths; digits++) {
    const floor = digits === 1 ? 0 : 10 ** (digits - 1);
    const from = Math.max(low, floor);
    const to = Math.min(top, 10 ** digits - 1);
    // One digit counts from 1: 0, when in range, is a part of its own.
    if (digits === 1 && from === 0 && to === 9) parts.push('0');
    if ((digits > 1 ? from === floor : from <= 1) && to === 10 ** digits - 1) {
      if (fullFrom === 0) fullFrom = digits;
      if (digits === lengths) endRun(digits);
      continue;
    }
    endRun(digits - 1);
    parts.push(sameLength(String(from), String(to)));
  }
  return alternatives(parts);
}

/**
 * Number literals the node admits whatever they round to. An integer part I with a fraction is a
 * value in [I, I + 1] once parsed (I is exact below 2^53, and rounding is monotonic), so within the
 * bounds when I and I + 1 are both within integerLow and integerHigh (which are within the bounds,
 * exclusive ones included); a negative one, -I.F, lies in [-(I + 1), -I].
 */
function numbersOf(node: FastNode): string | null {
  const parts: string[] = [];
  if ((node.types & TYPE_NUMBER) !== 0 && !node.hasNumberChecks) return ANY_NUMBER;
  const low = node.integerLow;
  const high = node.integerHigh;
  const decimals = (node.types & TYPE_NUMBER) !== 0;
  // Each sign: integers, and integer parts that may take a fraction (one part when they are the same).
  const side = (sign: string, whole: string | null, fractional: string | null): void => {
    if (whole !== null && whole === fractional) parts.push(`${sign}${whole}(?:${FRACTION})?`);
    else {
      if (whole !== null) parts.push(`${sign}${whole}`);
      if (fractional !== null) parts.push(`${sign}${fractional}${FRACTION}`);
    }
  };
  side('', high >= 0 ? magnitudes(Math.max(0, low), high) : null, decimals && high >= 1 ? magnitudes(Math.max(0, low), high - 1) : null);
  side('-', low <= -1 ? magnitudes(Math.max(1, -high), -low) : null, decimals && low <= -1 ? magnitudes(Math.max(0, -high), -low - 1) : null);
  return alternatives(parts);
}

/** Whether a string of `text` passes the node's string keywords (ajv counts code points; here ASCII). */
function stringPasses(node: FastNode, text: string): boolean {
  return text.length >= node.minLength && text.length <= node.maxLength && (node.pattern === null || node.pattern.test(text));
}

function numberPasses(node: FastNode, value: number): boolean {
  if ((node.types & (Number.isInteger(value) ? TYPE_INTEGER : TYPE_NUMBER)) === 0) return false;
  return value >= node.minimum && value <= node.maximum && value > node.exclusiveMinimum && value < node.exclusiveMaximum;
}

/** The enum / const values the node's other keywords let through, each as JSON.stringify writes it. */
function choicesOf(node: FastNode, choices: Choices): string | null {
  const parts: string[] = [];
  if (choices.nullAllowed && (node.types & TYPE_NULL) !== 0) parts.push('null');
  if (choices.trueAllowed && (node.types & TYPE_BOOLEAN) !== 0) parts.push('true');
  if (choices.falseAllowed && (node.types & TYPE_BOOLEAN) !== 0) parts.push('false');
  for (const value of choices.numbers) {
    const written = String(value);
    // Only in the forms numbers take elsewhere in a shape (parseJson refuses integers beyond 2^53).
    if (numberPasses(node, value) && NUMBER_FORM.test(written) && JSON.parse(written) === value) parts.push(literal(written));
  }
  if ((node.types & TYPE_STRING) !== 0) {
    for (const text of choices.strings) if (plainAscii(text) && stringPasses(node, text)) parts.push(`"${literal(text)}"`);
  }
  return alternatives(parts);
}

/** A class of the byte pattern as a RegExp class of the characters a plain string holds; null when empty. */
function classOf(pattern: BytePattern, element: number): string | null {
  let out = '';
  for (let code = 0x20; code <= 0x7e; code++) {
    if (code === 0x22 || code === 0x5c || pattern.classes[128 * element + code] !== 1) continue;
    let end = code;
    while (end + 1 <= 0x7e && end + 1 !== 0x22 && end + 1 !== 0x5c && pattern.classes[128 * element + end + 1] === 1) end++;
    out += end === code ? hex(code) : `${hex(code)}-${hex(end)}`;
    code = end;
  }
  return out === '' ? null : `[${out}]`;
}

function stringsOf(node: FastNode): string | null {
  const { minLength, maxLength } = node;
  if (minLength > maxLength) return null;
  if (node.pattern === null) return `"${repeated(CHAR, minLength, maxLength)}"`;
  const pattern = node.bytePattern;
  if (pattern === null) return null;
  let body = '';
  for (let element = 0; element < pattern.count; element++) {
    const max = pattern.maximums[element]!;
    const min = pattern.minimums[element]!;
    const set = classOf(pattern, element);
    if (set === null) {
      if (min > 0) return null;
      continue;
    }
    // MAX_COUNT stands for unbounded (`*`, `+`, `{n,}`); no string of a shaped record is that long.
    body += repeated(set, min, max >= MAX_COUNT ? Infinity : max);
  }
  const lengthsHold = pattern.shortest >= minLength && pattern.longest <= maxLength;
  return `"${lengthsHold ? '' : `(?=${repeated(CHAR, minLength, maxLength)}")`}${body}"`;
}

function arraysOf(node: FastNode, depth: number): string | null {
  const max = Math.min(node.maxItems, MAX_ITEMS);
  const min = node.minItems;
  if (min > max || depth >= MAX_SHAPE_DEPTH) return null;
  const item = node.items === null ? ANY_SCALAR : shapeOf(node.items, depth + 1);
  if (item === null || max === 0) return min === 0 ? '\\[\\]' : null;
  const rest = `(?:,${item})${count(Math.max(0, min - 1), max - 1)}`;
  return min === 0 ? `\\[(?:${item}${rest})?\\]` : `\\[${item}${rest}\\]`;
}

/**
 * Objects whose keys are the named properties in table order, each at most once. A key is preceded
 * by a comma unless it comes right after the object's `{` (no value ends with `{`, so the
 * lookbehind sees the object's own brace).
 */
function objectsOf(node: FastNode, depth: number): string | null {
  const table = node.properties;
  if (depth >= MAX_SHAPE_DEPTH) return null;
  if (table === null) return node.minProperties === 0 ? '\\{\\}' : null;
  if (table.count > MAX_KEYS) return null;
  let body = '';
  let required = 0;
  let named = 0;
  /** Whether a required key has been placed: every later key then follows a comma. */
  let placed = false;
  for (let index = 0; index < table.count; index++) {
    const child = table.nodes[index];
    const value = child === null ? (node.additionalAllowed ? ANY_SCALAR : null) : shapeOf(child!, depth + 1);
    const name = table.names[index]!;
    const usable = value !== null && plainAscii(name);
    if (table.required[index] === 1) {
      if (!usable) return null;
      required++;
    } else if (!usable) continue;
    named++;
    // Before it: nothing when no key can precede it, a comma when one must, else decided by the lookbehind.
    const separator = placed ? ',' : named === 1 ? '' : '(?:(?<!\\{),|(?<=\\{))';
    const entry = `${separator}"${literal(name)}":${value}`;
    if (table.required[index] === 1) placed = true;
    body += table.required[index] === 1 ? entry : `(?:${entry})?`;
  }
  if (required < node.minProperties || named > node.maxProperties) return null;
  return `\\{${body}\\}`;
}

function shapeOf(node: FastNode, depth: number): string | null {
  const source = node.choices === null ? typesOf(node, depth) : choicesOf(node, node.choices);
  if (source !== null && source.length > MAX_SOURCE) throw new TooLarge();
  return source;
}

function typesOf(node: FastNode, depth: number): string | null {
  const { types } = node;
  const parts = [
    (types & TYPE_OBJECT) !== 0 ? objectsOf(node, depth) : null,
    (types & TYPE_ARRAY) !== 0 ? arraysOf(node, depth) : null,
    (types & TYPE_STRING) !== 0 ? stringsOf(node) : null,
    (types & (TYPE_INTEGER | TYPE_NUMBER)) !== 0 ? numbersOf(node) : null,
    (types & TYPE_BOOLEAN) !== 0 ? '(?:true|false)' : null,
    (types & TYPE_NULL) !== 0 ? 'null' : null,
  ];
  return alternatives(parts.filter((part) => part !== null));
}

/** The shape RegExp of `schema`, or null when the schema is outside the fast subset or admits no shape. */
export function compileShape(schema: unknown): RegExp | null {
  const root = compileFastSchema(schema);
  return root === null ? null : shapeOfTree(root);
}

/** The shape RegExp of an already compiled tree (validator.ts compiles one for both fast tiers), or null. */
export function shapeOfTree(root: FastNode): RegExp | null {
  try {
    const source = shapeOf(root, 0);
    return source === null ? null : new RegExp(`^(?:${source})$`);
  } catch (err) {
    if (err instanceof TooLarge) return null;
    throw err;
  }
}

/** The shape as a sticky RegExp, for hasShapeAt. */
export function stickyShape(shape: RegExp): RegExp {
  // shapeOfTree writes `^(?:…)$`: the same body, matched where lastIndex says instead of anchored.
  return new RegExp(shape.source.slice(1, -1), 'y');
}

/**
 * Whether text[start, end) has the shape, `text` being part of a records section read as latin1:
 * the record is then valid, as with hasShape, without a string or a view of its own. The match must
 * end exactly at `end` (the matched text is then the record's); where it stops short (a root number
 * whose range matched a prefix) the answer is false and the caller's other tiers decide. A match
 * that runs on past `end` stops within a few bytes: every character a shape matches is printable
 * ASCII, and the length field after a key or a value (a value's length, a header count) has a top
 * byte below 0x20 for any length a batch can hold.
 */
export function hasShapeAt(sticky: RegExp, text: string, start: number, end: number): boolean {
  if (end - start > MAX_SHAPE_RECORD_BYTES) return false;
  sticky.lastIndex = start;
  try {
    return sticky.test(text) && sticky.lastIndex === end;
  } catch {
    return false;
  }
}

/** Whether `bytes` (at most MAX_SHAPE_RECORD_BYTES) has the shape: then the record is valid. */
export function hasShape(shape: RegExp, bytes: Buffer): boolean {
  if (bytes.length > MAX_SHAPE_RECORD_BYTES) return false;
  try {
    return shape.test(bytes.toString('latin1'));
  } catch {
    // irregexp out of backtracking stack on a huge record: the byte-level pass decides.
    return false;
  }
}
