/**
 * Configuration files (src/config/load.ts, bounded-yaml.ts), YAML and JSON: either a frozen
 * configuration holding what the file says, or SEALBUS_ERR_CONFIG_UNREADABLE (not UTF-8, too
 * large, not one YAML document, too deep, too many aliases) or SEALBUS_ERR_CONFIG_INVALID (the
 * schema, naming the key).
 */
import { isAbsolute, resolve } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { configFromBytes } from '../../src/config/load.js';
import { ensure, ensureBounded, ensurePlainJson, outcomeOf, timed, type FuzzTarget } from './contract.js';
import { byteMutations, mutateBytes, randomBytes } from './mutate-bytes.js';
import { hostileYaml, mutateText, textMutations } from './mutate-text.js';
import { mutateValue, valueMutation } from './mutate-values.js';

const BASE_DIR = '/etc/sealbus';
const relativePath = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}(\/[a-z0-9_.-]{1,8}){0,2}$/).filter((p) => !p.split('/').includes('..'));
const filePath = fc.oneof(relativePath, relativePath.map((p) => `/srv/${p}`));

/** Configurations the schema accepts: the required keys, and some optional ones with valid values. */
const validConfig = fc.record(
  {
    tls: fc.record({ cert: filePath, key: filePath, ca: filePath, minVersion: fc.constantFrom('TLSv1.2', 'TLSv1.3') }, { requiredKeys: ['cert', 'key', 'ca'] }),
    store: fc.record({ dir: filePath }),
    listen: fc.record({ host: fc.constantFrom('127.0.0.1', '::', 'broker.example'), port: fc.integer({ min: 0, max: 65535 }) }, { requiredKeys: [] }),
    auth: fc.record(
      {
        audience: fc.string({ minLength: 1, maxLength: 20 }),
        clockToleranceSec: fc.integer({ min: 0, max: 300 }),
        algorithms: fc.uniqueArray(fc.constantFrom('EdDSA', 'ES256', 'ES384', 'PS256', 'RS256'), { minLength: 1 }),
      },
      { requiredKeys: [] },
    ),
    topicDefaults: fc.record({ partitions: fc.integer({ min: 1, max: 4096 }), fsync: fc.constantFrom('always', 'interval') }, { requiredKeys: [] }),
    policy: fc.record({ watch: fc.boolean(), cacheSize: fc.integer({ min: 0, max: 10_000_000 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: ['tls', 'store'] },
);

type ConfigInput = { readonly kind: 'valid' | 'mutated' | 'random'; readonly file: string; readonly bytes: Buffer; readonly value?: unknown };

const write = (value: unknown, json: boolean) => Buffer.from(json ? JSON.stringify(value, null, 2) : stringify(value));

const configInput: fc.Arbitrary<ConfigInput> = fc.oneof(
  fc.tuple(validConfig, fc.boolean()).map(([value, json]) => ({ kind: 'valid' as const, file: json ? 'sealbus.json' : 'sealbus.yaml', bytes: write(value, json), value })),
  {
    weight: 2,
    arbitrary: fc.tuple(validConfig, fc.boolean(), textMutations()).map(([value, json, steps]) => ({
      kind: 'mutated' as const,
      file: json ? 'sealbus.json' : 'sealbus.yaml',
      bytes: Buffer.from(mutateText(write(value, json).toString(), steps)),
    })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(validConfig, fc.boolean(), fc.array(valueMutation, { minLength: 1, maxLength: 3 })).map(([value, json, steps]) => ({
      kind: 'mutated' as const,
      file: json ? 'sealbus.json' : 'sealbus.yaml',
      bytes: write(mutateValue(value, steps), json),
    })),
  },
  fc.tuple(validConfig, byteMutations(3)).map(([value, steps]) => ({ kind: 'mutated' as const, file: 'sealbus.yaml', bytes: mutateBytes(write(value, false), steps) })),
  fc.tuple(validConfig, fc.nat(), fc.constantFrom('!!omap', '!!pairs', '!!set', '!!map', '!!binary', '!!timestamp', '!custom')).map(([value, at, tag]) => ({
    kind: 'mutated' as const,
    file: 'sealbus.yaml',
    bytes: tagged(value as Record<string, unknown>, at, tag),
  })),
  fc.tuple(fc.oneof(hostileYaml.map((text) => Buffer.from(text)), randomBytes(120)), fc.boolean()).map(([bytes, json]) => ({ kind: 'random' as const, file: json ? 'c.json' : 'c.yaml', bytes })),
);

/** One section of a configuration written with a YAML tag: a list of one-key maps for the ordered ones. */
function tagged(value: Record<string, unknown>, at: number, tag: string): Buffer {
  const keys = Object.keys(value);
  const chosen = keys[at % keys.length]!;
  const lines = keys.map((key) => {
    const section = value[key] as Record<string, unknown>;
    if (key !== chosen) return `${key}: ${JSON.stringify(section)}`;
    const ordered = tag === '!!omap' || tag === '!!pairs';
    return `${key}: ${tag} ${JSON.stringify(ordered ? Object.entries(section).map(([name, v]) => ({ [name]: v })) : section)}`;
  });
  return Buffer.from(`${lines.join('\n')}\n`);
}

const CONFIG_CODES = ['SEALBUS_ERR_CONFIG_UNREADABLE', 'SEALBUS_ERR_CONFIG_INVALID'] as const;

/** Every value of `written` is in `loaded` (paths made absolute against the file's directory). */
function holds(written: unknown, loaded: unknown, path: string): void {
  if (written !== null && typeof written === 'object' && !Array.isArray(written)) {
    for (const [key, value] of Object.entries(written)) holds(value, (loaded as Record<string, unknown>)[key], `${path}.${key}`);
    return;
  }
  const isPath = /^\.(tls\.(cert|key|ca)|store\.dir)$/.test(path);
  const expected = isPath ? (isAbsolute(String(written)) ? written : resolve(BASE_DIR, String(written))) : written;
  ensure(JSON.stringify(expected) === JSON.stringify(loaded), () => `${path}: the file says ${JSON.stringify(written)}, the configuration holds ${JSON.stringify(loaded)}`);
}

function checkConfig({ kind, file, bytes, value }: ConfigInput): void {
  const loaded = outcomeOf('configFromBytes', CONFIG_CODES, () => configFromBytes(bytes, `${BASE_DIR}/${file}`));
  if (!loaded.ok) {
    ensure(kind !== 'valid', () => `a valid configuration was refused: ${loaded.error.message}`);
    return;
  }
  const config = loaded.value;
  ensure(Object.isFrozen(config) && Object.isFrozen(config.tls) && Object.isFrozen(config.limits), 'a loaded configuration is not frozen');
  ensure([config.tls.cert, config.tls.key, config.tls.ca, config.store.dir, config.policy.dir].every((p) => isAbsolute(p)), 'a path stayed relative');
  ensure(({} as Record<string, unknown>)['polluted'] === undefined, 'loading polluted Object.prototype');
  ensurePlainJson(config);
  if (value !== undefined) holds(value, config, '');
  ensureBounded(config, bytes.length, 4, 8192);
}

export const configTarget: FuzzTarget = {
  name: 'config/files',
  covers: 'configFromBytes (loadConfigFile after the read), parseBoundedYaml, configFromObject (src/config)',
  weight: 15,
  quickRuns: 300,
  async build() {
    return {
      property: fc.property(configInput, (input) => {
        timed('config file', () => checkConfig(input));
      }),
    };
  },
};
