/**
 * Schema compatibility, as Confluent Schema Registry defines the modes, read as language inclusion
 * between JSON Schemas (draft 2020-12):
 *
 * - BACKWARD: consumers on the new schema read data written under the latest old one, so every instance
 *   valid under the old schema must be valid under the new (old ⊆ new).
 * - FORWARD: consumers still on the old schema read data written under the new one (new ⊆ old).
 * - FULL: both. The *_TRANSITIVE modes check against every registered version, not only the latest.
 * - NONE: no check.
 *
 * Inclusion is proven structurally and conservatively (`subsetProblems`): references and combinators are
 * split away first, then each keyword of the wide schema must be implied by the narrow one. Whatever the
 * checker cannot prove is a problem ("cannot prove compatibility because keyword X differs"), never a
 * silent pass; identical reference-free subschemas are always fine; a narrow schema that lists its values
 * (`enum`, `const`) is checked value by value. References are local (`#/$defs/...`, `#anchor`), each
 * resolved within its own root; a pair met again on the recursion path is a cycle and assumed to hold.
 * The work is bounded: past a number of comparisons the answer is a "too complex to compare" problem.
 *
 * Note what the open content model implies. With `additionalProperties` absent or true, old data may
 * already carry any property with any value, so adding a constrained optional property is not BACKWARD
 * compatible (the new schema could reject old data), while it is FORWARD compatible. With
 * `additionalProperties: false` it is the other way round.
 *
 * ```ts
 * const report = checkCompatibility('BACKWARD', candidate, [{ version: 1, schema: v1 }, { version: 2, schema: v2 }]);
 * if (!report.compatible) for (const p of report.problems) console.log(p.version, p.direction, p.pointer, p.reason);
 * ```
 */
import { DEFAULT_MAX_COMPARISONS } from './compatibility-context.js';
import { subsetProblems } from './compatibility-subset.js';
import type { JsonSchema } from './schema-document.js';

export { subsetProblems, type SubsetOptions, type SubsetResult } from './compatibility-subset.js';
export { DEFAULT_MAX_COMPARISONS, type SubsetProblem } from './compatibility-context.js';

export type CompatibilityMode =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

export const COMPATIBILITY_MODES: readonly CompatibilityMode[] = Object.freeze([
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const);

export interface CompatibilityProblem {
  /** The existing version the candidate conflicts with. */
  readonly version: number;
  /** backward: the new schema cannot read data written under the old; forward: the old cannot read data written under the new. */
  readonly direction: 'backward' | 'forward';
  /** JSON pointer into the new schema where the difference is (e.g. /properties/amount/type). */
  readonly pointer: string;
  /** Plain English, e.g. 'the new schema narrows type from ["number","string"] to "number"'. */
  readonly reason: string;
}

export interface CompatibilityReport {
  readonly compatible: boolean;
  readonly mode: CompatibilityMode;
  readonly problems: readonly CompatibilityProblem[];
}

export interface RegisteredVersion {
  readonly version: number;
  readonly schema: JsonSchema;
}

export interface CompatibilityOptions {
  /** Comparisons allowed per existing version and direction before giving up. Default 100 000. */
  readonly maxComparisons?: number;
  /**
   * Comparisons allowed for the whole report, so that a transitive check against many versions stays
   * bounded too. Default 1 000 000 (a few seconds of CPU at worst).
   */
  readonly maxTotalComparisons?: number;
}

export const DEFAULT_MAX_TOTAL_COMPARISONS = 1_000_000;

const DIRECTIONS: Readonly<Record<CompatibilityMode, readonly ('backward' | 'forward')[]>> = {
  NONE: [],
  BACKWARD: ['backward'],
  BACKWARD_TRANSITIVE: ['backward'],
  FORWARD: ['forward'],
  FORWARD_TRANSITIVE: ['forward'],
  FULL: ['backward', 'forward'],
  FULL_TRANSITIVE: ['backward', 'forward'],
};

/**
 * Checks a candidate schema against the versions already registered (oldest first) under a mode.
 * Each problem names the version it conflicts with, the direction, where, and why.
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  candidate: JsonSchema,
  existing: readonly RegisteredVersion[],
  options: CompatibilityOptions = {},
): CompatibilityReport {
  const directions = DIRECTIONS[mode];
  if (directions === undefined) throw new TypeError(`unknown compatibility mode ${JSON.stringify(mode)}`);
  const against = mode.endsWith('_TRANSITIVE') ? existing : existing.slice(-1);
  const perPair = options.maxComparisons ?? DEFAULT_MAX_COMPARISONS;
  let remaining = options.maxTotalComparisons ?? DEFAULT_MAX_TOTAL_COMPARISONS;
  const problems: CompatibilityProblem[] = [];
  for (const { version, schema } of against) {
    for (const direction of directions) {
      const at = { version, direction, pointer: '' };
      if (remaining <= 0) {
        problems.push({ ...at, reason: 'too complex to compare: the check ran out of comparisons before reaching this version, so compatibility is not proven' });
        return { compatible: false, mode, problems };
      }
      const maxComparisons = Math.min(perPair, remaining);
      const result = direction === 'backward'
        ? subsetProblems(schema, candidate, { candidate: 'wide', maxComparisons })
        : subsetProblems(candidate, schema, { candidate: 'narrow', maxComparisons });
      remaining -= result.comparisons;
      problems.push(...result.problems.map((problem) => ({ ...at, pointer: problem.pointer, reason: problem.reason })));
      if (result.tooComplex) {
        problems.push({ ...at, reason: `too complex to compare: gave up after ${maxComparisons} comparisons, so compatibility is not proven` });
      }
    }
  }
  return { compatible: problems.length === 0, mode, problems };
}
