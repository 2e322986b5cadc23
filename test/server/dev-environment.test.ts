import { chmod, readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAdminEnv } from '../../src/server/dev-environment.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

describe('sealbus dev material', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
  });
  afterAll(async () => t?.close());

  it('rewrites admin.env as 0600 even when the old file was left readable by others', async () => {
    await chmod(t.env.files.env, 0o644);
    const token = await writeAdminEnv(t.env, t.broker);
    expect((await stat(t.env.files.env)).mode & 0o777).toBe(0o600);
    expect(await readFile(t.env.files.env, 'utf8')).toContain(`SEALBUS_TOKEN=${token}`);
  });

  it('keeps every private key 0600 and reuses the material on the next start', async () => {
    for (const key of ['ca.key', 'server.key', 'admin.key']) {
      expect((await stat(`${t.env.dir}/certs/${key}`)).mode & 0o777).toBe(0o600);
    }
    const { prepareDevEnvironment } = await import('../../src/server/dev-environment.js');
    const before = await readFile(t.env.files.adminCert, 'utf8');
    await prepareDevEnvironment(t.env.dir, { port: 0 });
    expect(await readFile(t.env.files.adminCert, 'utf8')).toBe(before);
  });
});
