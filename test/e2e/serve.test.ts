import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEALBUS_BIN as bin } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalIssuer, certificateThumbprint } from '../../src/auth/index.js';
import { prepareDevEnvironment } from '../../src/server/dev-environment.js';
import { writeServeConfig } from '../helpers/serve-config.js';


/** `sealbus serve --config`: the production start, from a YAML file, as an operator runs it. */
describe('sealbus serve --config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealbus-serve-'));
    await prepareDevEnvironment(dir); // only for its certificates
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('names the file and the bad key, and exits non-zero', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'tls: {cert: certs/server.crt, key: certs/server.key, ca: certs/ca.crt}\nstore: {dir: data}\nlisten: {prot: 1}\n');
    const child = spawn(process.execPath, [bin, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr).toContain('SEALBUS_ERR_CONFIG_INVALID');
    expect(stderr).toContain(file);
    expect(stderr).toContain('listen.prot is not a known setting');
  });

  it('starts from the file and serves an authenticated client', async () => {
    const file = await writeServeConfig(dir);
    const child = spawn(process.execPath, [bin, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const line = out.split('\n').find((l) => l.includes('sealbus is listening'));
          if (line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      const cert = await readFile(join(dir, 'certs', 'admin.crt'), 'utf8');
      const issuer = await LocalIssuer.loadOrCreate(join(dir, 'data', 'issuer'), { issuer: 'sealbus-local' });
      const token = await issuer.issueToken({ sub: 'admin', ttlSeconds: 60, audience: 'sealbus', bindThumbprint: certificateThumbprint(cert) });
      const ca = await readFile(join(dir, 'certs', 'ca.crt'), 'utf8');
      const key = await readFile(join(dir, 'certs', 'admin.key'), 'utf8');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${url}/v1/topics`, { ca, cert, key, servername: 'localhost', headers: { authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    }
  });
});
