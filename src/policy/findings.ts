import { SealbusError } from '../errors/index.js';
import type { LintFinding, LintSeverity } from './types.js';

/**
 * Finding codes. Stable: tooling and docs/policies.md refer to them. Codes of severity 'error'
 * from COMPILE_CODES make a policy set unloadable; the others are lint's own analyses.
 */
export const FINDING_CODES = {
  unreadable: 'error',
  yaml: 'error',
  limit: 'error',
  schema: 'error',
  'unknown-action': 'error',
  'duplicate-id': 'error',
  'pattern-never-matches': 'error',
  'invalid-spiffe': 'error',
  'invalid-cidr': 'error',
  'unreachable-rule': 'error',
  'shadowed-by-deny': 'warning',
  'duplicate-rule': 'warning',
  'action-not-applicable': 'warning',
  'condition-not-applicable': 'warning',
  'broad-allow': 'warning',
  'suspicious-name': 'warning',
  'prefix-has-wildcard': 'warning',
  'empty-policy': 'warning',
} as const satisfies Record<string, LintSeverity>;

export type FindingCode = keyof typeof FINDING_CODES;

export function finding(code: FindingCode, file: string, line: number, message: string, ruleId?: string): LintFinding {
  return {
    severity: FINDING_CODES[code],
    code,
    file,
    line,
    ...(ruleId !== undefined && { ruleId }),
    message,
  };
}

/** The error a policy set is refused with: the first error finding, naming file, line and rule. */
export function policyInvalid(found: LintFinding): SealbusError {
  return new SealbusError(
    'SEALBUS_ERR_POLICY_INVALID',
    { file: found.file, line: found.line, reason: found.message },
    {
      details: {
        file: found.file,
        line: found.line,
        code: found.code,
        ...(found.ruleId !== undefined && { ruleId: found.ruleId }),
      },
    },
  );
}

export function sortFindings(findings: LintFinding[]): LintFinding[] {
  return findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
}

/** Quotes text from a policy file in a message, cut short: a message must not carry a megabyte. */
export function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest known word, when it is close enough to be what was meant. */
export function didYouMean(word: string, known: readonly string[]): string | null {
  if (word.length > 64) return null;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}
