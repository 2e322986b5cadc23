import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, AuditSigner, readAuditDataDir, verifyAuditLog } from '../../src/audit/index.js';
import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { waitFor } from '../helpers/wait-for.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/append-audit.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Durable events to wait for before the kill. */
const KILL_AFTER = 2000;

const tempDir = useTempDirs('sealbus-audit-crash-');
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

interface Child {
  readonly process: ChildProcess;
  /** The last count of durable events the child printed. */
  durable(): number;
  stderr(): string;
  readonly exited: Promise<NodeJS.Signals | null>;
}

function startChild(dataDir: string, keyDir: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dataDir, keyDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let durable = 0;
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    // Only whole lines count: a line cut by the kill was never a complete report.
    partial = lines.pop()!;
    for (const line of lines) if (line.startsWith('D ')) durable = Number(line.slice(2));
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => {
      children.delete(child);
      resolve(signal);
    }),
  );
  return { process: child, durable: () => durable, stderr: () => stderr, exited };
}

async function readAndVerify(dataDir: string, signer: AuditSigner) {
  const reader = readAuditDataDir(dataDir);
  const verified = await verifyAuditLog(reader.entries, { publicKeys: [signer.publicKey] });
  return { verified, report: reader.report() };
}

describe('the audit log under kill -9', () => {
  it('leaves a log that verifies, holding every event reported durable, with at most an unsigned torn tail', { timeout: 120_000 }, async () => {
    const root = await tempDir();
    const dataDir = join(root, 'data');
    const keyDir = join(root, 'keys');
    const child = startChild(dataDir, keyDir);
    await waitFor(() => child.durable() >= KILL_AFTER || child.process.exitCode !== null, `${KILL_AFTER} events are durable`, 60_000);
    expect(child.process.exitCode, child.stderr()).toBeNull();
    child.process.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');
    const durable = child.durable();
    expect(durable).toBeGreaterThanOrEqual(KILL_AFTER);

    // (a) Offline, as the crash left it.
    const signer = await AuditSigner.loadOrCreate(keyDir);
    const crashed = await readAndVerify(dataDir, signer);
    expect(crashed.verified.problems).toEqual([]);
    expect(crashed.verified.ok).toBe(true);
    expect(crashed.verified.events).toBeGreaterThanOrEqual(durable);
    expect(crashed.verified.checkpoints).toBeGreaterThan(0);
    expect(crashed.report.damaged).toEqual([]);

    // (b) The broker starts again: recovery cuts a torn tail, the chain goes on and is signed.
    const store = new FileLogStore({ dir: dataDir, retentionCheckMs: 0 });
    await store.open();
    const log = await AuditLog.open({
      store,
      signer,
      source: 'sealbus://crash-test',
      checkpointEvents: 100,
      checkpointIntervalMs: 60_000,
      retentionMs: null,
      retentionBytes: null,
      segmentBytes: 64 * 1024,
      maxPendingEvents: 100,
    });
    expect(log.stats().head.count).toBe(crashed.verified.events);
    const events = await Promise.all([0, 1, 2].map((i) => log.append({ type: 'sealbus.broker.start', data: { run: i } })));
    expect(events.map((event) => event.sealbusseq)).toEqual([0, 1, 2].map((i) => crashed.verified.events + i));
    await log.close();
    await store.close();
    const restarted = await readAndVerify(dataDir, signer);
    expect(restarted.verified).toMatchObject({ ok: true, events: crashed.verified.events + 3, unsignedTail: 0, problems: [] });
    expect(restarted.report).toMatchObject({ tornTail: null, damaged: [] });
  });
});
