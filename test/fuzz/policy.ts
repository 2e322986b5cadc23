/**
 * Policy files (src/policy: parse-file.ts, compile-file.ts, load.ts), YAML and JSON: written by
 * people, read from a directory anyone with write access to it controls. Compiling either gives a
 * policy or SEALBUS_ERR_POLICY_INVALID; lint never throws and fails whenever compiling does.
 */
import { isUtf8 } from 'node:buffer';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parsePolicyText } from '../../src/policy/parse-file.js';
import { ACTIONS, Policy, lintFailed, lintPolicySources, loadPolicyDir, type PolicyRequest } from '../../src/policy/index.js';
import { asyncOutcomeOf, ensure, ensureBounded, ensurePlainJson, neverThrows, outcomeOf, timed, timedAsync, type FuzzTarget } from './contract.js';
import { randomBytes } from './mutate-bytes.js';
import { hostileYaml, mutateText, textMutations } from './mutate-text.js';
import { mutateValue, valueMutation } from './mutate-values.js';
import { validTopicName } from './names.js';

const segmentPattern = fc.oneof(
  validTopicName,
  fc.constantFrom('>', '*', 'orders.>', 'orders.*', '*.eu', 'a.*.>'),
  fc.tuple(validTopicName, fc.constantFrom('.*', '.>')).map(([name, tail]) => name + tail),
);

const principal = fc.oneof(
  fc.record({ name: fc.string({ minLength: 1, maxLength: 12 }) }),
  fc.record({ group: fc.string({ minLength: 1, maxLength: 12 }) }),
  fc.constantFrom('spiffe://td', 'spiffe://example.org/ns/app', 'spiffe://example.org/ns/', 'spiffe://a.b-c_d/x/y.z').map((spiffe) => ({ spiffe })),
  fc.string({ unit: fc.constantFrom(...'AZaz09-_'.split('')), minLength: 43, maxLength: 43 }).map((thumbprint) => ({ certificate: { thumbprint } })),
  fc.string({ minLength: 1, maxLength: 20 }).map((subject) => ({ certificate: { subject } })),
  fc.constant({ any: true as const }),
);

const resource = fc.oneof(
  segmentPattern.map((topic) => ({ topic })),
  segmentPattern.map((group) => ({ group })),
  fc.string({ minLength: 1, maxLength: 10 }).map((topicPrefix) => ({ topicPrefix })),
  fc.string({ minLength: 1, maxLength: 10 }).map((groupPrefix) => ({ groupPrefix })),
  fc.constant({ cluster: true as const }),
);

const conditions = fc
  .record(
    {
      sourceIp: fc.array(fc.constantFrom('10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8', '0.0.0.0/0', '::ffff:10.0.0.0/104'), { maxLength: 3 }),
      encrypted: fc.boolean(),
      tokenBound: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .filter((value) => Object.keys(value).length > 0);

const rule = fc.record(
  {
    id: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,24}$/),
    effect: fc.constantFrom('allow', 'deny'),
    description: fc.string({ maxLength: 30 }),
    principals: fc.array(principal, { minLength: 1, maxLength: 3 }),
    resources: fc.array(resource, { minLength: 1, maxLength: 3 }),
    actions: fc.uniqueArray(fc.constantFrom(...ACTIONS), { minLength: 1, maxLength: 4 }),
    conditions,
  },
  { requiredKeys: ['id', 'effect', 'principals', 'resources', 'actions'] },
);

/** Policy files that compile: version 1 and rules with distinct ids. */
export const validPolicy = fc
  .uniqueArray(rule, { maxLength: 4, selector: (r) => r.id })
  .map((rules) => ({ version: 1, rules }));

type Format = 'yaml' | 'yml' | 'json';

function write(value: unknown, format: Format): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : stringify(value);
}

type PolicyInput = { readonly kind: 'valid' | 'mutated' | 'random'; readonly file: string; readonly text: string; readonly rules?: readonly { id: string; effect: string; actions: readonly string[] }[] };

const format = fc.constantFrom<Format>('yaml', 'yml', 'json');

