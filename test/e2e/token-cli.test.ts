import { statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../src/auth/index.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { writeServeConfig } from '../helpers/serve-config.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

/** `sealbus token` and `sealbus keys` as an operator runs them against a running broker. */
describe('sealbus token and sealbus keys', () => {
  let t: TestBroker;
  let env: NodeJS.ProcessEnv;
  let svcCertFile: string;
  let svcCert: { cert: string; key: string };

  beforeAll(async () => {
    t = await startTestBroker();
    env = cliEnv(t);
    const pair = await issueCertificate({ ca: t.caPair, commonName: 'svc', client: true, extendedKeyUsage: 'client' });
    svcCert = { cert: pair.certPem, key: pair.keyPem };
    svcCertFile = join(t.env.dir, 'svc.crt');
    await writeFile(svcCertFile, pair.certPem);
    expect((await t.request('POST', '/v1/topics', { body: { name: 'orders.eu', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('issues a token through the API: only the token on stdout, the details on stderr', async () => {
    const run = await runCli(['token', 'issue', '--sub', 'svc', '--scope', 'produce:orders.eu', '--bind-cert', svcCertFile, '--ttl', '10m'], env);
    expect(run.stderr).toContain('jti');
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'svc', scope: 'produce:orders.eu' });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(run.stderr).not.toContain(token);
  });

  it('--out writes the token to a new 0600 file and keeps it off the terminal; --json leaves it out', async () => {
    const file = join(t.env.dir, 'svc.token');
    const run = await runCli(['token', 'issue', '--sub', 'svc', '--bind-cert', svcCertFile, '--scope', 'produce:orders.eu', '--out', file, '--json'], env);
    expect(run.code).toBe(0);
    const token = (await readFile(file, 'utf8')).trim();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const printed = JSON.parse(run.stdout);
    expect(printed).toMatchObject({ sub: 'svc', bound: true, file });
    expect(printed.token).toBeUndefined();
    expect(run.stdout + run.stderr).not.toContain(token);
    const again = await runCli(['token', 'issue', '--sub', 'svc', '--bind-cert', svcCertFile, '--out', file], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SEALBUS_ERR_AUTH_FILE_EXISTS');
  });

  it('inspect accepts a good token, and after revoke says it is revoked (exit 3)', async () => {
    const file = join(t.env.dir, 'inspect.token');
    expect((await runCli(['token', 'issue', '--sub', 'svc', '--bind-cert', svcCertFile, '--scope', 'produce:orders.eu', '--out', file], env)).code).toBe(0);
    const ok = await runCli(['token', 'inspect', file], env);
    expect(ok.stdout).toContain('accepted');
    expect(ok.code).toBe(0);
    const jti = decodeJwt((await readFile(file, 'utf8')).trim()).jti as string;
    const revoke = await runCli(['token', 'revoke', '--jti', jti, '--reason', 'test'], env);
    expect(revoke.stdout).toContain(`revoked: token ${jti}`);
    expect(revoke.code).toBe(0);
    const bad = await runCli(['token', 'inspect', file], env);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toContain('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    const list = await runCli(['token', 'revocations', '--json'], env);
    expect(JSON.parse(list.stdout).some((entry: { jti?: string }) => entry.jti === jti)).toBe(true);
    // Against another certificate, the broker's verdict is the binding error.
    const fresh = join(t.env.dir, 'inspect2.token');
    await runCli(['token', 'issue', '--sub', 'svc', '--bind-cert', svcCertFile, '--scope', 'produce:orders.eu', '--out', fresh], env);
    const other = await runCli(['token', 'inspect', fresh, '--check-cert', t.env.files.adminCert], env);
    expect(other.code).toBe(3);
    expect(other.stdout).toContain('SEALBUS_ERR_AUTH_TOKEN_BINDING');
  });

  it('revoke needs exactly one of --jti and --sub', async () => {
    const run = await runCli(['token', 'revoke', '--jti', 'a', '--sub', 'b'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('exactly one of --jti or --sub');
  });

  it('issues locally with --config (bootstrap) and rotates keys through the API and locally', async () => {
    const config = await writeServeConfig(t.env.dir);
    const local = await runCli(['token', 'issue', '--config', config, '--sub', 'svc', '--bind-cert', svcCertFile, '--ttl', '5m'], { PATH: process.env.PATH });
    expect(local.code).toBe(0);
    const localToken = local.stdout.trim();
    expect((await t.request('GET', '/v1/topics', { credentials: { ...svcCert, token: localToken } })).status).not.toBe(401);

    const rotated = await runCli(['keys', 'rotate', '--overlap', '1h', '--json'], env);
    expect(rotated.code).toBe(0);
    const { kid, retiring } = JSON.parse(rotated.stdout);
    expect(retiring).toBe(decodeProtectedHeader(localToken).kid);
    const listed = await runCli(['keys', 'list', '--issuer'], env);
    expect(listed.stdout).toMatch(new RegExp(`${kid}\\s+active`));
    expect(listed.stdout).toMatch(new RegExp(`${retiring}\\s+previous`));

    // A rotation made next to the running broker, in its key folder, is noticed within a second.
    const offline = await runCli(['keys', 'rotate', '--config', config, '--overlap', '1h', '--json'], { PATH: process.env.PATH });
    expect(offline.code).toBe(0);
    const newest = JSON.parse(offline.stdout).kid as string;
    await waitFor(async () => {
      const jwks = await t.request('GET', '/.well-known/jwks.json', { credentials: { cert: t.admin.cert, key: t.admin.key } });
      return jwks.body.keys.some((key: { kid: string }) => key.kid === newest);
    }, 'the broker publishes the key rotated with --config', 5000);
    const issued = await runCli(['token', 'issue', '--sub', 'svc', '--bind-cert', svcCertFile, '--scope', 'produce:orders.eu'], env);
    expect(decodeProtectedHeader(issued.stdout.trim()).kid).toBe(newest);
  });
});
