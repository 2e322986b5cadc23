import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Policy, loadPolicyDir, policyFileSchema } from '../../src/policy/index.js';
import { createAjv } from '../../src/config/index.js';
import { dedent, errorOf, rejectionOf, request, subject, topic, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

const rule = (id: string, name = 'svc') => `  - id: ${id}\n    effect: allow\n    principals: [{ name: ${name} }]\n    resources: [{ topic: t }]\n    actions: [produce]\n`;
const file = (...rules: string[]) => `version: 1\nrules:\n${rules.join('')}`;

function invalid(sources: { file: string; text: string }[]) {
  const error = errorOf(() => Policy.compile(sources));
  expect(error.code).toBe('SEALBUS_ERR_POLICY_INVALID');
  return error;
}

describe('loading policy files', () => {
  it('reads YAML and JSON files, in file-name order, with 1-based lines', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'b.yaml'), file(rule('from-yaml')));
    await writeFile(
      join(dir, 'a.json'),
      JSON.stringify({ version: 1, rules: [{ id: 'from-json', effect: 'allow', principals: [{ name: 'svc' }], resources: [{ topic: 't' }], actions: ['consume'] }] }, null, 2),
    );
    await writeFile(join(dir, 'c.yml'), file(rule('from-yml', 'other')));
    await writeFile(join(dir, 'notes.txt'), 'not a policy');
    await writeFile(join(dir, '.hidden.yaml'), 'not: [valid');
    await writeFile(join(dir, 'editor.yaml~'), 'not: [valid');
    const policy = await loadPolicyDir(dir);
    expect(policy.files).toEqual(['a.json', 'b.yaml', 'c.yml']);
    expect(policy.rules.map((r) => [r.id, r.file, r.line])).toEqual([
      ['from-json', 'a.json', 4],
      ['from-yaml', 'b.yaml', 3],
      ['from-yml', 'c.yml', 3],
    ]);
    expect(policy.evaluate(request(subject('svc'), 'consume', topic('t'))).rule).toBe('from-json');
    expect(policy.version).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('follows symlinked files, as ConfigMap volumes lay them out', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, '..2024_01_01'));
    await writeFile(join(dir, '..2024_01_01', 'p.yaml'), file(rule('linked')));
    await symlink('..2024_01_01', join(dir, '..data'));
    await symlink(join('..data', 'p.yaml'), join(dir, 'p.yaml'));
    expect((await loadPolicyDir(dir)).rules.map((r) => r.id)).toEqual(['linked']);
  });

  it('names file and line of a schema error, with a suggestion', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ok.yaml'), file(rule('fine')));
    await writeFile(join(dir, 'bad.yaml'), file(rule('first'), '  - id: second\n    effect: allow\n    principals: [{ nmae: svc }]\n    resources: [{ topic: t }]\n    actions: [produce]\n'));
    const error = await rejectionOf(loadPolicyDir(dir));
    expect(error.code).toBe('SEALBUS_ERR_POLICY_INVALID');
    expect(error.details).toMatchObject({ file: 'bad.yaml', line: 10, code: 'schema', ruleId: 'second' });
    expect(error.message).toBe(
      'Invalid policy bad.yaml line 10: rules[1].principals[0].nmae: unknown key "nmae" (did you mean "name"?); expected one of name, spiffe, group, certificate, any',
    );
  });

  it('names the line in JSON files too', () => {
    const text = '{\n  "version": 1,\n  "rules": [\n    {\n      "id": "x",\n      "effect": "allow",\n      "principals": [{"name": "a"}],\n      "resources": [{"topic": "t"}],\n      "actions": ["prodcue"]\n    }\n  ]\n}\n';
    const error = invalid([{ file: 'p.json', text }]);
    expect(error.details).toMatchObject({ file: 'p.json', line: 9, code: 'unknown-action' });
    expect(error.message).toContain('unknown action "prodcue" (did you mean "produce"?)');
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(invalid([{ file: 'p.yaml', text: 'version: 1\nrules:\n  - id: [unclosed\n' }]).details).toMatchObject({ file: 'p.yaml', code: 'yaml' });
    const duplicate = invalid([{ file: 'p.yaml', text: `${file(rule('x'))}    effect: deny\n` }]);
    expect(duplicate.details).toMatchObject({ line: 8, code: 'yaml' });
    expect(duplicate.message).toMatch(/unique/);
    expect(invalid([{ file: 'p.yaml', text: `${file(rule('x'))}---\nversion: 1\n` }]).message).toMatch(/one document/);
    expect(invalid([{ file: 'p.yaml', text: '' }]).message).toMatch(/empty/);
    expect(invalid([{ file: 'p.json', text: '{"version": 1, "rules": [], "x": yes}' }]).details).toMatchObject({ code: 'yaml' });
    const infinite = invalid([{ file: 'p.yaml', text: 'version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: [{ name: a }]\n    resources: [{ topic: t }]\n    actions: [produce]\n    conditions:\n      sourceIp: [-.inf]\n' }]);
    expect(infinite.details).toMatchObject({ line: 9, code: 'yaml' });
    expect(infinite.message).toMatch(/-\.inf is not a finite number/);
    expect(invalid([{ file: 'p.json', text: '{"version": 1e999, "rules": []}' }]).details).toMatchObject({ line: 1, code: 'yaml' });
  });

  it('refuses a rule id used twice, naming both places', () => {
    const error = invalid([
      { file: 'a.yaml', text: file(rule('same')) },
      { file: 'b.yaml', text: file(rule('other'), rule('same')) },
    ]);
    expect(error.details).toMatchObject({ file: 'b.yaml', line: 8, code: 'duplicate-id', ruleId: 'same' });
    expect(error.message).toContain('already used at a.yaml:3');
  });

  it('refuses patterns that can never match, bad CIDRs and bad SPIFFE IDs', () => {
    const withResource = (resource: string) => file(`  - id: r\n    effect: allow\n    principals: [{ name: a }]\n    resources: [${resource}]\n    actions: [consume]\n`);
    for (const pattern of ['orders*', '*orders', 'or*ders', 'orders.>.x', 'orders..x', '.orders', 'orders.', 'orders.>x', '>.a']) {
      const error = invalid([{ file: 'p.yaml', text: withResource(`{ topic: "${pattern}" }`) }]);
      expect(error.details, pattern).toMatchObject({ code: 'pattern-never-matches', line: 6 });
      expect(error.message).toContain('can never match');
    }
    expect(invalid([{ file: 'p.yaml', text: withResource('{ group: "a.*b" }') }]).details).toMatchObject({ code: 'pattern-never-matches' });
    const conditions = (value: string) => file(`  - id: r\n    effect: allow\n    principals: [{ name: a }]\n    resources: [{ topic: t }]\n    actions: [consume]\n    conditions: { sourceIp: [${value}] }\n`);
    for (const cidr of ['10.0.0.0/33', 'ten', '10.0.0.0/8/8', '::1/129', '10.0.0.0/-1']) {
      expect(invalid([{ file: 'p.yaml', text: conditions(`"${cidr}"`) }]).details, cidr).toMatchObject({ code: 'invalid-cidr', line: 8 });
    }
    const principal = (value: string) => file(`  - id: r\n    effect: allow\n    principals: [{ spiffe: "${value}" }]\n    resources: [{ topic: t }]\n    actions: [consume]\n`);
    for (const id of ['https://example.org/x', 'spiffe://Example.org/x', 'spiffe://example.org/a/../b', 'spiffe://']) {
      expect(invalid([{ file: 'p.yaml', text: principal(id) }]).details, id).toMatchObject({ code: 'invalid-spiffe' });
    }
    for (const id of ['spiffe://example.org', 'spiffe://example.org/', 'spiffe://example.org/ns/a/']) {
      expect(() => Policy.compile([{ file: 'p.yaml', text: principal(id) }]), id).not.toThrow();
    }
  });

  it('refuses unknown keys, "*" as an action and entries with two keys', () => {
    expect(invalid([{ file: 'p.yaml', text: `version: 1\nrule: []\n` }]).message).toMatch(/unknown key "rule" \(did you mean "rules"\?\)/);
    const star = invalid([{ file: 'p.yaml', text: file(`  - id: r\n    effect: allow\n    principals: [{ name: a }]\n    resources: [{ topic: t }]\n    actions: ["*"]\n`) }]);
    expect(star.details).toMatchObject({ code: 'unknown-action', line: 7 });
    expect(star.message).toMatch(/"\*" is not allowed/);
    const two = invalid([{ file: 'p.yaml', text: file(`  - id: r\n    effect: allow\n    principals: [{ name: a, group: g }]\n    resources: [{ topic: t }]\n    actions: [consume]\n`) }]);
    expect(two.message).toMatch(/exactly one key/);
    expect(invalid([{ file: 'p.yaml', text: 'version: 2\nrules: []\n' }]).message).toMatch(/version: must be 1/);
  });

  it('enforces the limits on untrusted input, naming the file and the limit', async () => {
    const many = (count: number) => file(...Array.from({ length: count }, (_, i) => rule(`r${i}`)));
    expect(invalid([{ file: 'big.yaml', text: many(1001) }]).message).toMatch(/big.yaml.*more than 1000 items/);
    const huge = `# ${'x'.repeat(1024 * 1024)}\n${file(rule('r'))}`;
    expect(invalid([{ file: 'huge.yaml', text: huge }]).message).toMatch(/huge.yaml line 1: the file is \d+ bytes; the limit is 1048576 bytes/);
    expect(invalid([{ file: 'deep.yaml', text: `${'- '.repeat(5000)}x\n` }]).details).toMatchObject({ code: 'limit' });
    expect(invalid([{ file: 'deep.json', text: `${'['.repeat(100_000)}${']'.repeat(100_000)}` }]).details).toMatchObject({ code: 'limit' });
    expect(invalid([{ file: 'keys.yaml', text: `${'? '.repeat(100_000)}x\n` }]).details).toMatchObject({ code: 'limit' });
    expect(invalid([{ file: 'keys.yaml', text: `${'? '.repeat(30)}x\n` }]).message).toMatch(/plain strings/);
    expect(invalid([{ file: 'complex.yaml', text: 'version: 1\nrules: []\n? [a]\n: b\n' }]).message).toMatch(/plain strings/);
    const bomb = dedent(`
      a: &a [x, x, x, x, x, x, x, x, x, x]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    `);
    expect(invalid([{ file: 'bomb.yaml', text: bomb }]).details).toMatchObject({ file: 'bomb.yaml', code: 'limit' });
    expect(invalid([{ file: 'id.yaml', text: file(rule('x'.repeat(129))) }]).message).toMatch(/1 to 128 characters/);
    const files = Array.from({ length: 201 }, (_, i) => ({ file: `f${String(i).padStart(3, '0')}.yaml`, text: file(rule(`r${i}`)) }));
    expect(invalid(files).message).toMatch(/201 files; the limit is 200/);
    const dir = await tempDir();
    await writeFile(join(dir, 'huge.yaml'), huge);
    expect((await rejectionOf(loadPolicyDir(dir))).message).toMatch(/huge.yaml line 1: .*larger than the limit of 1048576 bytes/);
  });

  it('refuses more than 10,000 rules in the whole set', () => {
    const files = Array.from({ length: 11 }, (_, f) => ({
      file: `f${f}.yaml`,
      text: file(...Array.from({ length: f === 10 ? 1 : 1000 }, (_, i) => rule(`f${f}-r${i}`))),
    }));
    const error = invalid(files);
    expect(error.message).toMatch(/10001 rules; the limit is 10000/);
    expect(error.details).toMatchObject({ file: 'f9.yaml', code: 'limit' });
  });

  it('refuses a file that is not UTF-8', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'latin1.yaml'), Buffer.from('version: 1\nrules: []\n# caf\xe9\n', 'latin1'));
    const error = await rejectionOf(loadPolicyDir(dir));
    expect(error.details).toMatchObject({ file: 'latin1.yaml', code: 'unreadable' });
  });

  it('denies everything for a missing or empty directory, with a fixed version', async () => {
    const dir = await tempDir();
    const empty = await loadPolicyDir(dir);
    const missing = await loadPolicyDir(join(dir, 'nowhere'));
    for (const policy of [empty, missing, Policy.empty(), Policy.compile([])]) {
      expect(policy.version).toBe(Policy.empty().version);
      expect(policy.rules).toEqual([]);
      expect(policy.evaluate(request(subject('admin'), 'produce', topic('t')))).toMatchObject({ allowed: false, rule: 'default-deny' });
    }
    expect(Policy.empty().version).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('versions the set by content: same files same version, any byte or name change a new one', () => {
    const a = { file: 'a.yaml', text: file(rule('a')) };
    const b = { file: 'b.yaml', text: file(rule('b')) };
    const version = Policy.compile([a, b]).version;
    expect(Policy.compile([b, a]).version).toBe(version);
    expect(Policy.compile([a, { ...b, text: `${b.text}# comment\n` }]).version).not.toBe(version);
    expect(Policy.compile([a, { ...b, file: 'c.yaml' }]).version).not.toBe(version);
    expect(Policy.compile([a]).version).not.toBe(version);
  });

  it('publishes a JSON Schema (draft 2020-12) that the shared ajv compiles', () => {
    const validate = createAjv().compile(policyFileSchema);
    expect(validate({ version: 1, rules: [{ id: 'a', effect: 'allow', principals: [{ any: true }], resources: [{ cluster: true }], actions: ['read-audit'] }] })).toBe(true);
    expect(validate({ version: 1, rules: [{ id: 'a', effect: 'allow', principals: [{ any: true }], resources: [{ cluster: true }], actions: ['read-audit'], extra: 1 }] })).toBe(false);
  });
});
