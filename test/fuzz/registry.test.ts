import { describe, expect, it } from 'vitest';
import { FUZZ_TARGETS } from './properties.js';

describe('the fuzz properties', () => {
  it('have distinct area/what names, a share of the long run and a short run', () => {
    const names = FUZZ_TARGETS.map((target) => target.name);
    expect(new Set(names).size).toBe(names.length);
    for (const target of FUZZ_TARGETS) {
      expect(target.name).toMatch(/^[a-z]+\/[a-z-]+$/);
      expect(target.weight, target.name).toBeGreaterThan(0);
      expect(target.quickRuns, target.name).toBeGreaterThan(0);
    }
  });

  it('share 1,000,000 cases in thousands: each weight is the property\'s thousands of cases in the default run', () => {
    expect(FUZZ_TARGETS.reduce((sum, target) => sum + target.weight, 0)).toBe(1000);
  });

  it('cover every parser of untrusted input the issue names', () => {
    const areas = new Set(FUZZ_TARGETS.map((target) => target.name.split('/')[0]));
    expect([...areas].sort()).toEqual(['config', 'disk', 'envelope', 'frames', 'json', 'names', 'policy', 'records', 'tokens']);
  });
});
