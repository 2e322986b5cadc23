/**
 * The compiled form of a schema the byte-level fast path understands: a tree of plain nodes
 * (FastNode), built by fast-validator-compile.ts and read by fast-validator.ts and fast-shape.ts.
 * Each node holds what its keywords allow, split by JSON type, with what the fast path derives from
 * them once (which numbers pass whatever their value, the integer range, the property table).
 */

import type { BytePattern } from './fast-pattern.js';

/** JSON types as bits. A number that is an integer is both INTEGER and NUMBER. */
export const TYPE_NULL = 1;
export const TYPE_BOOLEAN = 2;
export const TYPE_INTEGER = 4;
export const TYPE_NUMBER = 8;
export const TYPE_STRING = 16;
export const TYPE_ARRAY = 32;
export const TYPE_OBJECT = 64;
const ANY_TYPE = 127;

/** FastNode.numbersPassing: which number literals pass the node's keywords whatever their value. */
export const NUMBERS_NONE = 0;
/** Those without a minus sign. */
export const NUMBERS_NON_NEGATIVE = 1;
export const NUMBERS_ALL = 2;

/** The UTF-8 of `text`, or null when it holds a lone surrogate (which UTF-8 cannot carry). */
function utf8Of(text: string): Uint8Array | null {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.toString('utf8') === text ? bytes : null;
}

/** What an `enum` or `const` allows, split by JSON type. */
export class Choices {
  nullAllowed = false;
  trueAllowed = false;
  falseAllowed = false;
  readonly numbers: number[] = [];
  readonly strings: string[] = [];
  /** UTF-8 of each string, for comparing unescaped record bytes; null when the string is not well-formed UTF-16 (no raw UTF-8 can equal it). */
  readonly stringBytes: (Uint8Array | null)[] = [];

  add(value: null | boolean | number | string): void {
    if (value === null) this.nullAllowed = true;
    else if (value === true) this.trueAllowed = true;
    else if (value === false) this.falseAllowed = true;
    else if (typeof value === 'number') this.numbers.push(value);
    else {
      this.strings.push(value);
      this.stringBytes.push(utf8Of(value));
    }
  }
}

/** Properties (by index) below this are marked seen by a bit each in the fast path, the others by stamps. */
export const SEEN_BITS = 31;

/** The properties an object node knows (named in `properties` or `required`), found by their bytes. */
export class PropertyTable {
  readonly names: string[] = [];
  readonly bytes: (Uint8Array | null)[] = [];
  /** The schema of each property; null for a name only in `required` (any value, but additional). */
  readonly nodes: (FastNode | null)[] = [];
  readonly required: number[] = [];
  /** The visit in which each property was last seen: a repeat within one object is a duplicate key. */
  stamps = new Int32Array(0);
  /**
   * The property that followed each one (at `count`: the first) in the last object seen. Records of
   * a topic mostly repeat one key order, so this guess, checked byte for byte, usually finds a key
   * in one pass over it. Only properties whose UTF-8 can be matched against a key as written are
   * ever guessed (no quote, backslash or control character, which a key would have to escape).
   */
  following = new Int32Array(0);
  /** Per property, whether it may be guessed in `following`. */
  plain = new Uint8Array(0);
  /** The required properties below SEEN_BITS, one bit each, as the fast path marks properties seen. */
  requiredBits = 0;
  /** How many properties from SEEN_BITS on are required (the fast path counts those it sees). */
  requiredStamped = 0;
  count = 0;
  /** Open addressing: index + 1 of the property in each slot, 0 for none. */
  slots = new Int32Array(0);
  mask = 0;
  readonly byName = new Map<string, number>();

  index(name: string): number {
    let found = this.byName.get(name);
    if (found === undefined) {
      found = this.names.length;
      this.names.push(name);
      this.bytes.push(utf8Of(name));
      this.nodes.push(null);
      this.required.push(0);
      this.byName.set(name, found);
    }
    return found;
  }

  seal(): void {
    let size = 8;
    while (size < this.names.length * 2) size *= 2;
    this.mask = size - 1;
    this.slots = new Int32Array(size);
    this.count = this.names.length;
    this.stamps = new Int32Array(this.count);
    this.plain = Uint8Array.from(this.bytes, (bytes) => (bytes !== null && bytes.every((byte) => byte >= 0x20 && byte !== 0x22 && byte !== 0x5c) ? 1 : 0));
    const guess = (property: number): number => (property < this.count && this.plain[property] === 1 ? property : -1);
    this.following = Int32Array.from({ length: this.count + 1 }, (_, index) => guess(index === this.count ? 0 : index + 1));
    this.bytes.forEach((bytes, index) => {
      if (bytes === null) return;
      let slot = keyHash(bytes, 0, bytes.length) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = index + 1;
    });
    this.required.forEach((flag, index) => {
      if (flag === 0) return;
      if (index < SEEN_BITS) this.requiredBits |= 1 << index;
      else this.requiredStamped++;
    });
  }
}

/** FNV-1a over the key's bytes: names such as `field1` ... `field999` must not share slots. */
export function keyHash(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let index = start; index < end; index++) hash = Math.imul(hash ^ bytes[index]!, 0x01000193);
  return hash;
}

