import { readFile } from 'node:fs/promises';
import { SealbusError } from '../errors/index.js';
import { WEBSOCKET_PATH } from '../protocol/index.js';

/**
 * A credential given as a value, or as a function returning one, so that it can rotate: the SDK
 * calls the function each time it connects (and, for the token, when the broker warns that it
 * expires).
 */
export type Credential<T> = T | (() => T | Promise<T>);

/** PEM text or bytes. */
export type Pem = string | Buffer;

/**
 * How to reach and authenticate to a broker; shared by `Producer`, `Consumer` and `Admin`.
 *
 * @example
 * const connection: ConnectionOptions = {
 *   url: 'https://broker.internal:8443',
 *   ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client-key.pem'),
 *   token: () => fetchFreshToken(),
 * };
 */
export interface ConnectionOptions {
  /** `https://host:port` of the broker. */
  readonly url: string;
  /** CA certificates to trust; the system's CAs when absent. */
  readonly ca?: Credential<Pem>;
  /** Client certificate chain (mutual TLS is required). */
  readonly cert: Credential<Pem>;
  readonly key: Credential<Pem>;
  /** The bearer token (a JWT). */
  readonly token: Credential<string>;
}

/** The TLS material of one connection, resolved from the credentials. */
export interface TlsMaterial {
  readonly ca?: Pem;
  readonly cert: Pem;
  readonly key: Pem;
}

/** Calls the credential when it is a function; returns it otherwise. */
export async function resolveCredential<T>(credential: Credential<T>): Promise<T> {
  return typeof credential === 'function' ? await (credential as () => T | Promise<T>)() : credential;
}

/** Resolves the TLS material of `options` for one connection (credential functions are called now). */
export async function resolveTlsMaterial(options: ConnectionOptions): Promise<TlsMaterial> {
  const [ca, cert, key] = await Promise.all([
    options.ca === undefined ? undefined : resolveCredential(options.ca),
    resolveCredential(options.cert),
    resolveCredential(options.key),
  ]);
  return ca === undefined ? { cert, key } : { ca, cert, key };
}

function invalidOption(key: string, reason: string, source = 'connection options'): SealbusError {
  return new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: source, key, reason });
}

/**
 * The broker's base URL, checked: `https:` only (no plaintext), no credentials or query in it.
 * Returns the origin, e.g. `https://broker:8443`.
 */
export function brokerOrigin(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidOption('url', `is not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'https:') throw invalidOption('url', `must use https:, got ${parsed.protocol}`);
  if (parsed.username !== '' || parsed.password !== '') throw invalidOption('url', 'must not carry credentials; use token');
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    throw invalidOption('url', 'must be https://host:port with no path, query or fragment');
  }
  return new URL(parsed.origin);
}

/** `wss://host:port/v1/ws` for the broker at `url` (`https://host:port`). */
export function webSocketUrl(url: string): string {
  const origin = brokerOrigin(url);
  return `wss://${origin.host}${WEBSOCKET_PATH}`;
}

function fileCredential(variable: string, path: string, trim = false): () => Promise<string> {
  // Read on every connection, so that a rotated file is picked up without a restart.
  return async () => {
    try {
      const text = await readFile(path, 'utf8');
      return trim ? text.trim() : text;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new SealbusError('SEALBUS_ERR_CONFIG_UNREADABLE', { file: `${variable} (${path})`, reason }, { cause: err });
    }
  };
}

/**
 * Connection options from the environment: `SEALBUS_URL`; `SEALBUS_CA`, `SEALBUS_CERT`,
 * `SEALBUS_KEY` (file paths, re-read at each connection); `SEALBUS_TOKEN` (the token) or
 * `SEALBUS_TOKEN_FILE` (a file holding it, re-read when a fresh token is needed).
 *
 * @example const producer = new Producer({ connection: connectionOptionsFromEnv() });
 */
export function connectionOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): ConnectionOptions {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const require = (name: string): string => {
    const value = get(name);
    if (value === undefined) throw invalidOption(name, 'is required', 'environment');
    return value;
  };
  const url = require('SEALBUS_URL');
  brokerOrigin(url);
  const token = get('SEALBUS_TOKEN');
  const tokenFile = get('SEALBUS_TOKEN_FILE');
  if (token !== undefined && tokenFile !== undefined) {
    throw invalidOption('SEALBUS_TOKEN', 'and SEALBUS_TOKEN_FILE are both set; set one', 'environment');
  }
  if (token === undefined && tokenFile === undefined) throw invalidOption('SEALBUS_TOKEN', 'or SEALBUS_TOKEN_FILE is required', 'environment');
  const ca = get('SEALBUS_CA');
  const options = {
    url,
    cert: fileCredential('SEALBUS_CERT', require('SEALBUS_CERT')),
    key: fileCredential('SEALBUS_KEY', require('SEALBUS_KEY')),
    token: token ?? fileCredential('SEALBUS_TOKEN_FILE', tokenFile!, true),
  };
  return ca === undefined ? options : { ...options, ca: fileCredential('SEALBUS_CA', ca) };
}
