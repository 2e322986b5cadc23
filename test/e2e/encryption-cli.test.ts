import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** An operator's path through an encrypted topic with the CLI alone. */
describe('sealbus produce and consume on an encrypted topic', () => {
  let t: TestBroker;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    t = await startTestBroker();
    env = cliEnv(t);
  });
  afterAll(async () => t?.close());

  it('creates the topic, seals and signs with --keys, and opens with the producer verified', async () => {
    const keys = join(t.env.dir, 'admin.keys');
    expect((await runCli(['keys', 'generate', '--out', keys], env)).code).toBe(0);
    expect((await runCli(['keys', 'register', '--keys', keys], env)).code).toBe(0);
    const created = await runCli(['topics', 'create', 'vault.notes', '--encryption', 'required'], env);
    expect(created.stdout).toContain('encryption=required');

    const plain = await runCli(['produce', 'vault.notes'], env, 'not sealed\n');
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('SEALBUS_ERR_ENVELOPE_REQUIRED');

    const produced = await runCli(['produce', 'vault.notes', '--keys', keys], env, 'first secret\nsecond secret\n');
    expect(produced.stderr).toBe('');
    expect(produced.stdout.trim().split('\n')).toEqual(['0:0', '0:1']);

    const consumed = await runCli(['consume', 'vault.notes', '--from-beginning', '--max', '2', '--json', '--keys', keys], env);
    expect(consumed.code).toBe(0);
    const lines = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.value, line.producer])).toEqual([
      ['first secret', 'admin'],
      ['second secret', 'admin'],
    ]);

    // Without the keys the batch cannot be opened: the default fails, mark prints it sealed.
    const blind = await runCli(['consume', 'vault.notes', '--from-beginning', '--max', '1', '--json', '--keys', await otherKeys(t, env)], env);
    expect(blind.code).not.toBe(0);
    expect(blind.stderr).toContain('SEALBUS_ERR_ENVELOPE_NO_KEY');
    const marked = await runCli(['consume', 'vault.notes', '--from-beginning', '--max', '1', '--json', '--keys', await otherKeys(t, env), '--undecryptable', 'mark'], env);
    expect(JSON.parse(marked.stdout.trim()).undecryptable).toBe('SEALBUS_ERR_ENVELOPE_NO_KEY');
  }, 90_000); // several CLI processes, each starting node and tsx
});

let others = 0;
/** A key file never registered: no batch is sealed to it. */
async function otherKeys(t: TestBroker, env: NodeJS.ProcessEnv): Promise<string> {
  const file = join(t.env.dir, `other-${others++}.keys`);
  expect((await runCli(['keys', 'generate', '--out', file], env)).code).toBe(0);
  return file;
}
