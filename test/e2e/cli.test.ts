import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEALBUS_BIN as bin, runCli } from '../helpers/cli.js';


function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${seen}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sealbus dev exited with ${code}: ${seen}`));
    });
  });
}

function parseEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/** The README's tour, as a new user runs it: `sealbus dev`, then the CLI with admin.env. */
describe('CLI against a sealbus dev broker', () => {
  let dir: string;
  let dev: ChildProcess;
  let env: NodeJS.ProcessEnv;
  let banner: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealbus-e2e-'));
    dev = spawn(process.execPath, [bin, 'dev', '--data', join(dir, 'dev'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    banner = await waitForOutput(dev, /Ctrl-C stops the broker/, 20_000);
    const adminEnv = parseEnvFile(join(dir, 'dev', 'admin.env'));
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SEALBUS_')));
    env = { ...clean, ...adminEnv };
  }, 30_000);

  afterAll(async () => {
    if (dev !== undefined && dev.exitCode === null) {
      const exited = new Promise((resolve) => dev.once('exit', resolve));
      dev.kill('SIGTERM');
      await exited;
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('says it is a development setup and writes admin.env with mode 0600', () => {
    expect(banner).toContain('DEVELOPMENT');
    expect(banner).toContain('No check is relaxed');
    const file = join(dir, 'dev', 'admin.env');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'dev', 'certs', 'admin.key')).mode & 0o777).toBe(0o600);
    expect(env.SEALBUS_TOKEN).toMatch(/^eyJ/);
  });

  it('creates, lists, produces, consumes, describes and deletes', async () => {
    const created = await runCli(['topics', 'create', 'orders', '--partitions', '3'], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);

    const produced = await runCli(['produce', 'orders', '--key', 'customer-42', '--json'], env, 'first\nsecond\nthird\n');
    expect(produced.code).toBe(0);
    const acks = produced.stdout.trim().split('\n').map((line) => JSON.parse(line) as { partition: number; offset: number });
    expect(acks).toHaveLength(3);
    expect(new Set(acks.map((a) => a.partition)).size).toBe(1);
    expect(acks.map((a) => a.offset)).toEqual([0, 1, 2]);

    const listed = await runCli(['topics', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout).map((t: { name: string }) => t.name)).toEqual(['orders']);

    const consumed = await runCli(['consume', 'orders', '--from-beginning', '--max', '3', '--json'], env);
    expect(consumed.code).toBe(0);
    const records = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(records.map((r) => [r.topic, r.partition, r.offset, r.key, r.value])).toEqual([
      ['orders', acks[0]!.partition, 0, 'customer-42', 'first'],
      ['orders', acks[0]!.partition, 1, 'customer-42', 'second'],
      ['orders', acks[0]!.partition, 2, 'customer-42', 'third'],
    ]);

    const described = await runCli(['topics', 'describe', 'orders'], env);
    const description = JSON.parse(described.stdout);
    expect(description.partitions[acks[0]!.partition].highWatermark).toBe(3);

    const deleted = await runCli(['topics', 'delete', 'orders'], env);
    expect(deleted.code).toBe(0);
    const missing = await runCli(['topics', 'describe', 'orders'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SEALBUS_ERR_TOPIC_NOT_FOUND');
  }, 90_000); // many CLI processes, each starting node and tsx

  it('fails with the exact code when the token is missing, and never prints it', async () => {
    const { SEALBUS_TOKEN: token, ...withoutToken } = env;
    const refused = await runCli(['topics', 'list'], withoutToken);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SEALBUS_ERR_CONFIG_INVALID');
    const forged = await runCli(['topics', 'list'], { ...withoutToken, SEALBUS_TOKEN: `${token!.slice(0, -4)}AAAA` });
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
    expect(forged.stderr).not.toContain(token!.slice(0, 40));
  });

  it('consumes as a group, committing as it prints; groups list, describe and reset', async () => {
    expect((await runCli(['topics', 'create', 'jobs', '--partitions', '2'], env)).code).toBe(0);
    const produced = await runCli(['produce', 'jobs', '--json'], env, 'a\nb\nc\nd\n');
    expect(produced.code).toBe(0);

    const first = await runCli(['consume', 'jobs', '--group', 'workers', '--from-beginning', '--max', '4', '--json'], env);
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n').map((line) => JSON.parse(line).value).sort()).toEqual(['a', 'b', 'c', 'd']);

    const described = await runCli(['groups', 'describe', 'workers', '--json'], env);
    const group = JSON.parse(described.stdout);
    expect(group.state).toBe('empty');
    // Unkeyed records go to one partition at a time: one or both partitions hold the four, all committed.
    const partitions = group.partitions as { committedOffset: number; lag: number }[];
    expect(partitions.map((p) => p.lag)).toEqual(partitions.map(() => 0));
    expect(partitions.reduce((sum, p) => sum + p.committedOffset, 0)).toBe(4);
    expect((await runCli(['groups', 'list'], env)).stdout).toMatch(/^workers\tstate=empty\tmembers=0/m);
    expect((await runCli(['groups', 'describe', 'workers'], env)).stdout).toContain('TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tOWNER');

    // Committed: a second run of the group starts after what the first printed.
    await runCli(['produce', 'jobs', '--json'], env, 'e\n');
    const second = await runCli(['consume', 'jobs', '--group', 'workers', '--max', '1', '--json'], env);
    expect(second.stdout.trim().split('\n').map((line) => JSON.parse(line).value)).toEqual(['e']);

    const reset = await runCli(['groups', 'reset', 'workers', '--to', 'earliest'], env);
    expect(reset.code).toBe(0);
    expect(reset.stdout.trim().split('\n').map((line) => line.split('\t')[2])).toEqual(['0', '0']);
    const again = await runCli(['consume', 'jobs', '--group', 'workers', '--max', '5', '--json'], env);
    expect(again.stdout.trim().split('\n')).toHaveLength(5);

    const badTime = await runCli(['groups', 'reset', 'workers', '--to', 'yesterday'], env);
    expect(badTime.code).toBe(2);
  }, 90_000);

  it('lints the shipped policies, and explains a decision locally and from the broker', async () => {
    const lint = await runCli(['policy', 'lint', fileURLToPath(new URL('../../policies', import.meta.url))], env);
    expect([lint.code, lint.stdout.trim()]).toEqual([0, '5 files, 0 errors, 0 warnings']);

    const dirFlag = ['--dir', fileURLToPath(new URL('../../policies', import.meta.url))];
    const denied = await runCli(['policy', 'explain', '--principal', 'orders-consumer', '--action', 'produce', '--topic', 'orders.eu', ...dirFlag], env);
    expect(denied.code).toBe(3);
    expect(denied.stdout).toMatch(/^DENIED: orders-consumer may not produce topic "orders.eu"/);
    const allowed = await runCli(['policy', 'explain', '--principal', 'orders-producer', '--action', 'produce', '--topic', 'orders.eu', '--json', ...dirFlag], env);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).decision.deciding[0]).toMatchObject({ file: 'producer-service.yaml', effect: 'allow' });

    const remote = await runCli(['policy', 'explain', '--remote', '--principal', 'orders-producer', '--action', 'produce', '--topic', 'orders.payments.cards', '--json'], env);
    expect(remote.code).toBe(3);
    expect(JSON.parse(remote.stdout).decision).toMatchObject({ allowed: false, rule: 'payments-must-be-encrypted' });
  });
});