/** One compiled (sub)schema. Every field is set in the constructor, so that every node has one shape. */
export class FastNode {
  /** Allowed types as TYPE_* bits; 0 for the `false` schema. */
  types = ANY_TYPE;
  hasNumberChecks = false;
  minimum = -Infinity;
  maximum = Infinity;
  exclusiveMinimum = -Infinity;
  exclusiveMaximum = Infinity;
  /**
   * The finite numbers the node compares a number with (its bounds, its enum / const numbers): an
   * approximated number must be clear of each (settledNumber in fast-validator.ts).
   */
  comparedNumbers = new Float64Array(0);
  /** NUMBERS_*: set by numbersPassingOf once the node is complete; NONE (compute every value) until then. */
  numbersPassing = NUMBERS_NONE;
  /**
   * Whether an integer is judged by integerLow and integerHigh alone: the node admits integers and
   * holds no enum or const. Set by finished(), like numbersPassing.
   */
  integersByRange = false;
  /** The least and greatest integers within the node's bounds (see integerRangeOf). */
  integerLow = -Infinity;
  integerHigh = Infinity;
  hasLengthChecks = false;
  minLength = 0;
  maxLength = Infinity;
  pattern: RegExp | null = null;
  /** The pattern as a byte matcher (fast-pattern.ts), when it is simple enough; else null and the RegExp decides. */
  bytePattern: BytePattern | null = null;
  /**
   * Whether a string that matches the byte pattern in place (matchInPlace) passes every keyword of
   * the node: a string, no enum or const, lengths that admit the pattern's one length.
   */
  inPlaceString = false;
  choices: Choices | null = null;
  items: FastNode | null = null;
  minItems = 0;
  maxItems = Infinity;
  properties: PropertyTable | null = null;
  additionalAllowed = true;
  minProperties = 0;
  maxProperties = Infinity;
  /**
   * Where a property count bound meets an open object: start and end of each key the schema does
   * not name (start -1 when escaped), to count the distinct ones (JSON.parse keeps one of repeats).
   */
  unknownKeys: Int32Array | null = null;

  /** Whether the node admits every value (a `true` schema, or one of annotations only). */
  get trivial(): boolean {
    return (
      this.types === ANY_TYPE &&
      !this.hasNumberChecks &&
      !this.hasLengthChecks &&
      this.pattern === null &&
      this.choices === null &&
      this.items === null &&
      this.minItems === 0 &&
      this.maxItems === Infinity &&
      this.properties === null &&
      this.additionalAllowed &&
      this.minProperties === 0 &&
      this.maxProperties === Infinity
    );
  }
}

/**
 * Keys not named by the schema, and their length, that a property count bound compares pairwise
 * before it falls back: a bound on the work one crafted record can ask for.
 */
export const TRACKED_UNKNOWN_KEYS = 64;
export const TRACKED_KEY_BYTES = 64;

/**
 * Which number literals pass every number keyword of `node` whatever their value, so that the fast
 * path need not compute it. A literal without a minus sign is +0 or more as JSON.parse reads it,
 * however it rounds or underflows (no exponent reaches the keywords: the lexer falls back on one),
 * so it passes a `minimum` of 0 or less and an `exclusiveMinimum` below 0, where ajv compares with
 * `<` and `<=`. A literal with a minus sign may still be -0 (`-0`, `-0.00`), which also passes a
 * `minimum` of 0: those are left to the value, as is every `integer`-only node (2.5 has no minus
 * sign) and every enum or const.
 */
function numbersPassingOf(node: FastNode): number {
  if ((node.types & TYPE_NUMBER) === 0 || node.choices !== null) return NUMBERS_NONE;
  if (!node.hasNumberChecks) return NUMBERS_ALL;
  const unbounded = node.maximum === Infinity && node.exclusiveMaximum === Infinity;
  return unbounded && node.minimum <= 0 && node.exclusiveMinimum < 0 ? NUMBERS_NON_NEGATIVE : NUMBERS_NONE;
}

/**
 * The integers that pass the bounds: an integer v is >= minimum exactly when it is >= ceil(minimum),
 * and > exclusiveMinimum when it is >= floor(exclusiveMinimum) + 1 (likewise above). The + 1 and
 * - 1 may round only for a bound beyond 2^53, and then the result stays beyond 2^53 on the same
 * side, which the integers it is used for (at most 9 digits) cannot reach. Signed zeros compare
 * equal, here as in ajv.
 */
export function finished(node: FastNode): FastNode {
  node.numbersPassing = numbersPassingOf(node);
  node.integersByRange = (node.types & TYPE_INTEGER) !== 0 && node.choices === null;
  node.integerLow = Math.max(Math.ceil(node.minimum), Math.floor(node.exclusiveMinimum) + 1);
  node.integerHigh = Math.min(Math.floor(node.maximum), Math.ceil(node.exclusiveMaximum) - 1);
  return node;
}

/** Admits anything: the values of unconstrained properties and items. */
export const ANY_VALUE = finished(new FastNode());
