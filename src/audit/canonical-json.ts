/**
 * Canonical JSON: the one byte form of a value that its hash and its signature cover. Keys are
 * sorted by UTF-16 code units, there is no whitespace, strings and numbers are written as
 * ECMAScript's JSON.stringify writes them, and the text is encoded as UTF-8: the JSON
 * Canonicalization Scheme (RFC 8785) for the values an audit record can hold. A verifier in
 * another language reproduces the bytes with any RFC 8785 library.
 */
import { hash } from 'node:crypto';
import { SealbusError } from '../errors/index.js';

/** Deeper values are refused: recursion on untrusted input must stay far from the stack limit. */
export const MAX_CANONICAL_DEPTH = 32;

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason });
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The canonical text of `value` (built by concatenation: V8 joins the pieces cheaply). */
function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw invalid(`${String(value)} has no JSON form`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      // undefined, bigint, functions, symbols: JSON.stringify would drop or reject them, so two
      // different values could share one byte form.
      throw invalid(`a ${typeof value} has no JSON form`);
  }
  if (value === null) return 'null';
  if (depth >= MAX_CANONICAL_DEPTH) throw invalid(`nested deeper than ${MAX_CANONICAL_DEPTH} levels`);
  if (Array.isArray(value)) {
    let out = '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ',';
      out += write(value[index], depth + 1);
    }
    return `${out}]`;
  }
  // Dates, Maps, Buffers and class instances have a JSON form chosen by their toJSON, if any;
  // the canonical form covers plain data only.
  if (!isPlainObject(value)) throw invalid('only plain objects, arrays and JSON scalars have a canonical form');
  const record = value as Record<string, unknown>;
  // Default sort: UTF-16 code units, as RFC 8785 orders keys.
  const keys = Object.keys(record).sort();
  let out = '{';
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    if (index > 0) out += ',';
    out += `${JSON.stringify(key)}:${write(record[key], depth + 1)}`;
  }
  return `${out}}`;
}

/**
 * `keys` sorted by UTF-16 code units, in place. An event's objects have a few dozen keys at most:
 * an insertion sort of those allocates nothing, where Array.prototype.sort takes a work copy.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 32) return keys.sort();
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index]!;
    let at = index - 1;
    while (at >= 0 && keys[at]! > key) {
      keys[at + 1] = keys[at]!;
      at--;
    }
    keys[at + 1] = key;
  }
  return keys;
}

/** Returned by `sorted` where JSON.stringify of a copy cannot give the canonical text. */
const NO_COPY: unique symbol = Symbol('no sorted copy');

/** An object key V8 enumerates before the others, whatever the insertion order: an array index. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * A copy of `value` with every object's keys inserted in canonical order, checked as `write`
 * checks it, so that the engine's own JSON.stringify writes the canonical text in one native
 * pass: the same strings, numbers and order, at a fraction of the cost of concatenating it here
 * (this runs for every audit event). NO_COPY where insertion order would not hold: a key that is
 * an array index (enumerated first, in numeric order) or `__proto__` (a setter, not a key).
 */
function sorted(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(`${String(value)} has no JSON form`);
      return value;
    case 'object':
      break;
    default:
      throw invalid(`a ${typeof value} has no JSON form`);
  }
  if (value === null) return null;
  if (depth >= MAX_CANONICAL_DEPTH) throw invalid(`nested deeper than ${MAX_CANONICAL_DEPTH} levels`);
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index++) {
      const item = sorted(value[index], depth + 1);
      if (item === NO_COPY) return NO_COPY;
      copy[index] = item;
    }
    return copy;
  }
  if (!isPlainObject(value)) throw invalid('only plain objects, arrays and JSON scalars have a canonical form');
  const record = value as Record<string, unknown>;
  const keys = sortKeys(Object.keys(record));
  const copy: Record<string, unknown> = {};
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    if (key === '__proto__' || (key.charCodeAt(0) <= 0x39 && ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1)) return NO_COPY;
    const item = sorted(record[key], depth + 1);
    if (item === NO_COPY) return NO_COPY;
    copy[key] = item;
  }
  return copy;
}

/** The canonical JSON text of `value`; throws SEALBUS_ERR_AUDIT_INVALID for anything JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  const copy = sorted(value, 0);
  return copy === NO_COPY ? write(value, 0) : JSON.stringify(copy);
}

/** The UTF-8 bytes of `canonicalJson(value)`: what hashes and signatures cover. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** Lowercase hex SHA-256 (one-shot: no Hash object per event). */
export function sha256Hex(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}
