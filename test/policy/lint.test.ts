import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FINDING_CODES, lintFailed, lintPolicyDir, lintPolicySources, loadPolicyDir, type LintFinding } from '../../src/policy/index.js';
import { dedent, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

function lint(text: string, file = 'p.yaml'): LintFinding[] {
  return [...lintPolicySources([{ file, text: dedent(text) }]).findings];
}

const codes = (findings: LintFinding[]) => findings.map((found) => [found.code, found.severity, found.ruleId, found.line]);

describe('lint', () => {
  it('passes the shipped example set without errors or warnings', async () => {
    const dir = fileURLToPath(new URL('../../policies/', import.meta.url));
    const report = await lintPolicyDir(dir);
    expect(report.findings).toEqual([]);
    expect(report.files).toEqual(['admin.yaml', 'auditor.yaml', 'consumer-service.yaml', 'payments-encrypted.yaml', 'producer-service.yaml']);
    expect((await loadPolicyDir(dir)).rules.length).toBeGreaterThanOrEqual(6);
  });

  it('reports every compile error, not only the first, each with file and line', () => {
    const findings = lint(`
      version: 1
      rules:
        - id: a
          effect: allow
          principals: [{ name: x }]
          resources: [{ topic: "orders*" }, { topic: "orders.>.x" }]
          actions: [prodcue, consume]
        - id: b
          effect: permit
          principals: [{ name: x }]
          resources: [{ topic: t }]
          actions: [consume]
        - id: a
          effect: allow
          principals: [{ spiffe: "https://x" }]
          resources: [{ topic: t }]
          actions: [consume]
          conditions: { sourceIp: [300.0.0.0/8] }
    `);
    expect(codes(findings)).toEqual([
      ['unknown-action', 'error', 'a', 7],
      ['schema', 'error', 'b', 9],
      ['invalid-spiffe', 'error', 'a', 15],
      ['invalid-cidr', 'error', 'a', 18],
    ]);
    expect(findings[0]!.message).toBe('rules[0].actions[0]: unknown action "prodcue" (did you mean "produce"?)');
    expect(findings[1]!.message).toBe('rules[1].effect: must be one of allow, deny');
  });

  it('reports patterns that can never match', () => {
    const findings = lint(`
      version: 1
      rules:
        - id: a
          effect: allow
          principals: [{ name: x }]
          resources: [{ topic: "*orders" }, { group: "a..b" }]
          actions: [consume]
    `);
    expect(codes(findings)).toEqual([
      ['pattern-never-matches', 'error', 'a', 6],
      ['pattern-never-matches', 'error', 'a', 6],
    ]);
    expect(findings[0]!.message).toMatch(/"\*orders" can never match/);
  });

  it('reports duplicate ids across files with both places', () => {
    const rule = 'version: 1\nrules:\n  - id: same\n    effect: allow\n    principals: [{ name: x }]\n    resources: [{ topic: t }]\n    actions: [consume]\n';
    const report = lintPolicySources([
      { file: 'one.yaml', text: rule },
      { file: 'two.yaml', text: rule.replace('consume', 'produce') },
    ]);
    expect(report.findings).toEqual([
      { severity: 'error', code: 'duplicate-id', file: 'two.yaml', line: 3, ruleId: 'same', message: 'rule id "same" is already used at one.yaml:3' },
    ]);
  });

  it('reports allow rules that a deny rule always overrides', () => {
    const findings = lint(`
      version: 1
      rules:
        - id: readers
          effect: allow
          principals: [{ name: a }, { spiffe: spiffe://example.org/ns/x/ }]
          resources: [{ topic: orders.eu.* }, { topicPrefix: orders.tmp- }]
          actions: [consume]
        - id: partly-covered
          effect: allow
          principals: [{ name: a }]
          resources: [{ topic: orders.eu.x }, { topic: billing }]
          actions: [consume]
        - id: conditional-deny
          effect: deny
          principals: [{ any: true }]
          resources: [{ topic: ">" }]
          actions: [consume]
          conditions: { tokenBound: false }
        - id: no-orders
          effect: deny
          principals: [{ name: a }, { spiffe: spiffe://example.org/ns }]
          resources: [{ topic: orders.> }, { topicPrefix: orders. }]
          actions: [consume, produce]
    `);
    expect(codes(findings)).toEqual([['shadowed-by-deny', 'warning', 'readers', 3]]);
    expect(findings[0]!.message).toBe('deny rule "no-orders" (p.yaml:19) covers everything this rule allows, so it never allows anything');
  });

  it('reports unreachable rules as errors', () => {
    const findings = lint(`
      version: 1
      rules:
        - id: produce-on-cluster
          effect: allow
          principals: [{ name: a }]
          resources: [{ cluster: true }]
          actions: [produce]
        - id: token-on-topic
          effect: allow
          principals: [{ name: a }]
          resources: [{ topic: t }]
          actions: [issue-token]
        - id: no-address
          effect: allow
          principals: [{ name: a }]
          resources: [{ topic: t }]
          actions: [consume]
          conditions: { sourceIp: [] }
    `);
    expect(codes(findings)).toEqual([
      ['unreachable-rule', 'error', 'produce-on-cluster', 3],
      ['unreachable-rule', 'error', 'token-on-topic', 8],
      ['unreachable-rule', 'error', 'no-address', 13],
    ]);
    expect(findings[0]!.message).toMatch(/produce applies to topic/);
  });

  it('warns about duplicates, idle actions, misplaced conditions, broad allows, odd names and wildcard prefixes', () => {
    const findings = lint(`
      version: 1
      rules:
        - id: first
          effect: allow
          principals: [{ name: a }, { name: b }]
          resources: [{ topic: t }]
          actions: [consume, describe]
        - id: same-again
          effect: allow
          principals: [{ name: b }, { name: a }]
          resources: [{ topic: t }]
          actions: [describe, consume]
        # Each action applies to one of the resources and each resource gets an action: no warning.
        - id: mixed
          effect: allow
          principals: [{ name: a }]
          resources: [{ topic: t }, { cluster: true }]
          actions: [produce, read-audit, manage-keys]
        - id: idle-resource
          effect: allow
          principals: [{ name: a }]
          resources: [{ topic: u }, { group: g }]
          actions: [produce]
        - id: sealed
          effect: allow
          principals: [{ name: a }]
          resources: [{ topic: t }]
          actions: [produce, consume]
          conditions: { encrypted: true }
        - id: everyone-everything
          effect: allow
          principals: [{ any: true }]
          resources: [{ topic: ">" }]
          actions: [consume]
        - id: spaced
          effect: allow
          principals: [{ name: "a " }]
          resources: [{ topicPrefix: "tmp*" }]
          actions: [consume]
    `);
    expect(codes(findings)).toEqual([
      ['duplicate-rule', 'warning', 'same-again', 8],
      ['action-not-applicable', 'warning', 'idle-resource', 19],
      ['condition-not-applicable', 'warning', 'sealed', 24],
      ['broad-allow', 'warning', 'everyone-everything', 30],
      ['suspicious-name', 'warning', 'spaced', 35],
      ['prefix-has-wildcard', 'warning', 'spaced', 35],
    ]);
    expect(findings[0]!.message).toBe('it says exactly what rule "first" (p.yaml:3) says');
    expect(lintFailed({ files: [], findings })).toBe(false);
  });

  it('warns about an empty set and fails on a missing directory', async () => {
    const dir = await tempDir();
    expect(codes([...(await lintPolicyDir(dir)).findings])).toEqual([['empty-policy', 'warning', undefined, 1]]);
    const missing = await lintPolicyDir(join(dir, 'nowhere'));
    expect(lintFailed(missing)).toBe(true);
    expect(missing.findings[0]!.code).toBe('unreadable');
  });

  it('reports files it cannot use, and schema errors in JSON files with their line', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.json'), '{\n  "version": 1,\n  "rules": [\n    { "id": "x" }\n  ]\n}\n');
    await writeFile(join(dir, 'b.yaml'), Buffer.from([0xff, 0xfe, 0x00]));
    const report = await lintPolicyDir(dir);
    expect(codes([...report.findings])).toEqual([
      ['schema', 'error', 'x', 4],
      ['unreadable', 'error', undefined, 1],
    ]);
    expect(lintFailed(report)).toBe(true);
  });

  it('uses only documented codes', async () => {
    const docs = await readFile(new URL('../../docs/policies.md', import.meta.url), 'utf8');
    for (const code of Object.keys(FINDING_CODES)) expect(docs, code).toContain(`\`${code}\``);
  });
});
