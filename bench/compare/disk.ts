/**
 * The raw disk: 1 KiB records appended to one file and acknowledged after a group-committed
 * fdatasync, in a process of its own (disk-child.ts), with no network, no protocol and no security.
 * It is the floor of every fsync-before-ack row: sealbus ÷ disk says what the broker adds to what
 * the disk costs, and the disk's own tail says how much of a p99 no server that fsyncs can avoid.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { stopProcess } from '../dev-broker.js';
import { removeDir, tempDir, track } from './processes.js';
import type { Session, Target } from './target.js';

const CHILD = fileURLToPath(new URL('./disk-child.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;

type Reply = { id: number; value?: unknown; error?: string } | { ready: true };

/** Forks the child and waits for its `ready`; rejects when it exits first or does not answer in time. */
function startChild(dir: string): Promise<ChildProcess> {
  const child = track(fork(CHILD, [dir], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the raw-disk process did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const early = (code: number | null, signal: NodeJS.Signals | null): void => fail(new Error(`the raw-disk process exited (${code ?? signal}) before it was ready`));
    child.once('exit', early);
    child.once('message', (message: Reply) => {
      if (!('ready' in message)) return fail(new Error('the raw-disk process answered before it was ready'));
      clearTimeout(timer);
      // Only this listener: track()'s own 'exit' listener must stay, to forget the child when it ends.
      child.removeListener('exit', early);
      resolve(child);
    });
  });
}

async function startDisk(): Promise<Session> {
  const dir = await tempDir('disk');
  const child = await startChild(dir);
  let nextId = 0;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  child.on('message', (message: Reply) => {
    if ('ready' in message) return;
    const waiter = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(`raw disk: ${message.error}`));
    else waiter?.resolve(message.value);
  });
  child.on('exit', (code, signal) => {
    for (const waiter of waiting.values()) waiter.reject(new Error(`the raw-disk process exited (${code ?? signal})`));
    waiting.clear();
  });
  const ask = <T>(request: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, ...request });
    });
  return {
    pid: child.pid!,
    version: `disk (Linux ${release()})`,
    setup: (topic) => ask<null>({ op: 'setup', topic }).then(() => undefined),
    produce: (topic, count, yieldEvery) => ask<number>({ op: 'produce', topic, count, yieldEvery }),
    consume: (topic, count) => ask<number>({ op: 'consume', topic, count }),
    latency: (topic, rate, seconds) => ask<number[]>({ op: 'latency', topic, rate, seconds }),
    drop: (topic) => ask<null>({ op: 'drop', topic }).then(() => undefined),
    async stop() {
      await stopProcess(child);
      removeDir(dir);
    },
  };
}

export function diskTarget(): Target {
  return {
    id: 'disk',
    system: 'disk',
    label: 'the raw disk: 1 KiB appends to one file, group-committed with fdatasync',
    security: 'none: no network, no protocol (the floor of an fsync-before-ack server)',
    durability: 'fdatasync before ack (group commit, one in flight)',
    payload: 'bytes, one file',
    start: startDisk,
  };
}
