import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { configFromObject, configSchema, loadConfigFile } from '../../src/config/index.js';
import { isSealbusError } from '../../src/errors/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sealbus-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { tls: { cert: 'server.crt', key: 'server.key', ca: 'ca.crt' }, store: { dir: 'data' } };

function schemaKeys(schema: Record<string, unknown>, prefix = ''): string[] {
  const keys: string[] = [];
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, child] of Object.entries(properties)) {
    const path = `${prefix}${name}`;
    const items = child.items as Record<string, unknown> | undefined;
    if (child.properties !== undefined) keys.push(...schemaKeys(child, `${path}.`));
    else if (items?.properties !== undefined) keys.push(...schemaKeys(items, `${path}[].`));
    else keys.push(path);
  }
  return keys;
}

async function configError(text: string, name = 'bad.yaml'): Promise<unknown> {
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadConfigFile(file).then(
    () => null,
    (err: unknown) => err,
  );
}

describe('configuration', () => {
  it('documents every key of the schema in docs/configuration.md', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const keys = schemaKeys(configSchema as unknown as Record<string, unknown>);
    expect(keys.length).toBeGreaterThan(30);
    for (const key of keys) expect(docs, `docs/configuration.md misses ${key}`).toContain(`\`${key}\``);
  });

  it('fills defaults, resolves paths against the file, and freezes the result', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, 'tls: {cert: server.crt, key: server.key, ca: ca.crt}\nstore: {dir: data}\n');
    const config = await loadConfigFile(file);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(config.tls.cert).toBe(join(dir, 'server.crt'));
    expect(config.store.dir).toBe(join(dir, 'data'));
    expect(config.auth.localIssuer.keyDir).toBe(join(dir, 'data', 'issuer'));
    expect(config.topicDefaults.fsync).toBe('always');
    expect(config.policy).toEqual({ dir: join(dir, 'policies'), watch: true, cacheSize: 10_000 });
    expect(Object.isFrozen(config.tls)).toBe(true);
    expect(() => ((config.listen as { port: number }).port = 1)).toThrow(TypeError);
  });

  it('refuses deeply nested YAML and JSON without crashing the process', async () => {
    for (const [text, name] of [
      ['- '.repeat(5_000), 'deep.yaml'],
      ['['.repeat(100_000), 'deep.json'],
      ['a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n', 'aliases.yaml'],
    ] as const) {
      const err = await configError(text, name);
      expect(isSealbusError(err, 'SEALBUS_ERR_CONFIG_UNREADABLE'), name).toBe(true);
    }
    expect(((await configError('- '.repeat(5_000), 'deep.yaml')) as Error).message).toMatch(/nest more than 32 levels deep/);
  });

  it('names the file and the unknown key', async () => {
    const err = await configError('tls: {cert: a, key: b, ca: c, certt: d}\nstore: {dir: data}\n');
    expect(isSealbusError(err, 'SEALBUS_ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('bad.yaml');
    expect((err as Error).message).toContain('tls.certt is not a known setting');
  });

  it('names a setting another one rules out', () => {
    expect(() => configFromObject({ ...minimal, store: { dir: 'x', servers: ['tls://127.0.0.1:4222'] } }, 'inline')).toThrow(
      'Invalid configuration in inline: store.servers is not allowed with the other settings of its section (see docs/configuration.md)',
    );
  });

  it('names a missing required key and a wrong type', () => {
    const missing = (() => {
      try {
        configFromObject({ store: { dir: 'x' } }, 'inline');
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    expect(missing?.message).toBe('Invalid configuration in inline: tls is required');
    expect(() => configFromObject({ ...minimal, listen: { port: 'eighty' } }, 'inline')).toThrow(/listen\.port must be integer/);
    expect(() => configFromObject({ ...minimal, auth: { algorithms: ['HS256'] } }, 'inline')).toThrow(/auth\.algorithms\.0 must be one of/);
    expect(() => configFromObject({ ...minimal, auth: { algorithms: ['none'] } }, 'inline')).toThrow(/SEALBUS|must be one of/);
  });

  it('refuses unparsable YAML and plain-http JWKS URLs', async () => {
    const unreadable = await configError('tls: [unclosed\n', 'broken.yaml');
    expect(isSealbusError(unreadable, 'SEALBUS_ERR_CONFIG_UNREADABLE')).toBe(true);
    expect(() =>
      configFromObject({ ...minimal, auth: { issuers: [{ issuer: 'x', jwksUrl: 'http://idp/jwks' }] } }, 'inline'),
    ).toThrow(/auth\.issuers\.0\.jwksUrl must match pattern/);
  });

  it('refuses numbers JSON has no value for (.inf, .nan, 1e999), naming the line', async () => {
    // ajv counts Infinity as an integer above every minimum: `.inf` here would pass the schema, and
    // a timer of Infinity ms fires every millisecond.
    const err = await configError('tls: {cert: a, key: b, ca: c}\nstore:\n  dir: data\n  retentionCheckMs: .inf\n', 'inf.yaml');
    expect(isSealbusError(err, 'SEALBUS_ERR_CONFIG_UNREADABLE')).toBe(true);
    expect((err as Error).message).toMatch(/line 4: \.inf is not a finite number/);
    for (const [name, text] of [['nan.yaml', 'tls: {cert: a, key: b, ca: c}\nstore: {dir: data, retentionCheckMs: .nan}\n'], ['big.json', '{"tls": {"cert": "a", "key": "b", "ca": "c"}, "store": {"dir": "data", "retentionCheckMs": 1e999}}']] as const) {
      expect(isSealbusError(await configError(text, name), 'SEALBUS_ERR_CONFIG_UNREADABLE'), name).toBe(true);
    }
  });

  it('refuses duplicate keys instead of letting the last one win silently', async () => {
    const err = await configError('tls: {cert: a, key: b, ca: c}\nstore: {dir: one}\nstore: {dir: two}\n', 'dup.yaml');
    expect(isSealbusError(err, 'SEALBUS_ERR_CONFIG_UNREADABLE')).toBe(true);
  });
});
