/**
 * The number keywords of the byte-level fast path (fast-validator.ts), for a literal that the lexer
 * accepted and whose value matters to the node: short integers compared with the node's integer
 * range, every other literal through its value as JSON.parse makes it (or an approximation clear
 * of every value it is compared with).
 */
import { type FastNode, TYPE_INTEGER, TYPE_NUMBER } from './fast-node.js';
import { APPROXIMATE, EXACT, clearOf, cursor, exactNumber, readNumber } from './fast-validator-lex.js';

// Const enums, so that each use compiles to its literal (a module constant is a load and a hole
// check wherever it is read).
const enum Byte {
  MINUS = 0x2d,
  DOT = 0x2e,
  DIGIT_0 = 0x30,
}
/** TYPE_INTEGER and TYPE_NUMBER of fast-node.ts. */
const enum Type {
  INTEGER = 4,
  NUMBER = 8,
}
/** EXACT and APPROXIMATE of fast-validator-lex.ts. */
const enum Precision {
  EXACT = 0,
  APPROXIMATE = 1,
}

/**
 * The last number as JSON.parse makes it, or its approximation where that lies clearly on one side
 * of every value the node compares it with (so that every comparison comes out the same).
 */
function settledNumber(node: FastNode): number {
  if (cursor.numberPrecision === Precision.EXACT) return cursor.numberValue;
  if (cursor.numberPrecision !== Precision.APPROXIMATE) return exactNumber();
  // An approximation far from every integer is no integer, nor is the number.
  if ((node.types & Type.NUMBER) === 0 && !clearOf(Math.round(cursor.numberValue))) return exactNumber();
  // Every bound and enum number (the infinite ones are always clear).
  const compared = node.comparedNumbers;
  for (let index = 0; index < compared.length; index++) if (!clearOf(compared[index]!)) return exactNumber();
  return cursor.numberValue;
}

/** Whether `value` passes the node's number keywords, compared as ajv compares them. */
function numberPasses(node: FastNode, value: number): boolean {
  const types = node.types;
  if ((types & Type.NUMBER) === 0 && ((types & Type.INTEGER) === 0 || !Number.isInteger(value))) return false;
  if (node.hasNumberChecks && (value < node.minimum || value > node.maximum || value <= node.exclusiveMinimum || value >= node.exclusiveMaximum)) return false;
  return node.choices === null || node.choices.numbers.includes(value);
}

/** Whether the literal at `bytes[at, end)` (scanned by scanNumber) passes the node's number keywords. */
export function numberValuePasses(node: FastNode, bytes: Buffer, at: number, end: number): boolean {
  if (node.integersByRange && end - at <= SHORT_INTEGER_BYTES) {
    const verdict = shortIntegerPasses(node, bytes, at, end);
    if (verdict !== Verdict.UNKNOWN) return verdict === Verdict.PASSES;
  }
  readNumber(bytes, at, end);
  return numberPasses(node, settledNumber(node));
}

/** Literals of at most this many bytes that have no fraction are integers below 10^9: exact small integers. */
const SHORT_INTEGER_BYTES = 9;

const enum Verdict {
  FAILS = 0,
  PASSES = 1,
  UNKNOWN = 2,
}

/**
 * For a node with integersByRange and a literal of at most SHORT_INTEGER_BYTES: whether the literal
 * passes, or UNKNOWN when it has a fraction (`2.0` is an integer too, but that is the general path's
 * business). The value is summed in an integer and may come out +0 for `-0`, which every bound
 * compares alike.
 */
function shortIntegerPasses(node: FastNode, bytes: Buffer, at: number, end: number): number {
  let index = at;
  const negative = bytes[index] === Byte.MINUS;
  if (negative) index++;
  let value = 0;
  for (; index < end; index++) {
    const byte = bytes[index]!;
    if (byte === Byte.DOT) return Verdict.UNKNOWN;
    value = value * 10 + (byte - Byte.DIGIT_0);
  }
  if (negative) value = 0 - value;
  return value >= node.integerLow && value <= node.integerHigh ? Verdict.PASSES : Verdict.FAILS;
}

// The copies above must be what the other modules say.
if ([Type.INTEGER, Type.NUMBER, Precision.EXACT, Precision.APPROXIMATE].join() !== [TYPE_INTEGER, TYPE_NUMBER, EXACT, APPROXIMATE].join()) {
  throw new Error('fast-validator-number: constants out of step');
}
