import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionOptionsFromEnv, resolveCredential, webSocketUrl } from '../../src/client/index.js';
import { resolveTlsMaterial } from '../../src/client/connection-options.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  throw new Error('expected a throw');
}

describe('webSocketUrl', () => {
  it('derives wss://host:port/v1/ws from the https URL', () => {
    expect(webSocketUrl('https://broker.internal:8443')).toBe('wss://broker.internal:8443/v1/ws');
    expect(webSocketUrl('https://[::1]:8443/')).toBe('wss://[::1]:8443/v1/ws');
  });

  it('refuses plaintext, credentials in the URL and paths', () => {
    expect(codeOf(() => webSocketUrl('http://broker:8080'))).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(codeOf(() => webSocketUrl('https://user:pw@broker:8443'))).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(codeOf(() => webSocketUrl('https://broker:8443/api'))).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(codeOf(() => webSocketUrl('not a url'))).toBe('SEALBUS_ERR_CONFIG_INVALID');
  });
});

describe('credentials', () => {
  it('calls a credential function each time, so it can rotate', async () => {
    let n = 0;
    const token = (): string => `t${++n}`;
    expect(await resolveCredential(token)).toBe('t1');
    expect(await resolveCredential(token)).toBe('t2');
    expect(await resolveCredential('fixed')).toBe('fixed');
    expect(await resolveCredential(async () => 'async')).toBe('async');
  });
});

describe('connectionOptionsFromEnv', () => {
  async function files(): Promise<{ ca: string; cert: string; key: string; token: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'sealbus-env-'));
    dirs.push(dir);
    const paths = { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), token: join(dir, 'token') };
    await writeFile(paths.ca, 'CA');
    await writeFile(paths.cert, 'CERT');
    await writeFile(paths.key, 'KEY');
    await writeFile(paths.token, 'tok-1\n');
    return paths;
  }

  it('reads the URL, the PEM files (again at each connection) and the token file', async () => {
    const paths = await files();
    const options = connectionOptionsFromEnv({
      SEALBUS_URL: 'https://b:1',
      SEALBUS_CA: paths.ca,
      SEALBUS_CERT: paths.cert,
      SEALBUS_KEY: paths.key,
      SEALBUS_TOKEN_FILE: paths.token,
    });
    expect(options.url).toBe('https://b:1');
    expect(await resolveTlsMaterial(options)).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY' });
    expect(await resolveCredential(options.token)).toBe('tok-1');
    await writeFile(paths.token, 'tok-2');
    await writeFile(paths.cert, 'CERT-2');
    expect(await resolveCredential(options.token)).toBe('tok-2');
    expect((await resolveTlsMaterial(options)).cert).toBe('CERT-2');
  });

  it('takes SEALBUS_TOKEN as the token itself and leaves ca out when unset', async () => {
    const paths = await files();
    const options = connectionOptionsFromEnv({ SEALBUS_URL: 'https://b:1', SEALBUS_CERT: paths.cert, SEALBUS_KEY: paths.key, SEALBUS_TOKEN: 'abc' });
    expect(options.token).toBe('abc');
    expect(options.ca).toBeUndefined();
  });

  it('names the missing or conflicting variable', () => {
    const base = { SEALBUS_URL: 'https://b:1', SEALBUS_CERT: '/c', SEALBUS_KEY: '/k' };
    expect(() => connectionOptionsFromEnv({ ...base, SEALBUS_URL: '' })).toThrow('Invalid configuration in environment: SEALBUS_URL is required');
    expect(() => connectionOptionsFromEnv(base)).toThrow('SEALBUS_TOKEN or SEALBUS_TOKEN_FILE is required');
    expect(() => connectionOptionsFromEnv({ ...base, SEALBUS_TOKEN: 'a', SEALBUS_TOKEN_FILE: '/t' })).toThrow('and SEALBUS_TOKEN_FILE are both set');
  });

  it('reports an unreadable file with SEALBUS_ERR_CONFIG_UNREADABLE naming the variable', async () => {
    const paths = await files();
    const options = connectionOptionsFromEnv({ SEALBUS_URL: 'https://b:1', SEALBUS_CERT: '/nonexistent/cert.pem', SEALBUS_KEY: paths.key, SEALBUS_TOKEN: 'a' });
    const error = await resolveTlsMaterial(options).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_CONFIG_UNREADABLE' });
    expect((error as Error).message).toContain('SEALBUS_CERT (/nonexistent/cert.pem)');
  });
});
