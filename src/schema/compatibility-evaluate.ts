/**
 * Three-valued validation of one concrete value against a side: true, false, or undefined when the
 * schema uses something this module does not evaluate (then the checker falls back on structure).
 *
 * Used where the narrow schema is a finite set of values (`enum`, `const`, `type: "null"`): every such
 * value must then be accepted by the wide schema. Follows ajv's rules (lengths in code points, `u` regexes).
 */
import { MAX_DEPTH, childSide, isIgnorable, type Comparison, type Side } from './compatibility-context.js';
import { isPlainObject, type SchemaObject } from './compatibility-json.js';

export type Truth = boolean | undefined;

function and(left: Truth, right: Truth): Truth {
  if (left === false || right === false) return false;
  return left === undefined || right === undefined ? undefined : true;
}

function or(left: Truth, right: Truth): Truth {
  if (left === true || right === true) return true;
  return left === undefined || right === undefined ? undefined : false;
}

function not(value: Truth): Truth {
  return value === undefined ? undefined : !value;
}

export type JsonTypeName = 'null' | 'boolean' | 'object' | 'array' | 'number' | 'integer' | 'string';

export function typeOfValue(value: unknown): JsonTypeName | undefined {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'string') return typeof value as 'boolean' | 'string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (Array.isArray(value)) return 'array';
  return isPlainObject(value) ? 'object' : undefined;
}

export function evaluate(context: Comparison, value: unknown, side: Side): Truth {
  if (!context.tick()) return undefined;
  const schema = side.schema;
  if (schema === true || schema === false) return schema;
  if (!isPlainObject(schema) || context.depth >= MAX_DEPTH) return undefined;
  context.depth += 1;
  try {
    let result: Truth = true;
    for (const keyword of Object.keys(schema)) {
      if (isIgnorable(keyword, side)) continue;
      result = and(result, evaluateKeyword(context, value, side, schema, keyword));
      if (result === false) return false;
    }
    return result;
  } finally {
    context.depth -= 1;
  }
}

function evaluateKeyword(context: Comparison, value: unknown, side: Side, schema: SchemaObject, keyword: string): Truth {
  const argument = schema[keyword];
  switch (keyword) {
    case '$ref': {
      if (typeof argument !== 'string') return undefined;
      const target = context.resolve(side, argument);
      return typeof target === 'string' ? undefined : evaluate(context, value, target);
    }
    case 'type':
      return matchesType(value, argument);
    case 'enum':
      return Array.isArray(argument) ? argument.some((option) => context.memo.equal(option, value)) : undefined;
    case 'const':
      return context.memo.equal(argument, value);
    case 'allOf':
    case 'anyOf':
    case 'oneOf':
      return evaluateCombination(context, value, side, keyword, argument);
    case 'not':
      return not(evaluate(context, value, childSide(side, 'not')));
    case 'if':
      return evaluateConditional(context, value, side, schema);
    case 'then':
    case 'else':
    case 'minContains':
    case 'maxContains':
      return true; // evaluated with `if` and `contains`
    default:
      return evaluateTyped(context, value, side, schema, keyword);
  }
}

function matchesType(value: unknown, argument: unknown): Truth {
  const actual = typeOfValue(value);
  const names = typeof argument === 'string' ? [argument] : argument;
  if (!Array.isArray(names) || actual === undefined) return undefined;
  return names.some((name) => name === actual || (name === 'number' && actual === 'integer'));
}

function evaluateCombination(context: Comparison, value: unknown, side: Side, keyword: string, argument: unknown): Truth {
  if (!Array.isArray(argument)) return undefined;
  const results = argument.map((_, index) => evaluate(context, value, childSide(side, keyword, index)));
  if (keyword === 'allOf') return results.reduce<Truth>(and, true);
  if (keyword === 'anyOf') return results.reduce<Truth>(or, false);
  const matches = results.filter((result) => result === true).length;
  if (matches > 1) return false;
  return results.includes(undefined) ? undefined : matches === 1;
}

function evaluateConditional(context: Comparison, value: unknown, side: Side, schema: SchemaObject): Truth {
  const condition = evaluate(context, value, childSide(side, 'if'));
  if (condition === undefined) return undefined;
  const branch = condition ? 'then' : 'else';
  return Object.hasOwn(schema, branch) ? evaluate(context, value, childSide(side, branch)) : true;
}

/** Keywords that apply to one type of value; any other value passes them. */
function evaluateTyped(context: Comparison, value: unknown, side: Side, schema: SchemaObject, keyword: string): Truth {
  if (typeof value === 'string' && ['minLength', 'maxLength', 'pattern', 'format'].includes(keyword)) {
    return evaluateString(context, value, keyword, schema[keyword]);
  }
  if (typeof value === 'number' && ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'].includes(keyword)) {
    return evaluateNumber(value, keyword, schema[keyword]);
  }
  if (Array.isArray(value) && ARRAY_KEYWORDS.has(keyword)) return evaluateArray(context, value, side, schema, keyword);
  if (isPlainObject(value) && OBJECT_KEYWORDS.has(keyword)) return evaluateObject(context, value, side, schema, keyword);
  const applies = [STRING_KEYWORDS, NUMBER_KEYWORDS, ARRAY_KEYWORDS, OBJECT_KEYWORDS].some((set) => set.has(keyword));
  return applies ? true : undefined;
}

