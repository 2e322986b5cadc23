import { isSealbusError } from '../errors/index.js';
import { finding, sortFindings } from './findings.js';
import { analyseRules } from './lint-analysis.js';
import { readPolicySources } from './load.js';
import { compileSources } from './policy.js';
import type { LintFinding, LintReport, PolicySource } from './types.js';

/** Lints sources already in memory: every compile error, then lint's analyses of the rules that compile. */
export function lintPolicySources(sources: readonly PolicySource[], readFindings: readonly LintFinding[] = []): LintReport {
  const compiled = compileSources(sources);
  const findings: LintFinding[] = [...readFindings, ...compiled.findings, ...analyseRules(compiled.rules)];
  if (compiled.rules.length === 0 && findings.length === 0) {
    findings.push(finding('empty-policy', '.', 1, 'the policy set has no rules: every request is denied'));
  }
  return { files: compiled.files, findings: sortFindings(findings) };
}

/**
 * `sealbus policy lint [DIR]`: every problem of the policy set in `dir`, each with a stable code,
 * file and line. A report with an error finding fails the lint; warnings do not.
 */
export async function lintPolicyDir(dir: string): Promise<LintReport> {
  let read;
  try {
    read = await readPolicySources(dir);
  } catch (err) {
    if (!isSealbusError(err)) throw err;
    return { files: [], findings: [finding('unreadable', String(err.details?.file ?? dir), 1, err.message)] };
  }
  if (read.kind === 'missing') return { files: [], findings: [finding('unreadable', dir, 1, 'the policy directory does not exist')] };
  return lintPolicySources(read.sources, read.findings);
}

export function lintFailed(report: LintReport): boolean {
  return report.findings.some((found) => found.severity === 'error');
}
