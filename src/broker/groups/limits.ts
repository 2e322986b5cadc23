import { SealbusError } from '../../errors/index.js';
import type { GroupLimits } from './types.js';

export const DEFAULT_GROUP_LIMITS: GroupLimits = Object.freeze({
  maxGroups: 10_000,
  maxMembersPerGroup: 1_000,
  maxTopicsPerMember: 100,
  minSessionTimeoutMs: 1_000,
  maxSessionTimeoutMs: 300_000,
  defaultSessionTimeoutMs: 30_000,
  minRebalanceTimeoutMs: 1_000,
  maxRebalanceTimeoutMs: 600_000,
});

function invalidOption(key: keyof GroupLimits | 'limits', reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'consumer group limits', key, reason });
}

/** Validated once when the coordinator starts, then frozen. Unknown keys are refused: a typo must not silently keep a default. */
export function resolveGroupLimits(input: Partial<GroupLimits> = {}): GroupLimits {
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(DEFAULT_GROUP_LIMITS, key)) throw invalidOption('limits', `has no setting "${key}"`);
  }
  const limits: GroupLimits = { ...DEFAULT_GROUP_LIMITS, ...input };
  for (const [key, value] of Object.entries(limits) as [keyof GroupLimits, unknown][]) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalidOption(key, 'must be a positive integer');
  }
  // setTimeout holds at most 2^31-1 ms; a longer timeout would fire at once.
  const maxTimer = 2 ** 31 - 1;
  if (limits.maxSessionTimeoutMs > maxTimer) throw invalidOption('maxSessionTimeoutMs', `must be at most ${maxTimer}`);
  if (limits.maxRebalanceTimeoutMs > maxTimer) throw invalidOption('maxRebalanceTimeoutMs', `must be at most ${maxTimer}`);
  if (limits.minSessionTimeoutMs > limits.defaultSessionTimeoutMs || limits.defaultSessionTimeoutMs > limits.maxSessionTimeoutMs) {
    throw invalidOption('defaultSessionTimeoutMs', 'must lie within [minSessionTimeoutMs, maxSessionTimeoutMs]');
  }
  if (limits.minRebalanceTimeoutMs > limits.maxRebalanceTimeoutMs) {
    throw invalidOption('minRebalanceTimeoutMs', 'must not exceed maxRebalanceTimeoutMs');
  }
  return Object.freeze(limits);
}

function timeoutProblem(name: string, value: unknown, min: number, max: number): SealbusError | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return null;
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `${name} must be an integer from ${min} to ${max} ms` });
}

/** A member's own timeouts: the session timeout or the limits' default; the rebalance timeout or the session timeout. */
export function resolveMemberTimeouts(
  limits: GroupLimits,
  requested: { readonly sessionTimeoutMs?: number | undefined; readonly rebalanceTimeoutMs?: number | undefined },
): { sessionTimeoutMs: number; rebalanceTimeoutMs: number } {
  const sessionTimeoutMs = requested.sessionTimeoutMs ?? limits.defaultSessionTimeoutMs;
  const sessionProblem = timeoutProblem('sessionTimeoutMs', sessionTimeoutMs, limits.minSessionTimeoutMs, limits.maxSessionTimeoutMs);
  if (sessionProblem !== null) throw sessionProblem;
  const rebalanceTimeoutMs = requested.rebalanceTimeoutMs ?? Math.min(Math.max(sessionTimeoutMs, limits.minRebalanceTimeoutMs), limits.maxRebalanceTimeoutMs);
  const rebalanceProblem = timeoutProblem('rebalanceTimeoutMs', rebalanceTimeoutMs, limits.minRebalanceTimeoutMs, limits.maxRebalanceTimeoutMs);
  if (rebalanceProblem !== null) throw rebalanceProblem;
  return { sessionTimeoutMs, rebalanceTimeoutMs };
}
