/**
 * Objects. For each property name, the schemas that apply to its value on each side (from `properties`,
 * the matching `patternProperties`, else `additionalProperties`) are compared. A name the narrow schema
 * leaves unconstrained (open content model) can hold any value, so a wide schema that constrains it is
 * not implied: this is why adding a constrained property to an open schema is not backward compatible.
 */
import { evaluate } from './compatibility-evaluate.js';
import { merge } from './compatibility-merge.js';
import {
  absentSide,
  attempt,
  cannotProve,
  childSide,
  has,
  hasAssertions,
  keywordChange,
  newIsNarrow,
  objectOf,
  problemAt,
  type Comparison,
  type Pair,
  type Side,
  type SubsetProblem,
} from './compatibility-context.js';
import { isPlainObject, type SchemaObject } from './compatibility-json.js';

function recordAt(object: SchemaObject, keyword: string): SchemaObject {
  const value = object[keyword];
  return isPlainObject(value) ? value : {};
}

function stringsAt(object: SchemaObject, keyword: string): string[] {
  const value = object[keyword];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function numberAt(object: SchemaObject, keyword: string): number | undefined {
  const value = object[keyword];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** True when the schema accepts no property beyond those it declares. */
function isClosed(object: SchemaObject): boolean {
  return object['additionalProperties'] === false && Object.keys(recordAt(object, 'patternProperties')).length === 0;
}

export function objectProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const problems: SubsetProblem[] = [];
  const narrowRequired = new Set(stringsAt(narrow, 'required'));
  for (const name of stringsAt(wide, 'required')) {
    if (!narrowRequired.has(name)) problems.push(requiredProblem(pair, name));
  }
  const declared = Object.entries(recordAt(narrow, 'properties')).filter(([, schema]) => schema !== false).length;
  const narrowMaximum = Math.min(numberAt(narrow, 'maxProperties') ?? Infinity, isClosed(narrow) ? declared : Infinity);
  const narrowMinimum = Math.max(numberAt(narrow, 'minProperties') ?? 0, narrowRequired.size);
  const wideMinimum = numberAt(wide, 'minProperties');
  if (wideMinimum !== undefined && narrowMinimum < wideMinimum) problems.push(keywordChange(pair, 'minProperties'));
  const wideMaximum = numberAt(wide, 'maxProperties');
  if (wideMaximum !== undefined && narrowMaximum > wideMaximum) problems.push(keywordChange(pair, 'maxProperties'));
  if (['properties', 'patternProperties', 'additionalProperties'].some((keyword) => has(wide, keyword))) {
    problems.push(...declaredNameProblems(context, pair), ...undeclaredNameProblems(context, pair));
  }
  problems.push(...propertyNamesProblems(context, pair), ...dependencyProblems(context, pair));
  return problems;
}

function requiredProblem(pair: Pair, name: string): SubsetProblem {
  const oldObject = objectOf(newIsNarrow(pair) ? pair.wide : pair.narrow);
  const newObject = objectOf(newIsNarrow(pair) ? pair.narrow : pair.wide);
  if (newIsNarrow(pair)) {
    return problemAt(pair, 'required', has(recordAt(newObject, 'properties'), name)
      ? `the new schema makes "${name}" optional: data written with it may lack "${name}", which the old schema requires`
      : `the new schema removes required property "${name}": data written with it may lack "${name}", which the old schema requires`);
  }
  return problemAt(pair, 'required', has(recordAt(oldObject, 'properties'), name)
    ? `the new schema makes "${name}" required: data written with the old schema may lack it`
    : `the new schema adds required property "${name}": data written with the old schema lacks it`);
}

/** The schemas that apply to the value of property `name`; undefined when a pattern does not compile. */
function applicable(context: Comparison, side: Side, name: string): Side[] | undefined {
  const object = objectOf(side);
  const sides: Side[] = [];
  if (has(recordAt(object, 'properties'), name)) sides.push(childSide(side, 'properties', name));
  for (const source of Object.keys(recordAt(object, 'patternProperties'))) {
    const regex = context.regex(source);
    if (regex === undefined) return undefined;
    if (regex.test(name)) sides.push(childSide(side, 'patternProperties', source));
  }
  if (sides.length === 0 && has(object, 'additionalProperties')) sides.push(childSide(side, 'additionalProperties'));
  return sides;
}

function declaredNameProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const names = new Set([...Object.keys(recordAt(objectOf(pair.narrow), 'properties')), ...Object.keys(recordAt(objectOf(pair.wide), 'properties'))]);
  const problems: SubsetProblem[] = [];
  for (const name of names) {
    const narrowSides = applicable(context, pair.narrow, name);
    const wideSides = applicable(context, pair.wide, name);
    if (narrowSides === undefined || wideSides === undefined) return [cannotProve(pair, 'patternProperties', 'a pattern does not compile')];
    if (narrowSides.some((side) => side.schema === false)) continue;
    for (const wideSide of wideSides.filter(hasAssertions)) {
      problems.push(...propertyValueProblems(context, pair, name, narrowSides, wideSide));
    }
  }
  return problems;
}

