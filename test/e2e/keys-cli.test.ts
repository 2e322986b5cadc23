import { statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyFile } from '../../src/payload/keys.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** `sealbus keys generate|register|list|revoke` as a client runs them against a running broker. */
describe('sealbus keys for end-to-end keys', () => {
  let t: TestBroker;
  /** The CLI environment of erin, a principal with no rights at all. */
  let erin: NodeJS.ProcessEnv;

  beforeAll(async () => {
    t = await startTestBroker();
    const credentials = await t.client('erin');
    const cert = join(t.env.dir, 'erin.crt');
    const key = join(t.env.dir, 'erin.key');
    await writeFile(cert, credentials.cert);
    await writeFile(key, credentials.key, { mode: 0o600 });
    erin = cliEnv(t, { SEALBUS_CERT: cert, SEALBUS_KEY: key, SEALBUS_TOKEN: credentials.token });
  });
  afterAll(async () => t?.close());

  it('generates a key file 0600 and never overwrites one', async () => {
    const file = join(t.env.dir, 'generated.keys');
    const run = await runCli(['keys', 'generate', '--out', file, '--principal', 'erin', '--json'], { PATH: process.env.PATH });
    expect(run.code).toBe(0);
    const ids = JSON.parse(run.stdout);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keys = parseKeyFile(await readFile(file, 'utf8'));
    expect(keys.principal).toBe('erin');
    expect(ids).toMatchObject({ file, encryptionKeyId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), signingKeyId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(run.stdout).not.toContain(Buffer.from(keys.signing.secretKey).toString('base64url'));

    const again = await runCli(['keys', 'generate', '--out', file], { PATH: process.env.PATH });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SEALBUS_ERR_AUTH_FILE_EXISTS');
    expect(JSON.stringify(parseKeyFile(await readFile(file, 'utf8')))).toBe(JSON.stringify(keys));

    const usage = await runCli(['keys', 'generate', '--out', file, '--rotate', file], { PATH: process.env.PATH });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('exactly one of --out or --rotate');
  });

  it('registers, lists, rotates and revokes, as the principal that authenticates', async () => {
    const file = join(t.env.dir, 'erin.keys');
    const generated = await runCli(['keys', 'generate', '--out', file, '--json'], { PATH: process.env.PATH });
    const { encryptionKeyId, signingKeyId } = JSON.parse(generated.stdout);

    const registered = await runCli(['keys', 'register', '--keys', file], erin);
    expect(registered.stderr).toBe('');
    expect(registered.code).toBe(0);
    expect(registered.stdout).toContain('registered for erin');

    const listed = await runCli(['keys', 'list', '--principal', 'erin'], erin);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`erin\\s+encryption\\s+${encryptionKeyId}\\s+active`));
    expect(listed.stdout).toMatch(new RegExp(`erin\\s+signing\\s+${signingKeyId}\\s+active`));

    const rotated = await runCli(['keys', 'generate', '--rotate', file, '--json'], { PATH: process.env.PATH });
    expect(rotated.code).toBe(0);
    const next = JSON.parse(rotated.stdout);
    expect(next).toMatchObject({ previousEncryptionKeyId: encryptionKeyId, signingKeyId });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseKeyFile(await readFile(file, 'utf8')).previousEncryption).toHaveLength(1);
    expect((await runCli(['keys', 'register', '--keys', file], erin)).code).toBe(0);

    const revoked = await runCli(['keys', 'revoke', '--reason', 'laptop lost', '--', signingKeyId], erin);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${signingKeyId}`);

    const json = await runCli(['keys', 'list', '--principal', 'erin', '--json'], erin);
    const statuses = Object.fromEntries(JSON.parse(json.stdout).keys.map((key: { keyId: string; status: string }) => [key.keyId, key.status]));
    expect(statuses).toEqual({ [encryptionKeyId]: 'retired', [next.encryptionKeyId]: 'active', [signingKeyId]: 'revoked' });
  });

  it('refuses to revoke another principal’s key without manage-keys', async () => {
    const file = join(t.env.dir, 'admin.keys');
    const { signingKeyId } = JSON.parse((await runCli(['keys', 'generate', '--out', file, '--json'], { PATH: process.env.PATH })).stdout);
    expect((await runCli(['keys', 'register', '--keys', file], cliEnv(t))).code).toBe(0);
    const run = await runCli(['keys', 'revoke', '--', signingKeyId], erin);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('SEALBUS_ERR_FORBIDDEN');
  });

  it('keeps the token signing keys under --issuer', async () => {
    const issuer = await runCli(['keys', 'list', '--issuer'], cliEnv(t));
    expect(issuer.code).toBe(0);
    expect(issuer.stdout).toMatch(/^issuer /);
    expect(issuer.stdout).toMatch(/\s+active\s+created /);
    const usage = await runCli(['keys', 'list', '--config', 'sealbus.yaml'], cliEnv(t));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--config goes with --issuer');
  });
});
