import { LineCounter } from 'yaml';
import { describe, expect, it } from 'vitest';
import { composeYaml, parseBoundedYaml } from '../../src/config/bounded-yaml.js';
import { configFromBytes } from '../../src/config/load.js';
import { isSealbusError } from '../../src/errors/index.js';
import { configTarget } from './config.js';
import { policyDirTarget, policyTextTarget } from './policy.js';
import { runTarget } from './run-target.js';

describe('fuzz: policy and configuration files', () => {
  it(`${policyTextTarget.name}: compile or POLICY_INVALID, and lint agrees`, () =>
    runTarget(policyTextTarget, ['Policy.compile: ok', 'Policy.compile: SEALBUS_ERR_POLICY_INVALID']));

  it(`${policyDirTarget.name}: bytes on disk, UTF-8 or not`, () =>
    runTarget(policyDirTarget, ['loadPolicyDir: ok', 'loadPolicyDir: SEALBUS_ERR_POLICY_INVALID']));

  it(configTarget.name, () =>
    runTarget(configTarget, ['configFromBytes: ok', 'configFromBytes: SEALBUS_ERR_CONFIG_INVALID', 'configFromBytes: SEALBUS_ERR_CONFIG_UNREADABLE']));
});

function configError(bytes: Buffer): { code: string; message: string } {
  try {
    configFromBytes(bytes, '/etc/sealbus/sealbus.yaml');
  } catch (err) {
    if (isSealbusError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 'accepted', message: '' };
}

describe('regressions found by the fuzz run', () => {
  it('checks unique keys once per key: 40,000 distinct keys parse in well under a second, not in tens of seconds', () => {
    const text = Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`).join('\n');
    const start = performance.now();
    const doc = composeYaml(text, new LineCounter(), { json: false });
    // With the yaml library's own check (each key against every earlier one) this took over 10 s.
    expect(performance.now() - start).toBeLessThan(5_000);
    expect(doc?.errors).toEqual([]);
  });

  it('still reports duplicate keys, in flow and block maps, in file order and with their line', () => {
    const doc = composeYaml('a: 1\nb: {x: 1, x: 2}\na: 3\n', new LineCounter(), { json: false })!;
    expect(doc.errors.map((error) => [error.code, error.pos[0]])).toEqual([
      ['DUPLICATE_KEY', 15],
      ['DUPLICATE_KEY', 21],
    ]);
    expect(() => parseBoundedYaml('a: 1\nb: 2\na: 3\n', { json: false, maxAliasCount: 100 })).toThrow('line 3: Map keys must be unique');
    expect(() => parseBoundedYaml('{"a": 1, "a": 2}', { json: true, maxAliasCount: 100 })).toThrow(/Map keys must be unique/);
    expect(parseBoundedYaml('a: 1\nb: {a: 1}\n', { json: false, maxAliasCount: 100 })).toEqual({ a: 1, b: { a: 1 } });
  });

  it('refuses a configuration file that is not UTF-8 rather than reading replacement characters into it', () => {
    const bytes = Buffer.concat([Buffer.from('tls: {cert: a.crt, key: a.key, ca: ca'), Buffer.from([0xff]), Buffer.from('.crt}\nstore: {dir: data}\n')]);
    expect(configError(bytes)).toEqual({ code: 'SEALBUS_ERR_CONFIG_UNREADABLE', message: expect.stringContaining('not valid UTF-8') as string });
    expect(configError(Buffer.from(bytes.toString('latin1').replace('\u00ff', 'x'), 'latin1')).code).toBe('accepted');
  });

  it('reads !!omap, !!set, !!binary and !!timestamp as plain lists, maps and strings, which the schema sees whole', () => {
    const text = 'a: !!binary aGVsbG8=\nb: !!omap [{x: 1}]\nc: !!timestamp 2001-12-14\nd: !!set {x}\n';
    expect(parseBoundedYaml(text, { json: false, maxAliasCount: 100 })).toEqual({ a: 'aGVsbG8=', b: [{ x: 1 }], c: '2001-12-14', d: { x: null } });
    // Before: auth became a Map whose entries ajv did not see, and both settings stayed at their defaults.
    const config = Buffer.from('tls: {cert: a, key: b, ca: c}\nstore: {dir: data}\nauth: !!omap [{allowCertificateOnly: true}]\n');
    expect(configError(config).code).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(configError(Buffer.from('tls: {cert: a, key: b, ca: c}\nstore: {dir: data}\nlisten: !!set {port}\n')).code).toBe('SEALBUS_ERR_CONFIG_INVALID');
  });

  it('refuses a configuration key that is a collection, as policy files do, instead of stringifying it', () => {
    const error = configError(Buffer.from('tls: {cert: a, key: b, ca: c}\nstore: {dir: data}\n? [a, b]\n: 1\n'));
    expect(error.code).toBe('SEALBUS_ERR_CONFIG_UNREADABLE');
    expect(error.message).toContain('line 3: map keys must be plain strings');
  });
});
