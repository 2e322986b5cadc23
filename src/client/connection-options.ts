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

/** Most brokers one `ConnectionOptions` may name: `url` and up to 15 `failoverUrls`. */
export const MAX_BROKER_URLS = 16;

/**
 * How to reach and authenticate to a broker; shared by `Producer`, `Consumer` and `Admin`.
 *
 * @example
 * const connection: ConnectionOptions = {
 *   url: 'https://broker-a.internal:8443',
 *   failoverUrls: ['https://broker-b.internal:8443'], // optional: other brokers of the same cluster
 *   ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client-key.pem'),
 *   token: () => fetchFreshToken(),
 * };
 */
export interface ConnectionOptions {
  /** `https://host:port` of the broker: the first one tried. */
  readonly url: string;
  /**
   * Other brokers of the same cluster (same store, CA and token issuer), `https://host:port` each;
   * at most `MAX_BROKER_URLS` with `url`. A connection is opened to the broker that last accepted
   * one (`url` at first); when that broker cannot be reached (refused, reset, TLS failure, timeout,
   * or a retriable refusal such as 503), the next in the list `url, ...failoverUrls` is tried, once
   * round. A non-retriable refusal (401, 403) is returned at once: the other brokers would refuse
   * the same credentials. Audit reads without `broker` stay on `url` (each broker has its own chain).
   */
  readonly failoverUrls?: readonly string[];
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

export function invalidOption(key: string, reason: string, source = 'connection options'): SealbusError {
  return new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: source, key, reason });
}

/**
 * The broker's base URL, checked: `https:` only (no plaintext), no credentials or query in it.
 * Returns the origin, e.g. `https://broker:8443`. `key` and `source` name the option in the error.
 */
export function brokerOrigin(url: string, key = 'url', source = 'connection options'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidOption(key, `is not a URL: ${JSON.stringify(url)}`, source);
  }
  if (parsed.protocol !== 'https:') throw invalidOption(key, `must use https:, got ${parsed.protocol}`, source);
  if (parsed.username !== '' || parsed.password !== '') throw invalidOption(key, 'must not carry credentials; use token', source);
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    throw invalidOption(key, 'must be https://host:port with no path, query or fragment', source);
  }
  return new URL(parsed.origin);
}

/**
 * The brokers of `connection`, checked (each like `url`, at most `MAX_BROKER_URLS`, no broker
 * twice): `url` first, then `failoverUrls`, as given.
 */
export function brokerUrls(connection: Pick<ConnectionOptions, 'url' | 'failoverUrls'>, source = 'connection options'): readonly string[] {
  if (connection.failoverUrls !== undefined && !Array.isArray(connection.failoverUrls)) throw invalidOption('failoverUrls', 'must be an array of URLs', source);
  const urls = [connection.url, ...(connection.failoverUrls ?? [])];
  if (urls.length > MAX_BROKER_URLS) throw invalidOption('failoverUrls', `names ${urls.length} brokers with url; at most ${MAX_BROKER_URLS}`, source);
  const seen = new Set<string>();
  urls.forEach((url, i) => {
    const origin = brokerOrigin(url, i === 0 ? 'url' : `failoverUrls[${i - 1}]`, source).origin;
    if (seen.has(origin)) throw invalidOption(i === 0 ? 'url' : `failoverUrls[${i - 1}]`, `names ${origin} twice`, source);
    seen.add(origin);
  });
  return urls;
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
 * Connection options from the environment: `SEALBUS_URL` (one URL, or several separated by commas:
 * the first is `url`, the others `failoverUrls`); `SEALBUS_CA`, `SEALBUS_CERT`,
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
  const [url, ...failoverUrls] = require('SEALBUS_URL').split(',').map((part) => part.trim()) as [string, ...string[]];
  brokerUrls({ url, failoverUrls }, 'environment (SEALBUS_URL)');
  const token = get('SEALBUS_TOKEN');
  const tokenFile = get('SEALBUS_TOKEN_FILE');
  if (token !== undefined && tokenFile !== undefined) {
    throw invalidOption('SEALBUS_TOKEN', 'and SEALBUS_TOKEN_FILE are both set; set one', 'environment');
  }
  if (token === undefined && tokenFile === undefined) throw invalidOption('SEALBUS_TOKEN', 'or SEALBUS_TOKEN_FILE is required', 'environment');
  const ca = get('SEALBUS_CA');
  const options = {
    url,
    ...(failoverUrls.length === 0 ? {} : { failoverUrls }),
    cert: fileCredential('SEALBUS_CERT', require('SEALBUS_CERT')),
    key: fileCredential('SEALBUS_KEY', require('SEALBUS_KEY')),
    token: token ?? fileCredential('SEALBUS_TOKEN_FILE', tokenFile!, true),
  };
  return ca === undefined ? options : { ...options, ca: fileCredential('SEALBUS_CA', ca) };
}
