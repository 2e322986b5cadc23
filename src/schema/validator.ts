/**
 * Compiled validators. Each schema is compiled once (ajv, draft 2020-12) and kept by its id.
 * Untrusted input meets the validator, so it stops at the first error (never `allErrors`, whose
 * work grows with the input) and never takes `$data` (values that would steer the check).
 *
 * A record's bytes first meet the fast paths when the schema stays within their subset: parsing a
 * record into objects costs several times what ajv's check does. The shape (fast-shape.ts), one
 * RegExp for the compact records most producers write, then the byte-level pass
 * (fast-validator.ts) for any other. Only their 'valid' is taken; anything else is one safe JSON
 * parse and one call of ajv's generated code, so that every error (pointer, reason) is ajv's own.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SealbusError } from '../errors/index.js';
import { hasShape, hasShapeAt, shapeOfTree, stickyShape } from './fast-shape.js';
import { fastValidatorOf } from './fast-validator.js';
import { compileFastSchema } from './fast-validator-compile.js';
import type { JsonSchema } from './schema-document.js';
import { parseJson } from './safe-json.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

/** Why a value does not match: the JSON pointer of the failing field, and what is wrong with it. */
export interface ValidationFailure {
  readonly pointer: string;
  readonly reason: string;
}

export interface Validator {
  /** null when `value` matches. */
  validate(value: unknown): ValidationFailure | null;
  /** Parses `bytes` as bounded JSON (docs/schemas.md), then validates; a parse failure is a failure at the root. */
  validateBytes(bytes: Buffer | null): ValidationFailure | null;
  /** Whether the schema has a shape (fast-shape.ts): without one, hasShapeAt is always false. */
  readonly shaped: boolean;
  /**
   * Whether text[start, end) certainly matches by the schema's shape alone (fast-shape.ts
   * hasShapeAt), `text` being part of a records section read as latin1; false says nothing, and
   * the record goes to validateUnshaped.
   */
  hasShapeAt(text: string, start: number, end: number): boolean;
  /** validateBytes for a record hasShapeAt did not take: the shape is not tried a second time. */
  validateUnshaped(bytes: Buffer | null): ValidationFailure | null;
}

const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');
const MAX_REASON = 200;

function describe(error: ErrorObject): ValidationFailure {
  const params = error.params as Record<string, unknown>;
  let pointer = error.instancePath;
  let reason = error.message ?? 'is invalid';
  if (error.keyword === 'required') {
    pointer += `/${escapePointer(String(params['missingProperty']))}`;
    reason = 'is required';
  } else if (error.keyword === 'additionalProperties') {
    pointer += `/${escapePointer(String(params['additionalProperty']))}`;
    reason = 'is not allowed (additionalProperties)';
  } else if (error.keyword === 'enum') {
    reason = `must be one of the schema's enum values`;
  }
  return { pointer: pointer === '' ? '/' : pointer, reason: reason.slice(0, MAX_REASON) };
}

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    // Unknown keywords and formats are errors at registration, not silent no-ops; the type-level
    // strictness is left to the schema author (it refuses valid schemas).
    strict: false,
    strictSchema: true,
    strictNumbers: true,
    allErrors: false,
    $data: false,
    allowUnionTypes: true,
    validateFormats: true,
    // No loadSchema: nothing is ever fetched, and remote references are refused before compiling.
    unicodeRegExp: true,
    addUsedSchema: false,
    logger: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Compiles `schema`. Each gets its own ajv instance, so that two topics' schemas with the same
 * `$id` never meet. Throws SEALBUS_ERR_SCHEMA_INVALID with ajv's reason.
 */
export function compileValidator(schema: JsonSchema): Validator {
  let compiled: ValidateFunction;
  try {
    compiled = newAjv().compile(schema);
  } catch (err) {
    const reason = (err as Error).message.slice(0, 500);
    throw new SealbusError('SEALBUS_ERR_SCHEMA_INVALID', { reason }, { details: { reason } });
  }
  // After ajv: the fast path relies on the schema's keywords being well-formed.
  const tree = compileFastSchema(schema);
  const fast = tree === null ? null : fastValidatorOf(tree);
  const shape = tree === null ? null : shapeOfTree(tree);
  const sticky = shape === null ? null : stickyShape(shape);
  const validate = (value: unknown): ValidationFailure | null => {
    if (compiled(value)) return null;
    const first = compiled.errors?.[0];
    return first === undefined ? { pointer: '/', reason: 'does not match' } : describe(first);
  };
  const unshaped = (bytes: Buffer | null): ValidationFailure | null => {
    if (bytes === null) return validate(null);
    if (fast !== null && fast(bytes) === 'valid') return null;
    let value: unknown;
    try {
      value = parseJson(bytes, 'record');
    } catch (err) {
      return { pointer: '/', reason: ((err as Error).message ?? 'is not JSON').slice(0, MAX_REASON) };
    }
    return validate(value);
  };
  return {
    validate,
    validateBytes(bytes) {
      if (bytes !== null && shape !== null && hasShape(shape, bytes)) return null;
      return unshaped(bytes);
    },
    validateUnshaped: unshaped,
    shaped: sticky !== null,
    hasShapeAt(text, start, end) {
      return sticky !== null && hasShapeAt(sticky, text, start, end);
    },
  };
}

/** Compiled validators by schema id, the least recently used dropped beyond `capacity`. */
export class ValidatorCache {
  readonly #entries = new Map<number, Validator>();

  constructor(readonly capacity = 1000) {}

  get(id: number, schema: () => JsonSchema): Validator {
    let found = this.#entries.get(id);
    if (found !== undefined) {
      this.#entries.delete(id);
      this.#entries.set(id, found);
      return found;
    }
    found = compileValidator(schema());
    this.put(id, found);
    return found;
  }

  /** Keeps a validator already compiled for schema `id` (the registry's, from registration). */
  put(id: number, validator: Validator): void {
    this.#entries.delete(id);
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(id, validator);
  }
}
