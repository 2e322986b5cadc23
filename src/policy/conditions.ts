import { BlockList, isIP } from 'node:net';
import type { PolicyContext, PolicySubject } from './types.js';

/**
 * Rule conditions. Each one holds, fails, or is unknown (its input is missing). All must hold for
 * an allow rule to apply; a deny rule applies unless one of them fails: an unknown input never
 * opens a door and never closes a deny (fail closed).
 */
export type ConditionOutcome = 'holds' | 'fails' | 'unknown';

export interface ConditionResult {
  readonly condition: 'sourceIp' | 'encrypted' | 'tokenBound';
  readonly outcome: ConditionOutcome;
  readonly detail: string;
}

export interface CompiledConditions {
  readonly sourceIp: { readonly cidrs: readonly string[]; readonly list: BlockList } | null;
  readonly encrypted: boolean | null;
  readonly tokenBound: boolean | null;
}

export interface RawConditions {
  readonly sourceIp?: readonly string[];
  readonly encrypted?: boolean;
  readonly tokenBound?: boolean;
}

/** Adds one CIDR to `list`; the reason it is not one otherwise. Host bits are ignored, as firewalls do. */
function addCidr(list: BlockList, cidr: string): string | null {
  const slash = cidr.indexOf('/');
  const address = slash === -1 ? cidr : cidr.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${cidr}" is not an IPv4 or IPv6 address range (CIDR such as 10.0.0.0/8 or fd00::/8)`;
  const max = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `"${cidr}" has a prefix length outside 0..${max}`;
  }
  // BlockList compares IPv4-mapped IPv6 addresses with IPv4 ranges and the other way round.
  list.addSubnet(address, Number(prefixText), family === 4 ? 'ipv4' : 'ipv6');
  return null;
}

export function compileConditions(raw: RawConditions | undefined): { conditions: CompiledConditions | null; problems: string[] } {
  if (raw === undefined) return { conditions: null, problems: [] };
  const problems: string[] = [];
  let sourceIp: CompiledConditions['sourceIp'] = null;
  if (raw.sourceIp !== undefined) {
    const list = new BlockList();
    for (const cidr of raw.sourceIp) {
      const problem = addCidr(list, cidr);
      if (problem !== null) problems.push(problem);
    }
    sourceIp = { cidrs: [...raw.sourceIp], list };
  }
  const conditions: CompiledConditions = {
    sourceIp,
    encrypted: raw.encrypted ?? null,
    tokenBound: raw.tokenBound ?? null,
  };
  const empty = sourceIp === null && conditions.encrypted === null && conditions.tokenBound === null;
  return { conditions: empty ? null : conditions, problems };
}

function sourceIpOutcome(condition: NonNullable<CompiledConditions['sourceIp']>, ip: string | null): ConditionOutcome {
  if (typeof ip !== 'string') return 'unknown';
  const family = isIP(ip);
  if (family === 0) return 'unknown';
  try {
    return condition.list.check(ip, family === 4 ? 'ipv4' : 'ipv6') ? 'holds' : 'fails';
  } catch {
    return 'unknown'; // an address node accepts but BlockList does not: treat as not known
  }
}

function encryptedOutcome(expected: boolean, actual: boolean | undefined): ConditionOutcome {
  if (actual === undefined) return 'unknown';
  return actual === expected ? 'holds' : 'fails';
}

/** The combined outcome, without the per-condition detail explain needs. */
export function conditionsOutcome(conditions: CompiledConditions, subject: PolicySubject, context: PolicyContext): ConditionOutcome {
  let unknown = false;
  if (conditions.tokenBound !== null && subject.tokenBound !== conditions.tokenBound) return 'fails';
  if (conditions.encrypted !== null) {
    const outcome = encryptedOutcome(conditions.encrypted, context.encrypted);
    if (outcome === 'fails') return 'fails';
    unknown ||= outcome === 'unknown';
  }
  if (conditions.sourceIp !== null) {
    const outcome = sourceIpOutcome(conditions.sourceIp, context.sourceIp);
    if (outcome === 'fails') return 'fails';
    unknown ||= outcome === 'unknown';
  }
  return unknown ? 'unknown' : 'holds';
}

/** Whether a rule of this effect applies given its conditions' combined outcome. */
export function appliesWith(effect: 'allow' | 'deny', outcome: ConditionOutcome): boolean {
  return effect === 'allow' ? outcome === 'holds' : outcome !== 'fails';
}

export function explainConditions(conditions: CompiledConditions, subject: PolicySubject, context: PolicyContext): ConditionResult[] {
  const results: ConditionResult[] = [];
  if (conditions.sourceIp !== null) {
    const outcome = sourceIpOutcome(conditions.sourceIp, context.sourceIp);
    const ranges = conditions.sourceIp.cidrs.join(', ');
    results.push({
      condition: 'sourceIp',
      outcome,
      detail:
        outcome === 'unknown'
          ? `the source address is unknown (rule wants ${ranges || 'no range at all'})`
          : `${String(context.sourceIp)} is ${outcome === 'holds' ? '' : 'not '}in ${ranges || 'an empty list'}`,
    });
  }
  if (conditions.encrypted !== null) {
    const outcome = encryptedOutcome(conditions.encrypted, context.encrypted);
    results.push({
      condition: 'encrypted',
      outcome,
      detail:
        outcome === 'unknown'
          ? `whether the payload is encrypted is unknown (rule wants encrypted: ${conditions.encrypted})`
          : `the payload is ${context.encrypted === true ? '' : 'not '}an end-to-end envelope (rule wants encrypted: ${conditions.encrypted})`,
    });
  }
  if (conditions.tokenBound !== null) {
    results.push({
      condition: 'tokenBound',
      outcome: subject.tokenBound === conditions.tokenBound ? 'holds' : 'fails',
      detail: `the token is ${subject.tokenBound ? '' : 'not '}bound to the certificate (rule wants tokenBound: ${conditions.tokenBound})`,
    });
  }
  return results;
}
