import { generateKeyPairSync } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { SOURCE, buildLog, sampleInput, testSigner, toJsonLines, type TestLog } from '../audit/helpers.js';

/**
 * `sealbus audit verify --file` against every way of tampering with an export: the exit code, and
 * the first bad position named in the text and in the JSON report.
 * The log: 42 events, a checkpoint after every 10th (positions 10, 21, 32, 43), 2 events unsigned.
 */
const tempDir = useTempDirs('sealbus-audit-verify-');

type Entries = Record<string, any>[];

function copyOf(entries: readonly unknown[]): Entries {
  return JSON.parse(JSON.stringify(entries)) as Entries;
}

describe('sealbus audit verify --file', () => {
  let log: TestLog;
  const at = (seq: number): number => log.eventPositions[seq]!;
  let dir: string;
  let pubkey: string;
  let state: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    log = await buildLog(42, 10);
  });

  async function setUp(): Promise<void> {
    dir = await tempDir();
    pubkey = join(dir, 'audit.pub');
    state = join(dir, 'state', 'audit-verified.json');
    await writeFile(pubkey, log.signer.publicKeyPem());
    env = { PATH: process.env.PATH, HOME: dir };
  }

  async function verify(entries: readonly unknown[], ...extra: string[]): Promise<CliRun> {
    const file = join(dir, `log-${Math.random().toString(36).slice(2)}.jsonl`);
    await writeFile(file, toJsonLines(entries));
    return runCli(['audit', 'verify', '--file', file, '--pubkey', pubkey, '--state', state, ...extra], env);
  }

  /** Runs the text and the JSON form: both must fail with exit 1 and name the same first problem. */
  async function expectFirstProblem(entries: readonly unknown[], expected: { position: number; seq: number | null; kind: string }, ...extra: string[]): Promise<CliRun> {
    const [text, json] = await Promise.all([verify(entries, ...extra), verify(entries, ...extra, '--json')]);
    expect(text.code, text.stderr).toBe(1);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^position ${expected.position} \\(line ${expected.position + 1}\\), seq ${expected.seq ?? '-'}: ${expected.kind}: `));
    expect(lines.at(-1)).toMatch(new RegExp(`^FAILED: \\d+ problems?, the first at position ${expected.position}; `));
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject(expected);
    return text;
  }

  it('says ok for an intact log, saves the verified head (0600), and accepts it again', async () => {
    await setUp();
    const run = await verify(log.entries);
    expect(run.stdout).toBe('ok: 42 events, 4 checkpoints, signed up to event 40; unsigned tail: 2 events\n');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`verified state of ${SOURCE} saved in ${state}`);
    expect(statSync(state).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(state, 'utf8'));
    expect(saved[SOURCE]).toMatchObject({ lastVerified: { count: 40, headHash: log.checkpoints[3]!.headHash }, keyIds: [log.signer.keyId] });
    const again = await verify(log.entries, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      ok: true,
      source: SOURCE,
      events: 42,
      checkpoints: 4,
      unsignedTail: 2,
      keySource: 'pubkey',
      keyIds: [log.signer.keyId],
      lastVerified: { count: 40 },
      stateUpdated: true,
    });
  });

  it('reads standard input with --file -', async () => {
    await setUp();
    const run = await runCli(['audit', 'verify', '--file', '-', '--pubkey', pubkey, '--state', state], env, toJsonLines(log.entries));
    expect(run.stdout).toContain('ok: 42 events');
    expect(run.code).toBe(0);
  });

  it('names a deleted event', async () => {
    await setUp();
    const entries = copyOf(log.entries);
    entries.splice(at(17), 1);
    await expectFirstProblem(entries, { position: at(17), seq: 17, kind: 'deleted' });
  });

  it('names reordered events', async () => {
    await setUp();
    const entries = copyOf(log.entries);
    [entries[at(12)], entries[at(13)]] = [entries[at(13)]!, entries[at(12)]!];
    await expectFirstProblem(entries, { position: at(12), seq: 12, kind: 'reordered' });
  });

  it('names an edited event', async () => {
    await setUp();
    const entries = copyOf(log.entries);
    entries[at(25)]!['time'] = '2030-01-01T00:00:00.000Z';
    await expectFirstProblem(entries, { position: at(25), seq: 25, kind: 'edited' });
  });

  it('names a duplicated event', async () => {
    await setUp();
    const entries = copyOf(log.entries);
    entries.splice(at(15) + 1, 0, copyOf([entries[at(12)]])[0]!);
    await expectFirstProblem(entries, { position: at(15) + 1, seq: 12, kind: 'duplicated' });
  });

  it('names a tail truncated away while a later checkpoint was kept', async () => {
    await setUp();
    const entries = log.entries.filter((entry) => entry['type'] === 'sealbus.audit.checkpoint' || (entry['sealbusseq'] as number) < 33);
    await expectFirstProblem(entries, { position: at(33), seq: 33, kind: 'truncated' });
  });

  it('names a forged checkpoint signature, and a checkpoint signed by another key', async () => {
    await setUp();
    const position = log.checkpoints[1]!.position;
    const forged = copyOf(log.entries);
    const signature = forged[position]!['data']['signature'] as string;
    forged[position]!['data']['signature'] = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    await expectFirstProblem(forged, { position, seq: null, kind: 'bad-signature' });
    const other = await testSigner();
    await writeFile(pubkey, other.publicKeyPem());
    await expectFirstProblem(log.entries, { position: log.checkpoints[0]!.position, seq: null, kind: 'unknown-key' });
  });

  it('with the state of an earlier verification: a log cut short or restored from an older copy is rolled back', async () => {
    await setUp();
    expect((await verify(log.entries)).code).toBe(0);
    const saved = await readFile(state, 'utf8');
    // Cut right after the checkpoint for 30 events: alone, it is a shorter valid log.
    const cut = log.entries.slice(0, log.checkpoints[2]!.position + 1);
    const alone = await runCli(['audit', 'verify', '--file', '-', '--pubkey', pubkey, '--state', join(dir, 'fresh.json')], env, toJsonLines(cut));
    expect(alone.code).toBe(0);
    const text = await expectFirstProblem(cut, { position: cut.length, seq: 30, kind: 'rolled-back' });
    expect(text.stdout).toContain('the log ends at 30 events, fewer than the 40 verified before');
    // A failed verification leaves the state as it was.
    expect(await readFile(state, 'utf8')).toBe(saved);
  });

  it('with the state of an earlier verification: a log rewritten after it, and signed again, is rolled back', async () => {
    await setUp();
    expect((await verify(log.entries)).code).toBe(0);
    const forked = await buildLog(42, 10, log.signer, (i) => (i < 30 ? sampleInput(i) : { ...sampleInput(i), subject: 'topic:rewritten' }));
    await expectFirstProblem(forked.entries, { position: forked.eventPositions[39]!, seq: 39, kind: 'rolled-back' });
  });

  it('with the state of an earlier verification: an emptied log is rolled back', async () => {
    await setUp();
    expect((await verify(log.entries)).code).toBe(0);
    await expectFirstProblem([], { position: 0, seq: 0, kind: 'rolled-back' });
  });

  it('fails a log that starts after seq 0 with a hint, and accepts it with --partial', async () => {
    await setUp();
    const later = log.entries.slice(log.checkpoints[0]!.position + 1);
    const strict = await verify(later);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^position 0 \(line 1\), seq 0: deleted: the log starts with seq 10/);
    expect(strict.stdout).toContain('hint: the log does not start at seq 0');
    expect(strict.stdout).toContain('--partial');
    const partial = await verify(later, '--partial');
    expect(partial.stdout).toBe('ok: 32 events, 3 checkpoints, signed up to event 40; unsigned tail: 2 events\n');
    expect(partial.code).toBe(0);
  });

  it('exits 2 when it cannot check: --file without --pubkey, an unreadable file, a bad key, a state others may write', async () => {
    await setUp();
    const file = join(dir, 'log.jsonl');
    await writeFile(file, toJsonLines(log.entries));
    const nokey = await runCli(['audit', 'verify', '--file', file, '--state', state], env);
    expect(nokey.code).toBe(2);
    expect(nokey.stderr).toContain('--file needs --pubkey');
    const missing = await runCli(['audit', 'verify', '--file', join(dir, 'nope.jsonl'), '--pubkey', pubkey, '--state', state], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    await writeFile(join(dir, 'private.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const privateKey = await runCli(['audit', 'verify', '--file', file, '--pubkey', join(dir, 'private.pem'), '--state', state], env);
    expect(privateKey.code).toBe(2);
    expect(privateKey.stderr).toContain('holds a PRIVATE KEY');
    const looseState = join(dir, 'loose.json');
    await writeFile(looseState, '{}');
    await chmod(looseState, 0o666);
    const loose = await runCli(['audit', 'verify', '--file', file, '--pubkey', pubkey, '--state', looseState], env);
    expect(loose.code).toBe(2);
    expect(loose.stderr).toContain('writable by group or others');
    const both = await runCli(['audit', 'verify', '--file', file, '--data', dir, '--pubkey', pubkey], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('at most one of --data and --file');
  });

  it('keeps its state under $XDG_STATE_HOME by default', async () => {
    await setUp();
    const file = join(dir, 'log.jsonl');
    await writeFile(file, toJsonLines(log.entries));
    const run = await runCli(['audit', 'verify', '--file', file, '--pubkey', pubkey], { ...env, XDG_STATE_HOME: join(dir, 'xdg') });
    expect(run.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'xdg', 'sealbus', 'audit-verified.json'), 'utf8'))[SOURCE].lastVerified.count).toBe(40);
  });
});
