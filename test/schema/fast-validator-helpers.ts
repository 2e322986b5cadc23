/**
 * The slow path as validateBytes ran it before the fast path existed (parseJson, then ajv), and the
 * comparison of the two verdicts, shared by the example and the property tests.
 */
import { isSealbusError } from '../../src/errors/index.js';
import { parseJson } from '../../src/json/safe-json.js';
import { compileFastValidator, type FastResult } from '../../src/schema/fast-validator.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';
import { compileValidator, type ValidationFailure, type Validator } from '../../src/schema/validator.js';

export interface Verdicts {
  readonly fast: FastResult;
  /** Whether parseJson and ajv accept the bytes. */
  readonly slow: boolean;
}

export interface Checker {
  readonly supported: boolean;
  readonly validator: Validator;
  verdicts(input: Uint8Array | string): Verdicts;
  /** What validateBytes answered before the fast path: parseJson's refusal at the root, or ajv's first error. */
  slowFailure(bytes: Buffer): ValidationFailure | null;
}

const checkers = new Map<string, Checker>();

/** The checker of `schema`, compiled once per test file (compiling with ajv is the slow part). */
export function checker(schema: JsonSchema): Checker {
  const key = JSON.stringify(schema);
  let found = checkers.get(key);
  if (found === undefined) {
    found = newChecker(schema);
    checkers.set(key, found);
  }
  return found;
}

function newChecker(schema: JsonSchema): Checker {
  const validator = compileValidator(schema);
  const fast = compileFastValidator(schema);
  return {
    supported: fast !== null,
    validator,
    slowFailure(bytes) {
      let value: unknown;
      try {
        value = parseJson(bytes, 'record');
      } catch (err) {
        return { pointer: '/', reason: ((err as Error).message ?? 'is not JSON').slice(0, 200) };
      }
      return validator.validate(value);
    },
    verdicts(input) {
      const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
      let slow: boolean;
      try {
        slow = validator.validate(parseJson(bytes, 'record')) === null;
      } catch (err) {
        if (!isSealbusError(err)) throw err;
        slow = false;
      }
      return { fast: fast === null ? 'fallback' : fast(bytes), slow };
    },
  };
}

/** A disagreement that matters, or null: 'valid' must mean accepted, 'invalid' must mean refused. */
export function conflict({ fast, slow }: Verdicts): string | null {
  if (fast === 'valid' && !slow) return 'the fast path says valid, the slow path refuses';
  if (fast === 'invalid' && slow) return 'the fast path says invalid, the slow path accepts';
  return null;
}
