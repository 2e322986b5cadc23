import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { SealbusError } from '../errors/index.js';
import { parseBoundedYaml } from './bounded-yaml.js';
import { createAjv, firstProblem } from './json-schema.js';
import { configSchema } from './schema.js';
import type { SealbusConfig } from './types.js';

/** A configuration file is small; anything larger is a mistake or an attack. */
const MAX_CONFIG_BYTES = 1024 * 1024;

const validate = createAjv({ useDefaults: true }).compile(configSchema);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates a configuration object (as parsed from YAML or JSON, or built in code), fills in the
 * defaults, resolves relative paths against `baseDir`, and returns it frozen. An error names the
 * source and the bad key.
 */
export function configFromObject(input: unknown, source: string, baseDir = process.cwd()): SealbusConfig {
  const copy: unknown = input === undefined ? {} : structuredClone(input);
  if (!validate(copy)) {
    const problem = firstProblem(validate);
    throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', {
      file: source,
      key: problem?.key ?? '(root)',
      reason: problem?.reason ?? 'is invalid',
    });
  }
  const config = copy as unknown as {
    tls: Record<string, unknown>;
    store: Record<string, unknown>;
    auth: { localIssuer: Record<string, unknown> };
    policy: { dir: string };
    audit: Record<string, unknown>;
  };
  const absolute = (p: unknown): string => (isAbsolute(String(p)) ? String(p) : resolve(baseDir, String(p)));
  for (const key of ['cert', 'key', 'ca', 'crl'] as const) {
    if (config.tls[key] !== undefined) config.tls[key] = absolute(config.tls[key]);
  }
  config.store.dir = absolute(config.store.dir);
  for (const key of ['credentialsFile', 'tokenFile', 'passwordFile'] as const) {
    if (config.store[key] !== undefined) config.store[key] = absolute(config.store[key]);
  }
  const natsTls = config.store.tls as Record<string, unknown> | undefined;
  for (const key of ['ca', 'cert', 'key'] as const) if (natsTls?.[key] !== undefined) natsTls[key] = absolute(natsTls[key]);
  config.policy.dir = absolute(config.policy.dir);
  const issuer = config.auth.localIssuer;
  issuer.keyDir = issuer.keyDir === undefined ? resolve(String(config.store.dir), 'issuer') : absolute(issuer.keyDir);
  const audit = config.audit;
  audit.keyDir = audit.keyDir === undefined ? resolve(String(config.store.dir), 'audit') : absolute(audit.keyDir);
  audit.brokerId ??= defaultBrokerId();
  return deepFreeze({ source, ...(config as object) } as SealbusConfig);
}

/** Reads and validates `sealbus.yaml` (or `.json`). */
export async function loadConfigFile(file: string): Promise<SealbusConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new SealbusError('SEALBUS_ERR_CONFIG_UNREADABLE', { file, reason: (err as Error).message });
  }
  return configFromBytes(bytes, file);
}

/**
 * `loadConfigFile` once the bytes are read: `file` names the source in errors, says whether it is
 * JSON, and is where relative paths start from.
 */
export function configFromBytes(bytes: Buffer, file: string): SealbusConfig {
  const unreadable = (reason: string) => new SealbusError('SEALBUS_ERR_CONFIG_UNREADABLE', { file, reason });
  if (bytes.length > MAX_CONFIG_BYTES) throw unreadable(`larger than ${MAX_CONFIG_BYTES} bytes`);
  // Replacement characters would silently change a path or a name, as policy files refuse them too.
  if (!isUtf8(bytes)) throw unreadable('not valid UTF-8');
  const text = bytes.toString('utf8');
  let parsed: unknown;
  try {
    // JSON too goes through the bounded parser: JSON.parse has no depth limit either.
    parsed = parseBoundedYaml(text, { json: file.endsWith('.json'), maxAliasCount: 100 });
  } catch (err) {
    throw new SealbusError('SEALBUS_ERR_CONFIG_UNREADABLE', { file, reason: (err as Error).message.split('\n')[0] });
  }
  return configFromObject(parsed ?? {}, file, dirname(resolve(file)));
}

/** The host name as a broker id: letters, digits, `.`, `_` and `-`, at most 128 characters. */
function defaultBrokerId(): string {
  const name = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return name === '' ? 'sealbus' : name;
}
