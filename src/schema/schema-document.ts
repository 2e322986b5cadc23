/**
 * What a registered schema may be. A schema is untrusted input that every produce of its topic will
 * run: it is bounded in size and depth, may not reach outside itself (no remote `$ref`), may not
 * hold a regular expression with catastrophic backtracking, and must compile under JSON Schema
 * draft 2020-12 with ajv's strict keyword check (an unknown keyword is a typo, not a no-op).
 */
import safeRegex from 'safe-regex2';
import { SealbusError } from '../errors/index.js';
import { compileValidator, type Validator } from './validator.js';

/** A JSON Schema: an object, or `true` / `false`. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

export const SCHEMA_LIMITS = Object.freeze({
  /** Bytes of the schema as JSON. */
  maxBytes: 256 * 1024,
  /** Nesting of objects and arrays inside the schema. */
  maxDepth: 64,
  /** Nodes (objects, arrays and values) in the schema. */
  maxNodes: 50_000,
  /** Characters of one `pattern` (or `patternProperties` key). */
  maxPatternLength: 1024,
});

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_SCHEMA_INVALID', { reason }, { details: { reason } });
}

function checkPattern(pattern: unknown, pointer: string): void {
  if (typeof pattern !== 'string') return; // ajv reports the type
  if (pattern.length > SCHEMA_LIMITS.maxPatternLength) throw invalid(`${pointer} is a pattern of ${pattern.length} characters; at most ${SCHEMA_LIMITS.maxPatternLength}`);
  let compiled: RegExp;
  try {
    compiled = new RegExp(pattern, 'u');
  } catch (err) {
    throw invalid(`${pointer} is not a valid regular expression: ${(err as Error).message}`);
  }
  // Every record of the topic runs it: a pattern that can backtrack exponentially would let one
  // record stall the broker.
  if (!safeRegex(compiled)) throw invalid(`${pointer} may backtrack catastrophically (nested quantifiers); rewrite it without a repeated group that repeats`);
}

const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** Walks the schema: depth, node count, `$ref` targets and patterns. */
function walk(node: unknown, pointer: string, depth: number, budget: { nodes: number }): void {
  if (--budget.nodes < 0) throw invalid(`more than ${SCHEMA_LIMITS.maxNodes} nodes`);
  if (typeof node !== 'object' || node === null) return;
  if (depth > SCHEMA_LIMITS.maxDepth) throw invalid(`${pointer || '/'} is nested deeper than ${SCHEMA_LIMITS.maxDepth} levels`);
  if (Array.isArray(node)) {
    node.forEach((item, index) => walk(item, `${pointer}/${index}`, depth + 1, budget));
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    const at = `${pointer}/${escapePointer(key)}`;
    if ((key === '$ref' || key === '$dynamicRef') && typeof value === 'string' && !value.startsWith('#')) {
      throw invalid(`${at} refers outside the schema (${JSON.stringify(value.slice(0, 80))}); only local references (#...) are allowed`);
    }
    if (key === 'pattern') checkPattern(value, at);
    if (key === 'patternProperties' && typeof value === 'object' && value !== null) {
      for (const pattern of Object.keys(value)) checkPattern(pattern, `${at}/${escapePointer(pattern)}`);
    }
    walk(value, at, depth + 1, budget);
  }
}

/** A schema that may be registered: its JSON text (what is stored) and its compiled validator. */
export interface CheckedSchema {
  readonly text: string;
  readonly validator: Validator;
}

/**
 * Checks that `schema` may be registered; returns its text and the validator compiled to check it
 * (the registry keeps it, so that the first batch of the topic does not compile it again). Throws
 * SEALBUS_ERR_SCHEMA_INVALID naming what is wrong.
 */
export function checkSchemaDocument(schema: unknown): CheckedSchema {
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    throw invalid('a schema is a JSON object (or true / false)');
  }
  const text = JSON.stringify(schema);
  if (Buffer.byteLength(text) > SCHEMA_LIMITS.maxBytes) throw invalid(`it is ${Buffer.byteLength(text)} bytes; at most ${SCHEMA_LIMITS.maxBytes}`);
  walk(schema, '', 0, { nodes: SCHEMA_LIMITS.maxNodes });
  if (typeof schema === 'object') {
    const declared = (schema as Record<string, unknown>)['$schema'];
    if (declared !== undefined && declared !== DRAFT_2020_12 && declared !== `${DRAFT_2020_12}#`) {
      throw invalid(`$schema is ${JSON.stringify(String(declared).slice(0, 80))}; sealbus speaks draft 2020-12 (${DRAFT_2020_12})`);
    }
  }
  return { text, validator: compileValidator(schema as JsonSchema) };
}
