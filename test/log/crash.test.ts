import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileStore } from './helpers/file-store.js';
import { makeTempDir, readAll, seededRandom } from './helpers/log-test-kit.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where each targeted cycle kills the child; `random` cycles are killed by the parent instead. */
const PLAN = ['random', 'append:4', 'roll:1', 'random', 'commit:3', 'retention:1'];
const CYCLES = 24;
/** A targeted crash point that is never reached still ends the run after this many acks. */
const MAX_ACKS = 1500;

interface Run {
  readonly lines: string[];
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
}

const children = new Set<ChildProcess>();

function runChild(dir: string, runId: string, crashAt: string, killAfterAcks: number, seed: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, runId, crashAt, String(seed)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    let acks = 0;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('A ') && ++acks >= killAfterAcks) child.kill('SIGKILL');
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    // Only whole lines count: a line cut by the kill was never a complete report.
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ lines, signal, code, stderr });
    });
  });
}

describe('crash safety under kill -9', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    temp = await makeTempDir('sealbus-crash-');
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await temp.remove();
  });

  it(`keeps every acknowledged record and commit at its offset across ${CYCLES} kills`, { timeout: 120_000 }, async () => {
    const random = seededRandom(20240611);
    /** partition -> offset -> value, for every acknowledged record of every run. */
    const acked = [new Map<number, string>(), new Map<number, string>()];
    const kinds = new Set<string>();
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const plan = PLAN[cycle % PLAN.length]!;
      const runId = `r${cycle}`;
      const killAfter = plan === 'random' ? 5 + Math.floor(random() * 300) : MAX_ACKS;
      const run = await runChild(temp.dir, runId, plan, killAfter, cycle + 1);
      if (plan !== 'random') expect(run.lines, `cycle ${cycle}: the child never reached ${plan}`).toContain(`K ${plan.split(':')[0]}`);
      expect(run.signal, `cycle ${cycle} (${plan}) ended without SIGKILL: ${run.stderr}`).toBe('SIGKILL');
      const commits: [string, number, number][] = [];
      for (const line of run.lines) {
        const [kind, a, b, c, d] = line.split(' ');
        if (kind === 'A') {
          const partition = Number(a);
          for (let i = 0; i < Number(c); i++) acked[partition]!.set(Number(b) + i, `${runId}:${partition}:${Number(d) + i}`);
        } else if (kind === 'c' || kind === 'C') {
          commits.push([kind, Number(a), Number(b)]);
        }
      }

      const { store, report } = await openFileStore(temp.dir);
      for (const problem of report.problems) kinds.add(problem.kind);
      expect(report.problems.filter((p) => p.kind === 'corrupt-batch' || p.kind === 'offset-gap' || p.kind === 'invalid-metadata')).toEqual([]);
      const topic = await store.describeTopic('crash');
      for (const partition of [0, 1]) {
        const state = topic.partitions[partition]!;
        const stored = await readAll(store, 'crash', partition);
        let checked = 0;
        for (const [offset, value] of acked[partition]!) {
          if (offset < state.logStartOffset) continue;
          expect(stored.get(offset), `cycle ${cycle} (${plan}) partition ${partition} offset ${offset}`).toBe(value);
          checked++;
        }
        const lastAck = Math.max(-1, ...acked[partition]!.keys());
        expect(state.highWatermark).toBeGreaterThan(lastAck);
        if (lastAck >= 0) expect(checked).toBeGreaterThan(0);
      }
      // The committed offset is the last acknowledged commit, or the one in flight when killed.
      const fetched = new Map((await store.fetchOffsets('crash-group')).map((o) => [o.partition, o.offset]));
      for (const partition of [0, 1]) {
        const mine = commits.filter(([, p]) => p === partition);
        const lastAcked = mine.findLastIndex(([kind]) => kind === 'C');
        if (lastAcked < 0) continue;
        const allowed = [mine[lastAcked]![2], ...(mine[lastAcked + 1] !== undefined ? [mine[lastAcked + 1]![2]] : [])];
        expect(allowed, `cycle ${cycle} (${plan}) commit of partition ${partition}`).toContain(fetched.get(partition));
      }
      await store.close();
    }
    // The kills landed inside torn appends, roll, retention and journal writes, and recovery saw them.
    expect(kinds).toContain('torn-tail');
  });
});
