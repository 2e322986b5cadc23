/**
 * Byte matchers for the simplest `pattern`s, run by the fast path (fast-validator.ts) on a string's
 * bytes where they lie in the record: no slice, no decoding, no RegExp. A pattern qualifies when it
 * is anchored at both ends (`^...$`) and between them is a sequence of ASCII character classes or
 * literal characters, each with an optional quantifier (`?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`):
 * `^[A-Z]{3}-[0-9]{4}$`, `^[a-z0-9-]+$`, `^v\d+\.\d+$`. Every other pattern (alternatives, groups,
 * negated classes, `.`, `\s`, lookarounds, ...) keeps its RegExp.
 *
 * A matcher answers what `new RegExp(source, 'u').test(text)` answers, for the strings it is given:
 * those written without escapes, as UTF-8 (the caller hands escaped ones to the RegExp). Every
 * class here holds printable ASCII only, with no flag that could widen it (`\d` and `\w` are ASCII
 * under `u` without `i`): on ASCII a code unit is a byte, and a string with any other character
 * (a byte of 0x80 and above) matches neither the matcher nor the RegExp.
 *
 * The matcher is greedy and never backtracks, so a pattern qualifies only where greed cannot go
 * wrong: each element whose count may vary has a class disjoint from those of the elements after
 * it, up to and including the first that cannot be empty. In any match, the character that follows
 * that element's part of the string is taken by one of those, so is none of its characters; its
 * part is therefore the longest run of its characters at that point, which is exactly what greed
 * takes (a run longer than its maximum leaves a character that none of those can take, and greed
 * then fails as every match would). Whatever greed matches is a match, so it never says more.
 */

