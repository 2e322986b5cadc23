/**
 * The servers the comparison starts, and their temporary folders: every one is registered here and
 * removed at the end, on error, and on Ctrl-C, so that no server or data folder outlives the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcess } from '../dev-broker.js';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** A temporary folder removed at exit. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sealbus-compare-${prefix}-`));
  dirs.add(dir);
  return dir;
}

/** Removes a folder made by `tempDir` now (large data files should not wait for the end). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Registers a child process started elsewhere, to be killed at exit if still running. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Starts `command` and resolves once a line of its output matches `ready` (with the match), or
 * rejects when it exits first or after 30 s. Its output is kept for the error message only.
 */
export async function startServer(command: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${command} did not start within 30 s`)), 30_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${out.slice(-2000)}`));
    };
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        child.stdout!.removeListener('data', onData);
        child.stderr!.removeListener('data', onData);
        // Keep draining: a server blocked on a full pipe would distort the measurement.
        child.stdout!.resume();
        child.stderr!.resume();
        resolve({ child, match });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`${command} exited (${code ?? signal}) before it was ready`)));
  });
}

/** Runs `work` (connecting to a server just started); when it fails, stops the server and removes its folder first. */
export async function orStop<T>(child: ChildProcess, dir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    await stopProcess(child);
    removeDir(dir);
    throw err;
  }
}

/** A loopback port free right now (asked of the kernel by listening on port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Kills what is still running and removes the folders; synchronous, so it also runs on `exit`. */
export function cleanUp(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/**
 * On Ctrl-C or SIGTERM: stop the servers gracefully (a broker then writes its --cpu-prof), remove
 * the folders, exit 130. On any exit: whatever is left is killed.
 */
export function cleanUpOnExit(): void {
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('\ninterrupted: stopping the servers and removing their folders\n');
    void Promise.all([...children].map(stopProcess)).finally(() => {
      cleanUp();
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanUp);
}

/** CPU time (s) and resident set (bytes, current and peak) of a process, from /proc. */
export interface ProcessSample {
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
}

/** Clock ticks per second of /proc/<pid>/stat: 100 on every Linux this runs on (USER_HZ). */
const TICKS = 100;

export function sampleProcess(pid: number): ProcessSample {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS; // utime + stime, all threads
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { cpuSeconds, rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}