export const policyInput: fc.Arbitrary<PolicyInput> = fc.oneof(
  { weight: 2, arbitrary: fc.tuple(validPolicy, format).map(([doc, f]) => ({ kind: 'valid' as const, file: `p.${f}`, text: write(doc, f), rules: doc.rules })) },
  {
    weight: 3,
    arbitrary: fc.tuple(validPolicy, format, textMutations()).map(([doc, f, steps]) => ({ kind: 'mutated' as const, file: `p.${f}`, text: mutateText(write(doc, f), steps) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(validPolicy, format, fc.array(valueMutation, { minLength: 1, maxLength: 3 }))
      .map(([doc, f, steps]) => ({ kind: 'mutated' as const, file: `p.${f}`, text: write(mutateValue(doc, steps), f) })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.oneof(hostileYaml, fc.string({ maxLength: 80 }), randomBytes(80).map((b) => b.toString('latin1'))), format).map(([text, f]) => ({ kind: 'random' as const, file: `p.${f}`, text })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(validPolicy, hostileYaml).map(([doc, hostile]) => ({ kind: 'mutated' as const, file: 'p.yaml', text: `${stringify(doc)}${hostile}` })),
  },
);

export const request: fc.Arbitrary<PolicyRequest> = fc.record({
  subject: fc.record({
    name: fc.constantFrom('alice', 'admin', '*', ''),
    groups: fc.array(fc.constantFrom('ops', 'dev'), { maxLength: 2 }),
    spiffeId: fc.constantFrom(null, 'spiffe://example.org/ns/app', 'spiffe://example.org/ns/../x'),
    certificate: fc.constant(null),
    tokenBound: fc.boolean(),
    scopes: fc.constantFrom(null, [], ['produce:orders.>']),
  }),
  action: fc.constantFrom(...ACTIONS),
  resource: fc.oneof(
    validTopicName.map((name) => ({ kind: 'topic' as const, name })),
    validTopicName.map((name) => ({ kind: 'group' as const, name })),
    fc.constant({ kind: 'cluster' as const }),
  ),
  context: fc.record({ sourceIp: fc.constantFrom(null, '10.1.2.3', '::1', 'fe80::1%eth0'), encrypted: fc.boolean() }),
}) as fc.Arbitrary<PolicyRequest>;

/** Findings that make a set fail to compile; lint's own analyses add others. */
const COMPILE_CODES = new Set(['unreadable', 'yaml', 'limit', 'schema', 'unknown-action', 'duplicate-id', 'pattern-never-matches', 'invalid-spiffe', 'invalid-cidr']);

/**
 * Parses (for the size of what it holds), compiles, and lints when compiling fails or `withLint`
 * (YAML parsing dominates the cost, and lint parses again).
 */
export function checkPolicyText({ kind, file, text, rules }: PolicyInput, probe: PolicyRequest, withLint: boolean): void {
  const parsed = neverThrows('parsePolicyText', () => parsePolicyText(file, text));
  // Aliases may repeat a node up to maxAliasCount (100) times.
  if (!('severity' in parsed)) {
    ensureBounded(parsed.value, text.length, 110);
    ensurePlainJson(parsed.value);
  }
  const compiled = outcomeOf('Policy.compile', ['SEALBUS_ERR_POLICY_INVALID'], () => Policy.compile([{ file, text }]));
  if (!compiled.ok || withLint) {
    const report = neverThrows('lintPolicySources', () => lintPolicySources([{ file, text }]));
    if (compiled.ok) {
      ensure(!report.findings.some((found) => COMPILE_CODES.has(found.code)), 'lint finds a compile error in a file that compiles');
    } else {
      ensure(lintFailed(report), 'lint passes a file that does not compile');
      const { line, code } = compiled.error.details as { line: number; code: string };
      ensure(report.findings.some((found) => found.line === line && found.code === code), 'lint does not report the error compiling stopped at');
    }
  }
  if (!compiled.ok) {
    ensure(kind !== 'valid', () => `a valid policy file was refused: ${compiled.error.message}`);
    return;
  }
  const policy = compiled.value;
  if (rules !== undefined) {
    ensure(policy.rules.length === rules.length, 'a valid file compiled to another number of rules');
    policy.rules.forEach((compiledRule, index) => {
      const written = rules[index]!;
      ensure(compiledRule.id === written.id && compiledRule.effect === written.effect && compiledRule.actions.join() === written.actions.join(), `rule ${index} is not what was written`);
    });
  }
  const decision = neverThrows('Policy.evaluate', () => policy.evaluate(probe));
  if (decision.allowed) {
    const deciding = policy.rules.filter((r) => decision.deciding.some((ref) => ref.id === r.id));
    ensure(deciding.length > 0 && deciding.every((r) => r.effect === 'allow' && r.actions.includes(probe.action)), 'allowed by a rule that is no allow of that action');
  }
}

export const policyTextTarget: FuzzTarget = {
  name: 'policy/files',
  covers: 'parsePolicyText, compileFile, Policy.compile, lintPolicySources, Policy.evaluate (src/policy) on YAML and JSON text',
  weight: 15,
  quickRuns: 150,
  async build() {
    return {
      property: fc.property(policyInput, request, fc.nat({ max: 3 }), (input, probe, lint) => {
        timed('policy file', () => checkPolicyText(input, probe, lint === 0));
      }),
    };
  },
};

/** Bytes as files on disk: not UTF-8, empty, binary; loadPolicyDir reads, decodes and compiles them. */
export const policyDirTarget: FuzzTarget = {
  name: 'policy/directory',
  covers: 'loadPolicyDir and readPolicySources (src/policy/load.ts) on bytes from disk',
  weight: 3,
  quickRuns: 100,
  async build() {
    const dir = await mkdtemp(join(tmpdir(), 'sealbus-fuzz-policy-'));
    let round = 0;
    const bytes = fc.oneof(
      randomBytes(200),
      fc.tuple(validPolicy, format).map(([doc, f]) => Buffer.from(write(doc, f))),
      fc.tuple(validPolicy, fc.nat(), randomBytes(4)).map(([doc, at, junk]) => {
        const text = Buffer.from(stringify(doc));
        const cut = at % (text.length + 1);
        return Buffer.concat([text.subarray(0, cut), junk, text.subarray(cut)]);
      }),
    );
    return {
      property: fc.asyncProperty(fc.array(fc.tuple(format, bytes), { minLength: 1, maxLength: 3 }), async (files) => {
        const caseDir = join(dir, String(round++));
        await timedAsync('policy directory', async () => {
          await mkdir(caseDir);
          await Promise.all(files.map(([f, content], index) => writeFile(join(caseDir, `${index}.${f}`), content)));
          const loaded = await asyncOutcomeOf('loadPolicyDir', ['SEALBUS_ERR_POLICY_INVALID'], () => loadPolicyDir(caseDir));
          const decodable = files.every(([, content]) => isUtf8(content));
          if (loaded.ok) ensure(decodable, 'a policy directory with a file that is not UTF-8 loaded');
          await rm(caseDir, { recursive: true, force: true });
        });
      }),
      async dispose() {
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};