/** At most this many elements: a bound on the matcher's tables, and patterns beyond it are rare. */
const MAX_ELEMENTS = 32;
/** Counts above this are left to the RegExp (a bound the compiler can hold without overflow worries). */
export const MAX_COUNT = 1 << 20;
/** Characters that stand for themselves outside a class under `u` (letters, digits, a few marks). */
const LITERAL_OUTSIDE = /^[A-Za-z0-9 _\-:@,=!#%&'"<>~;`]$/;
/** Characters that stand for themselves inside a class (where `-` and `^` are handled apart). */
const LITERAL_INSIDE = /^[A-Za-z0-9 _:@,=!#%&'"<>~;`.*+?(){}|$/]$/;
/** Escapes of syntax characters, which `u` allows and which stand for the character. */
const ESCAPED_SYNTAX = '^$\\.*+?()[]{}|/';

/** Patterns whose every match has one length up to this are also compiled to one class per position. */
const MAX_FIXED_LENGTH = 64;

/** A compiled pattern: per element, a 128-entry class (flattened), a minimum and a maximum count. */
export class BytePattern {
  /**
   * When every match has the same length (no count varies) of at most MAX_FIXED_LENGTH: the class of
   * each position, `positions[128 * position + byte]`, checked in one loop; else empty.
   */
  readonly positions: Uint8Array;
  /**
   * Whether no position admits a byte that a JSON string must escape (`"`, `\`): then a string
   * whose bytes as written pass every position and end with a quote is that very text, and matches.
   */
  readonly inPlace: boolean;

  constructor(
    /** `classes[128 * element + byte]` is 1 when the element admits the ASCII byte. */
    readonly classes: Uint8Array,
    readonly minimums: Int32Array,
    readonly maximums: Int32Array,
    readonly count: number,
    /** The fewest and most bytes a match can span (most: MAX_COUNT * elements at worst, never overflowing). */
    readonly shortest: number,
    readonly longest: number,
  ) {
    const fixed = shortest === longest && longest <= MAX_FIXED_LENGTH;
    this.positions = new Uint8Array(fixed ? 128 * longest : 0);
    if (fixed) {
      let position = 0;
      for (let element = 0; element < count; element++) {
        for (let repeat = 0; repeat < minimums[element]!; repeat++) this.positions.set(classes.subarray(128 * element, 128 * element + 128), 128 * position++);
      }
    }
    let escapable = false;
    // Control characters cannot be in a class here; checked all the same, as JSON.parse refuses them raw.
    for (let position = 0; position < longest && fixed; position++) {
      for (let byte = 0; byte < 128; byte++) {
        if (this.positions[128 * position + byte] === 1 && (byte < 0x20 || byte === 0x22 || byte === 0x5c)) escapable = true;
      }
    }
    this.inPlace = fixed && !escapable;
  }
}

class Unsupported extends Error {}

function unsupported(): never {
  throw new Unsupported();
}

/** The class of `\d` or `\w`, added to `into`; false for any other escape letter. */
function addClassEscape(letter: string, into: Uint8Array): boolean {
  if (letter === 'd') {
    for (let byte = 0x30; byte <= 0x39; byte++) into[byte] = 1;
    return true;
  }
  if (letter === 'w') {
    for (let byte = 0; byte < 128; byte++) if (/^[A-Za-z0-9_]$/.test(String.fromCharCode(byte))) into[byte] = 1;
    return true;
  }
  return false;
}

/** Parses a class at `at` (after its `[`); returns the index after its `]`. */
function parseClass(source: string, at: number, into: Uint8Array): number {
  let index = at;
  if (source[index] === '^' || source[index] === ']') unsupported();
  /** The last single character added, which a following `-` may turn into a range; -1 after a class escape. */
  let previous = -1;
  for (;;) {
    const char = source[index];
    if (char === undefined) unsupported();
    if (char === ']') return index + 1;
    if (char === '-') {
      const next = source[index + 1];
      // A `-` first or last stands for itself.
      if (index === at || next === ']') {
        into[0x2d] = 1;
        previous = 0x2d;
        index++;
        continue;
      }
      if (previous < 0 || next === undefined) unsupported();
      let high: number;
      if (LITERAL_INSIDE.test(next)) {
        high = next.charCodeAt(0);
        index += 2;
      } else if (next === '\\' && source[index + 2] !== undefined && (ESCAPED_SYNTAX.includes(source[index + 2]!) || source[index + 2] === '-')) {
        high = source.charCodeAt(index + 2);
        index += 3;
      } else {
        return unsupported();
      }
      if (high < previous) unsupported();
      for (let byte = previous; byte <= high; byte++) into[byte] = 1;
      // `a-c-e` would be a range then a literal `-`: left to the RegExp.
      if (source[index] === '-' && source[index + 1] !== ']') unsupported();
      previous = -1;
      continue;
    }
    if (char === '\\') {
      const letter = source[index + 1];
      if (letter === undefined) unsupported();
      if (ESCAPED_SYNTAX.includes(letter) || letter === '-') {
        previous = letter.charCodeAt(0);
        into[previous] = 1;
      } else if (addClassEscape(letter, into)) {
        previous = -1;
        if (source[index + 2] === '-' && source[index + 3] !== ']') unsupported();
      } else {
        unsupported();
      }
      index += 2;
      continue;
    }
    if (!LITERAL_INSIDE.test(char)) unsupported();
    previous = char.charCodeAt(0);
    into[previous] = 1;
    index++;
  }
}

/** Parses a quantifier at `at`, if any: [min, max, index after it]. */
function parseQuantifier(source: string, at: number): [number, number, number] {
  const char = source[at];
  let result: [number, number, number];
  if (char === '?') result = [0, 1, at + 1];
  else if (char === '*') result = [0, MAX_COUNT, at + 1];
  else if (char === '+') result = [1, MAX_COUNT, at + 1];
  else if (char === '{') {
    const match = /^\{(\d{1,6})(,(\d{0,6}))?\}/.exec(source.slice(at));
    if (match === null) return unsupported();
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : match[3] === '' ? MAX_COUNT : Number(match[3]);
    if (min > max || max > MAX_COUNT) unsupported();
    result = [min, max, at + match[0].length];
  } else {
    return [1, 1, at];
  }
  // A lazy quantifier, or a quantifier on a quantifier: left to the RegExp.
  const after = source[result[2]];
  if (after === '?' || after === '*' || after === '+' || after === '{') unsupported();
  return result;
}

function parse(source: string): BytePattern {
  if (!source.startsWith('^') || !source.endsWith('$') || source.length < 2) unsupported();
  // `\$` at the end is an escaped dollar, not an anchor.
  let backslashes = 0;
  for (let index = source.length - 2; index >= 0 && source[index] === '\\'; index--) backslashes++;
  if (backslashes % 2 === 1) unsupported();
  const body = source.slice(1, -1);
  const classes: Uint8Array[] = [];
  const minimums: number[] = [];
  const maximums: number[] = [];
  let index = 0;
  while (index < body.length) {
    const set = new Uint8Array(128);
    const char = body[index]!;
    if (char === '[') {
      index = parseClass(body, index + 1, set);
    } else if (char === '\\') {
      const letter = body[index + 1];
      if (letter === undefined) unsupported();
      if (ESCAPED_SYNTAX.includes(letter)) set[letter.charCodeAt(0)] = 1;
      else if (!addClassEscape(letter, set)) unsupported();
      index += 2;
    } else if (LITERAL_OUTSIDE.test(char)) {
      set[char.charCodeAt(0)] = 1;
      index++;
    } else {
      unsupported();
    }
    const [min, max, next] = parseQuantifier(body, index);
    index = next;
    classes.push(set);
    minimums.push(min);
    maximums.push(max);
    if (classes.length > MAX_ELEMENTS) unsupported();
  }
  // Greed is exact only where a varying element shares no character with what may follow it: the
  // later elements up to the first that cannot be empty (which takes the next character, if no
  // element before it does).
  for (let element = 0; element < classes.length; element++) {
    if (minimums[element] === maximums[element]) continue;
    for (let later = element + 1; later < classes.length; later++) {
      for (let byte = 0; byte < 128; byte++) if (classes[element]![byte] === 1 && classes[later]![byte] === 1) unsupported();
      if (minimums[later]! > 0) break;
    }
  }
  const flat = new Uint8Array(128 * classes.length);
  classes.forEach((set, element) => flat.set(set, 128 * element));
  const shortest = minimums.reduce((sum, min) => sum + min, 0);
  const longest = maximums.reduce((sum, max) => sum + max, 0);
  return new BytePattern(flat, Int32Array.from(minimums), Int32Array.from(maximums), classes.length, shortest, longest);
}

/** The byte matcher of a `pattern`, or null when the pattern is outside the subset above. */
export function compileBytePattern(source: string): BytePattern | null {
  try {
    return parse(source);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
}

/**
 * Whether `bytes[start, end)`, a JSON string's content written without escapes, matches the
 * pattern. Bytes of 0x80 and above never match (no class holds them).
 */
export function matchBytes(pattern: BytePattern, bytes: Uint8Array, start: number, end: number): boolean {
  const size = end - start;
  if (size < pattern.shortest || size > pattern.longest) return false;
  const positions = pattern.positions;
  if (positions.length > 0) {
    // One length, one class per position.
    for (let position = 0; position < size; position++) {
      const byte = bytes[start + position]!;
      if (byte >= 128 || positions[(position << 7) + byte] !== 1) return false;
    }
    return true;
  }
  const { classes, minimums, maximums, count } = pattern;
  let index = start;
  for (let element = 0; element < count; element++) {
    const base = element << 7;
    const min = minimums[element]!;
    const max = maximums[element]!;
    let taken = 0;
    // Greedy: the longest run of the class's characters, up to the maximum.
    while (taken < max && index < end) {
      const byte = bytes[index]!;
      if (byte >= 128 || classes[base + byte] !== 1) break;
      index++;
      taken++;
    }
    if (taken < min) return false;
  }
  return index === end;
}

/**
 * For an `inPlace` pattern: the index of the closing quote when the string whose first byte (after
 * its opening quote) is at `start` is, as written, a match of the pattern; else -1, and the string
 * must go through the general scan (it may still match, written with escapes).
 */
export function matchInPlace(pattern: BytePattern, bytes: Uint8Array, start: number, length: number): number {
  const size = pattern.longest;
  const end = start + size;
  if (end >= length || bytes[end] !== 0x22) return -1;
  const positions = pattern.positions;
  for (let position = 0; position < size; position++) {
    const byte = bytes[start + position]!;
    if (byte >= 128 || positions[(position << 7) + byte] !== 1) return -1;
  }
  return end;
}
