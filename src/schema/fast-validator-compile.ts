/**
 * The schemas the byte-level fast path (fast-validator.ts) understands, compiled into a tree of
 * plain nodes. Anything outside the subset compiles to null, and that schema is then always
 * validated by ajv: the subset is kept to keywords whose ajv semantics (under the options of
 * validator.ts) can be reproduced exactly on the bytes, because a fast path that says "valid"
 * where ajv would not is a validation bypass.
 *
 * A schema reaches this compiler only after ajv compiled it, so its keywords are well-formed; the
 * checks here are a second guard, and any surprise means null rather than a guess.
 */

import { compileBytePattern } from './fast-pattern.js';
import {
  Choices,
  FastNode,
  PropertyTable,
  TYPE_ARRAY,
  TYPE_BOOLEAN,
  TYPE_INTEGER,
  TYPE_NULL,
  TYPE_NUMBER,
  TYPE_OBJECT,
  TYPE_STRING,
  TRACKED_UNKNOWN_KEYS,
  finished,
} from './fast-node.js';

const TYPE_BITS: Readonly<Record<string, number>> = {
  null: TYPE_NULL,
  boolean: TYPE_BOOLEAN,
  integer: TYPE_INTEGER,
  // ajv's "number" admits integers too.
  number: TYPE_NUMBER | TYPE_INTEGER,
  string: TYPE_STRING,
  array: TYPE_ARRAY,
  object: TYPE_OBJECT,
};

/** Keywords that never change a verdict (ajv runs without useDefaults, so `default` is inert). */
const ANNOTATIONS = new Set(['title', 'description', '$comment', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly']);

type Primitive = null | boolean | number | string;

function isPrimitive(value: unknown): value is Primitive {
  return value === null || typeof value === 'boolean' || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isBound(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Names that objects inherit from Object.prototype. ajv tests `data[name] !== undefined`, which
 * sees inherited members: `required: ["toString"]` holds for `{}`, and `properties: {toString: ...}`
 * validates a function. The bytes cannot say that, so such names stay with ajv.
 */
function inherited(name: string): boolean {
  return name in Object.prototype;
}

class Unsupported extends Error {}

function patternOf(source: string): RegExp {
  try {
    return new RegExp(source, 'u');
  } catch {
    return fail();
  }
}

function fail(): never {
  throw new Unsupported();
}

function typesOf(value: unknown): number {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) fail();
  let bits = 0;
  for (const name of list) {
    const bit = typeof name === 'string' && Object.hasOwn(TYPE_BITS, name) ? TYPE_BITS[name]! : fail();
    bits |= bit;
  }
  return bits;
}

function choicesOf(values: readonly unknown[]): Choices {
  const choices = new Choices();
  for (const value of values) (isPrimitive(value) ? choices.add(value) : fail());
  return choices;
}

/** `enum` and `const` together allow what both allow (=== equality on primitives, as ajv). */
function choicesFor(enumValue: unknown, constValue: unknown, hasConst: boolean): Choices {
  if (enumValue !== undefined && !Array.isArray(enumValue)) fail();
  // Objects and arrays compare by deep equality in ajv: not here.
  const listed = (enumValue as unknown[] | undefined) ?? [];
  if ((hasConst && !isPrimitive(constValue)) || !listed.every(isPrimitive)) fail();
  if (enumValue === undefined) return choicesOf([constValue]);
  return choicesOf(hasConst ? listed.filter((value) => value === constValue) : listed);
}

function propertiesOf(node: FastNode, properties: unknown, required: unknown): PropertyTable {
  const table = new PropertyTable();
  if (properties !== undefined) {
    if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) fail();
    for (const [name, schema] of Object.entries(properties)) {
      if (inherited(name)) fail();
      table.nodes[table.index(name)] = compileNode(schema, false);
    }
  }
  if (required !== undefined) {
    if (!Array.isArray(required)) fail();
    for (const name of required as unknown[]) {
      if (typeof name !== 'string' || inherited(name)) fail();
      table.required[table.index(name)] = 1;
    }
  }
  table.seal();
  node.properties = table;
  return table;
}

function compileObject(schema: { readonly [keyword: string]: unknown }, root: boolean): FastNode {
  const node = new FastNode();
  const has = (keyword: string): boolean => Object.hasOwn(schema, keyword);
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    switch (keyword) {
      case '$schema':
      case '$id':
        if (!root) fail();
        break;
      case '$defs':
        // Inert without a `$ref`, and no reference compiles here.
        break;
      case 'type':
        node.types = typesOf(value);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        node[keyword] = isBound(value) ? value : fail();
        node.hasNumberChecks = true;
        break;
      case 'minLength':
      case 'maxLength':
        node[keyword] = isCount(value) ? value : fail();
        node.hasLengthChecks = true;
        break;
      case 'pattern':
        // The same RegExp ajv builds (unicodeRegExp: true); without the g or y flag, test() keeps no state.
        node.pattern = typeof value === 'string' ? patternOf(value) : fail();
        node.bytePattern = compileBytePattern(value as string);
        break;
      case 'enum':
      case 'const':
        node.choices ??= choicesFor(schema['enum'], schema['const'], has('const'));
        break;
      case 'items':
        node.items = compileNode(value, false);
        break;
      case 'minItems':
      case 'maxItems':
      case 'minProperties':
      case 'maxProperties':
        node[keyword] = isCount(value) ? value : fail();
        break;
      case 'properties':
      case 'required':
        node.properties ??= propertiesOf(node, schema['properties'], schema['required']);
        break;
      case 'additionalProperties': {
        if (value === false) node.additionalAllowed = false;
        else if (!compileNode(value, false).trivial) fail();
        break;
      }
      default:
        fail();
    }
  }
  if (node.minProperties > 0 || node.maxProperties < Infinity) node.unknownKeys = new Int32Array(2 * TRACKED_UNKNOWN_KEYS);
  const inPlace = node.bytePattern;
  if (inPlace !== null && inPlace.inPlace && (node.types & TYPE_STRING) !== 0 && node.choices === null) {
    node.inPlaceString = inPlace.longest >= node.minLength && inPlace.longest <= node.maxLength;
  }
  const compared = [...(node.hasNumberChecks ? [node.minimum, node.maximum, node.exclusiveMinimum, node.exclusiveMaximum] : []), ...(node.choices?.numbers ?? [])];
  node.comparedNumbers = Float64Array.from(compared.filter((value) => Number.isFinite(value)));
  return finished(node);
}

function compileNode(schema: unknown, root: boolean): FastNode {
  if (schema === true) return finished(new FastNode());
  if (schema === false) {
    const never = new FastNode();
    never.types = 0;
    return finished(never);
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) fail();
  return compileObject(schema as { readonly [keyword: string]: unknown }, root);
}

/** The root node of `schema`, or null when it uses anything outside the fast path's subset. */
export function compileFastSchema(schema: unknown): FastNode | null {
  try {
    return compileNode(schema, true);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
}