function propertyValueProblems(context: Comparison, pair: Pair, name: string, narrowSides: readonly Side[], wide: Side): SubsetProblem[] {
  if (narrowSides.length === 0) return [openContentProblem(pair, name)];
  if (wide.schema === false) return [forbiddenPropertyProblem(pair, name)];
  const merged = merge(context, narrowSides);
  if (merged !== undefined) return context.compare(context, merged, wide);
  let best: SubsetProblem[] | undefined;
  for (const narrow of narrowSides) {
    const result = attempt(context, narrow, wide);
    if (result.ok || context.exhausted) return [];
    if (best === undefined || result.problems.length < best.length) best = result.problems;
  }
  return best ?? [];
}

function openContentProblem(pair: Pair, name: string): SubsetProblem {
  if (newIsNarrow(pair)) {
    return problemAt(pair, ['properties', name], `the new schema removes property "${name}" but leaves additional properties open, so data written with it may hold "${name}" with a value the old schema rejects`);
  }
  return problemAt(pair, ['properties', name], `the new schema adds property "${name}" with a constrained schema, but the old schema leaves additional properties open (additionalProperties is not false), so data written with it may already hold "${name}" with a value the new schema rejects`);
}

function forbiddenPropertyProblem(pair: Pair, name: string): SubsetProblem {
  if (newIsNarrow(pair)) {
    return problemAt(pair, ['properties', name], `the new schema adds property "${name}", which the old schema does not accept (it is undeclared there while additionalProperties is false, or declared false)`);
  }
  return problemAt(pair, ['properties', name], `the new schema no longer accepts property "${name}" (it is undeclared while additionalProperties is false, or declared false), but data written with the old schema may hold it`);
}

/** Names neither side declares: patterns pair up by their source, the rest fall to additionalProperties. */
function undeclaredNameProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  if (isClosed(narrow)) return [];
  const problems: SubsetProblem[] = [];
  const narrowPatterns = recordAt(narrow, 'patternProperties');
  const widePatterns = recordAt(wide, 'patternProperties');
  for (const source of Object.keys(widePatterns)) {
    const wideSide = childSide(pair.wide, 'patternProperties', source);
    if (!hasAssertions(wideSide)) continue;
    if (has(narrowPatterns, source)) problems.push(...context.compare(context, childSide(pair.narrow, 'patternProperties', source), wideSide));
    else problems.push(keywordChange(pair, 'patternProperties'));
  }
  if (!has(wide, 'additionalProperties')) return problems;
  const wideRest = childSide(pair.wide, 'additionalProperties');
  if (!hasAssertions(wideRest)) return problems;
  for (const source of Object.keys(narrowPatterns).filter((candidate) => !has(widePatterns, candidate))) {
    problems.push(...context.compare(context, childSide(pair.narrow, 'patternProperties', source), wideRest));
  }
  const narrowRest = has(narrow, 'additionalProperties') ? childSide(pair.narrow, 'additionalProperties') : absentSide(pair.narrow, 'additionalProperties');
  if (wideRest.schema === false && !hasAssertions(narrowRest)) return [...problems, closedProblem(pair)];
  return [...problems, ...context.compare(context, narrowRest, wideRest)];
}

function closedProblem(pair: Pair): SubsetProblem {
  return newIsNarrow(pair)
    ? problemAt(pair, 'additionalProperties', 'the new schema allows additional properties, which the old schema forbids (additionalProperties: false)')
    : problemAt(pair, 'additionalProperties', 'the new schema forbids additional properties (additionalProperties: false), but the old schema allows them, so data written with it may hold properties the new schema rejects');
}

function propertyNamesProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  if (!has(wide, 'propertyNames')) return [];
  const wideSide = childSide(pair.wide, 'propertyNames');
  if (has(narrow, 'propertyNames')) return context.compare(context, childSide(pair.narrow, 'propertyNames'), wideSide);
  if (isClosed(narrow)) {
    const names = Object.entries(recordAt(narrow, 'properties')).filter(([, schema]) => schema !== false).map(([name]) => name);
    if (names.every((name) => evaluate(context, name, wideSide) === true)) return [];
  }
  return [keywordChange(pair, 'propertyNames')];
}

function dependencyProblems(context: Comparison, pair: Pair): SubsetProblem[] {
  const narrow = objectOf(pair.narrow);
  const wide = objectOf(pair.wide);
  const problems: SubsetProblem[] = [];
  const required = new Set(stringsAt(narrow, 'required'));
  const narrowDependencies = recordAt(narrow, 'dependentRequired');
  for (const [name, needed] of Object.entries(recordAt(wide, 'dependentRequired'))) {
    const implied = new Set([...required, ...stringsAt(narrowDependencies, name)]);
    const missing = (Array.isArray(needed) ? needed : []).filter((other) => typeof other !== 'string' || !implied.has(other));
    if (missing.length > 0) problems.push(keywordChange(pair, 'dependentRequired'));
  }
  const narrowSchemas = recordAt(narrow, 'dependentSchemas');
  for (const name of Object.keys(recordAt(wide, 'dependentSchemas'))) {
    const wideSide = childSide(pair.wide, 'dependentSchemas', name);
    if (has(narrowSchemas, name)) problems.push(...context.compare(context, childSide(pair.narrow, 'dependentSchemas', name), wideSide));
    else if (hasAssertions(wideSide)) problems.push(keywordChange(pair, 'dependentSchemas'));
  }
  return problems;
}
