import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/certs.js';
import { createCertificateAuthority, issueCertificate, loadTlsMaterial } from '../../src/auth/index.js';
import { x509 } from '../../src/auth/x509-lib.js';
import { isSealbusError } from '../../src/errors/index.js';
import { tempDir } from './helpers/pki.js';
import { outcome, startTlsHarness } from './helpers/tls-harness.js';

/** Runs `sealbus certs ...` in-process; returns the printed lines, or the error code. */
async function sealbus(...args: string[]): Promise<{ lines: string[]; code: string }> {
  const lines: string[] = [];
  const program = new Command('sealbus').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  register(program, { out: (line) => lines.push(line) });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { lines, code: 'ok' };
  } catch (err) {
    if (isSealbusError(err)) return { lines, code: err.code };
    if (err instanceof CommanderError) return { lines, code: `usage: ${err.message}` };
    throw err;
  }
}

describe('sealbus certs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let caDir: string;

  beforeAll(async () => {
    dir = await tempDir();
    caDir = join(dir.path, 'ca');
  });
  afterAll(async () => {
    await dir.remove();
  });

  const crlSerials = async (): Promise<string[]> =>
    new x509.X509Crl(await readFile(join(caDir, 'crl.pem'), 'utf8')).entries.map((entry) => entry.serialNumber.replace(/^0+/, ''));

  it('init creates the CA (key 0600) and an empty CRL, and refuses to run twice', async () => {
    expect((await sealbus('certs', 'init', '--out', caDir)).code).toBe('ok');
    expect((await stat(join(caDir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect(await crlSerials()).toEqual([]);
    const key = await readFile(join(caDir, 'ca.key'), 'utf8');
    expect((await sealbus('certs', 'init', '--out', caDir)).code).toBe('SEALBUS_ERR_AUTH_FILE_EXISTS');
    expect(await readFile(join(caDir, 'ca.key'), 'utf8')).toBe(key);
  });

  it('issue makes server and client certificates', async () => {
    const server = await sealbus('certs', 'issue', '--ca', caDir, '--name', 'broker', '--server', '--host', '127.0.0.1', '--host', 'localhost', '--out', dir.path);
    expect(server.code).toBe('ok');
    const client = await sealbus('certs', 'issue', '--ca', caDir, '--name', 'alice', '--spiffe', 'spiffe://dev.example/alice', '--out', dir.path);
    expect(client.code).toBe('ok');
    expect(client.lines.join('\n')).toMatch(/x5t#S256\s+[A-Za-z0-9_-]{43}/);
    expect(client.lines.join('\n')).not.toContain('PRIVATE KEY');
    expect((await sealbus('certs', 'issue', '--ca', caDir, '--name', 'bob', '--out', dir.path)).code).toBe('ok');
    expect((await stat(join(dir.path, 'alice.key'))).mode & 0o777).toBe(0o600);
  });

  it('issue refuses inconsistent options as usage errors', async () => {
    expect((await sealbus('certs', 'issue', '--ca', caDir, '--name', 'x', '--server', '--out', dir.path)).code).toMatch(/usage: .*--host/);
    expect((await sealbus('certs', 'issue', '--ca', caDir, '--name', 'x', '--host', 'h', '--out', dir.path)).code).toMatch(/usage: .*--server/);
    expect((await sealbus('certs', 'issue', '--ca', caDir, '--name', 'x', '--days', '0', '--out', dir.path)).code).toMatch(/usage/);
  });

  it('revoke adds the certificate to crl.pem once, and only for certificates of this CA', async () => {
    const alice = new x509.X509Certificate(await readFile(join(dir.path, 'alice.crt'), 'utf8'));
    expect((await sealbus('certs', 'revoke', '--ca', caDir, '--cert', join(dir.path, 'alice.crt'))).code).toBe('ok');
    const again = await sealbus('certs', 'revoke', '--ca', caDir, '--cert', join(dir.path, 'alice.crt'));
    expect(again.lines.join('')).toContain('already revoked');
    expect(await crlSerials()).toEqual([alice.serialNumber.replace(/^0+/, '')]);

    const stranger = await issueCertificate({ ca: await createCertificateAuthority({ commonName: 'Other' }), commonName: 'eve' });
    const strangerFile = join(dir.path, 'stranger.crt');
    await writeFile(strangerFile, stranger.certPem);
    expect((await sealbus('certs', 'revoke', '--ca', caDir, '--cert', strangerFile)).code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect((await sealbus('certs', 'revoke', '--ca', caDir, '--serial', 'zz')).code).toMatch(/usage/);
    expect((await sealbus('certs', 'crl', '--ca', caDir)).code).toBe('ok');
    expect(await crlSerials()).toEqual([alice.serialNumber.replace(/^0+/, '')]);
  });

  it('produces files a broker loads: the revoked client is refused, the other accepted', async () => {
    const material = await loadTlsMaterial({
      certFile: join(dir.path, 'broker.crt'),
      keyFile: join(dir.path, 'broker.key'),
      caFile: join(caDir, 'ca.crt'),
      crlFile: join(caDir, 'crl.pem'),
    });
    const caPem = await readFile(join(caDir, 'ca.crt'), 'utf8');
    const harness = await startTlsHarness(material, caPem);
    try {
      const credentials = async (name: string) => ({
        certPem: await readFile(join(dir.path, `${name}.crt`), 'utf8'),
        keyPem: await readFile(join(dir.path, `${name}.key`), 'utf8'),
      });
      expect(outcome(await harness.connect(await credentials('alice')), material)).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
      expect(outcome(await harness.connect(await credentials('bob')), material)).toBe('ok:bob');
    } finally {
      await harness.close();
    }
  });
});
