import { describe, expect, it } from 'vitest';
import { DEFAULT_GROUP_LIMITS, GroupCoordinator, resolveGroupLimits } from '../../../src/broker/groups/index.js';
import { MemoryLogStore } from '../../../src/log/index.js';

function rejection(limits: Record<string, unknown>): unknown {
  try {
    resolveGroupLimits(limits);
    return null;
  } catch (err) {
    return err;
  }
}

describe('coordinator limits', () => {
  it('defaults to the documented limits, frozen', () => {
    const limits = new GroupCoordinator({ store: new MemoryLogStore() }).limits;
    expect(limits).toEqual({
      maxGroups: 10_000,
      maxMembersPerGroup: 1_000,
      maxTopicsPerMember: 100,
      minSessionTimeoutMs: 1_000,
      maxSessionTimeoutMs: 300_000,
      defaultSessionTimeoutMs: 30_000,
      minRebalanceTimeoutMs: 1_000,
      maxRebalanceTimeoutMs: 600_000,
    });
    expect(Object.isFrozen(limits)).toBe(true);
    expect(limits).toEqual(DEFAULT_GROUP_LIMITS);
  });

  it('names the bad key of an invalid limit', () => {
    expect(rejection({ maxGroups: 0 })).toMatchObject({
      code: 'SEALBUS_ERR_CONFIG_INVALID',
      message: 'Invalid configuration in consumer group limits: maxGroups must be a positive integer',
    });
    expect(rejection({ maxMembersPerGroup: 1.5 })).toMatchObject({ code: 'SEALBUS_ERR_CONFIG_INVALID' });
    expect(rejection({ maxGroup: 5 })).toMatchObject({ message: expect.stringContaining('has no setting "maxGroup"') });
    expect(rejection({ defaultSessionTimeoutMs: 500 })).toMatchObject({ message: expect.stringContaining('defaultSessionTimeoutMs') });
    expect(rejection({ maxRebalanceTimeoutMs: 2 ** 31 })).toMatchObject({ message: expect.stringContaining('maxRebalanceTimeoutMs') });
    expect(rejection({ minRebalanceTimeoutMs: 700_000 })).toMatchObject({ message: expect.stringContaining('minRebalanceTimeoutMs') });
    expect(rejection({ maxGroups: 5, defaultSessionTimeoutMs: 2_000 })).toBeNull();
  });
});