const STRING_KEYWORDS = new Set(['minLength', 'maxLength', 'pattern', 'format']);
const NUMBER_KEYWORDS = new Set(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']);
const ARRAY_KEYWORDS = new Set(['prefixItems', 'items', 'minItems', 'maxItems', 'uniqueItems', 'contains']);
const OBJECT_KEYWORDS = new Set([
  'properties', 'patternProperties', 'additionalProperties', 'required', 'minProperties', 'maxProperties',
  'propertyNames', 'dependentRequired', 'dependentSchemas',
]);

function evaluateString(context: Comparison, value: string, keyword: string, argument: unknown): Truth {
  const length = [...value].length;
  if (keyword === 'minLength') return typeof argument === 'number' ? length >= argument : undefined;
  if (keyword === 'maxLength') return typeof argument === 'number' ? length <= argument : undefined;
  if (keyword === 'pattern') {
    const regex = typeof argument === 'string' ? context.regex(argument) : undefined;
    return regex === undefined ? undefined : regex.test(value);
  }
  return undefined; // format: depends on the formats the registry installs
}

function evaluateNumber(value: number, keyword: string, argument: unknown): Truth {
  if (typeof argument !== 'number') return undefined;
  switch (keyword) {
    case 'minimum':
      return value >= argument;
    case 'maximum':
      return value <= argument;
    case 'exclusiveMinimum':
      return value > argument;
    case 'exclusiveMaximum':
      return value < argument;
    default:
      return argument > 0 ? Number.isInteger(value / argument) : undefined;
  }
}

function evaluateArray(context: Comparison, value: readonly unknown[], side: Side, schema: SchemaObject, keyword: string): Truth {
  const argument = schema[keyword];
  switch (keyword) {
    case 'minItems':
      return typeof argument === 'number' ? value.length >= argument : undefined;
    case 'maxItems':
      return typeof argument === 'number' ? value.length <= argument : undefined;
    case 'uniqueItems':
      if (argument !== true) return true;
      return value.every((item, index) => value.slice(index + 1).every((other) => !context.memo.equal(item, other)));
    case 'prefixItems':
      if (!Array.isArray(argument)) return undefined;
      return value.slice(0, argument.length).reduce<Truth>((result, item, index) => and(result, evaluate(context, item, childSide(side, 'prefixItems', index))), true);
    case 'items': {
      const skipped = Array.isArray(schema['prefixItems']) ? schema['prefixItems'].length : 0;
      if (Array.isArray(argument)) return undefined;
      return value.slice(skipped).reduce<Truth>((result, item) => and(result, evaluate(context, item, childSide(side, 'items'))), true);
    }
    default: {
      const results = value.map((item) => evaluate(context, item, childSide(side, 'contains')));
      const minimum = schema['minContains'] ?? 1;
      const maximum = schema['maxContains'] ?? Infinity;
      if (typeof minimum !== 'number' || typeof maximum !== 'number') return undefined;
      const sure = results.filter((result) => result === true).length;
      const possible = results.filter((result) => result !== false).length;
      if (sure >= minimum && possible <= maximum) return true;
      return possible < minimum || sure > maximum ? false : undefined;
    }
  }
}

function evaluateObject(context: Comparison, value: SchemaObject, side: Side, schema: SchemaObject, keyword: string): Truth {
  const argument = schema[keyword];
  const names = Object.keys(value);
  switch (keyword) {
    case 'required':
      return Array.isArray(argument) ? argument.every((name) => typeof name === 'string' && Object.hasOwn(value, name)) : undefined;
    case 'minProperties':
      return typeof argument === 'number' ? names.length >= argument : undefined;
    case 'maxProperties':
      return typeof argument === 'number' ? names.length <= argument : undefined;
    case 'dependentRequired':
      if (!isPlainObject(argument)) return undefined;
      return Object.entries(argument).every(([name, needed]) =>
        !Object.hasOwn(value, name) || (Array.isArray(needed) && needed.every((other) => typeof other === 'string' && Object.hasOwn(value, other))));
    default:
      return evaluateObjectSchemas(context, value, side, schema, keyword);
  }
}

function evaluateObjectSchemas(context: Comparison, value: SchemaObject, side: Side, schema: SchemaObject, keyword: string): Truth {
  const argument = schema[keyword];
  const names = Object.keys(value);
  if (keyword === 'propertyNames') return names.reduce<Truth>((result, name) => and(result, evaluate(context, name, childSide(side, 'propertyNames'))), true);
  if (keyword === 'additionalProperties') {
    const declared = isPlainObject(schema['properties']) ? schema['properties'] : {};
    const patterns = isPlainObject(schema['patternProperties']) ? Object.keys(schema['patternProperties']).map((source) => context.regex(source)) : [];
    if (patterns.includes(undefined)) return undefined;
    const extra = names.filter((name) => !Object.hasOwn(declared, name) && !patterns.some((regex) => regex!.test(name)));
    return extra.reduce<Truth>((result, name) => and(result, evaluate(context, value[name], childSide(side, 'additionalProperties'))), true);
  }
  if (!isPlainObject(argument)) return undefined;
  let result: Truth = true;
  for (const key of Object.keys(argument)) {
    if (keyword === 'patternProperties') {
      const regex = context.regex(key);
      if (regex === undefined) return undefined;
      for (const name of names.filter((candidate) => regex.test(candidate))) result = and(result, evaluate(context, value[name], childSide(side, keyword, key)));
    } else if (Object.hasOwn(value, key)) {
      const instance = keyword === 'properties' ? value[key] : value;
      result = and(result, evaluate(context, instance, childSide(side, keyword, key)));
    }
    if (result === false) return false;
  }
  return result;
}
