/**
 * How the JetStream store is told to reach NATS, checked before any connection is tried: one way
 * to authenticate, secrets in files (never in URLs, errors or logs), TLS material in pairs, and
 * the store's own settings. No nats-server is needed: each case fails before dialling.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectNats } from '../../../src/log/jetstream/connection.js';
import { JetStreamLogStore } from '../../../src/log/jetstream/jetstream-log-store.js';
import { codeOf, codeOfThrow, rejectionOf } from '../../helpers/error-code.js';
import { useTempDirs } from '../../helpers/temp-dirs.js';

const tempDir = useTempDirs('sealbus-nats-auth-');
// Port 1 on loopback: nothing listens, so a case that got as far as dialling would fail differently.
const servers = ['nats://127.0.0.1:1'];

describe('connecting the JetStream store', () => {
  it('refuses credentials in a server URL, without echoing them', async () => {
    const refused = await rejectionOf(connectNats({ servers: ['nats://sealbus:hunter2-secret@127.0.0.1:1'] }));
    expect(refused.code).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(refused.message).not.toContain('hunter2-secret');
  });

  it('takes one way to authenticate, each with its file', async () => {
    const dir = await tempDir();
    const token = join(dir, 'token');
    await writeFile(token, 'abc', { mode: 0o600 });
    expect(await codeOf(connectNats({ servers, tokenFile: token, user: 'sealbus', passwordFile: token }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(connectNats({ servers, user: 'sealbus' }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(connectNats({ servers, passwordFile: token }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(connectNats({ servers, tls: { ca: token, cert: token } }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(connectNats({ servers: [] }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });

  it('names a secret file it cannot read, not its content', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'no-such-token');
    const refused = await rejectionOf(connectNats({ servers, tokenFile: missing }));
    expect(refused.code).toBe('SEALBUS_ERR_STORE_UNAVAILABLE');
    expect(refused.message).toContain(missing);
  });

  it('reports an unreachable NATS as unavailable (retriable)', async () => {
    const refused = await rejectionOf(connectNats({ servers, timeoutMs: 2000 }));
    expect([refused.code, refused.retriable]).toEqual(['SEALBUS_ERR_STORE_UNAVAILABLE', true]);
  });

  it('checks its own settings at construction', () => {
    expect(codeOfThrow(() => new JetStreamLogStore({ servers, replicas: 2 as never }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(codeOfThrow(() => new JetStreamLogStore({ servers, streamPrefix: 'a.b' }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(codeOfThrow(() => new JetStreamLogStore({ servers, defaults: { segmentBytes: 1 } }))).toBe('SEALBUS_ERR_TOPIC_CONFIG_INVALID');
    expect(codeOfThrow(() => new JetStreamLogStore({ servers, retentionCheckMs: -1 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
  });
});
