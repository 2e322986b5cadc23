/** Runs one fuzz target for its short-run cases inside a vitest test; fast-check prints the seed on failure. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { outcomeTally, type FuzzTarget } from './contract.js';

/**
 * Runs the target, then checks that its inputs reached every answer in `reached` (`what: ok` or
 * `what: CODE`): a generator that never gets past the first check would pass without testing much.
 */
export async function runTarget(target: FuzzTarget, reached: readonly string[] = [], numRuns = target.quickRuns): Promise<void> {
  const { property, dispose } = await target.build();
  outcomeTally.clear();
  try {
    await fc.assert(property, { numRuns });
  } finally {
    await dispose?.();
  }
  const missing = reached.filter((answer) => (outcomeTally.get(answer) ?? 0) === 0);
  expect(missing, `answers never reached in ${numRuns} cases; reached: ${[...outcomeTally.keys()].join(', ')}`).toEqual([]);
}
