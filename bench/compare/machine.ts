/**
 * What the figures were measured on: they mean nothing without the machine, the versions and how
 * busy the machine was.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly ramGiB: number;
  readonly disk: string;
  readonly os: string;
  readonly node: string;
  readonly sealbus: string;
  /** 1, 5 and 15 minute load averages when the run started and when it ended. */
  readonly loadAtStart: readonly number[];
  loadAtEnd: readonly number[];
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The file system the servers' temporary data folders are on, and whether its disk spins. */
function disk(): string {
  const [source, fstype] = run('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '-T', tmpdir()]).split(/\s+/);
  if (source === undefined || source === '') return 'unknown';
  const device = /^\/dev\/([a-z]+)/.exec(source)?.[1];
  let kind = '';
  try {
    if (device !== undefined) kind = readFileSync(`/sys/block/${device}/queue/rotational`, 'utf8').trim() === '1' ? ', reported rotational' : ', reported non-rotational';
  } catch {
    // A partition or a mapper device: no queue of its own to ask.
  }
  return `${tmpdir()} on ${source} (${fstype ?? '?'}${kind})`;
}

/** The package version and the commit; "+ changes" when the checkout has uncommitted ones. */
let cachedVersion: string | undefined;
export function sealbusVersion(): string {
  cachedVersion ??= readSealbusVersion();
  return cachedVersion;
}

function readSealbusVersion(): string {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const commit = run('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']) !== '';
  return `${version}${commit === '' ? '' : ` (${commit}${dirty ? ' + uncommitted changes' : ''})`}`;
}

export function describeMachine(): Machine {
  const osRelease = /^PRETTY_NAME="?([^"\n]+)/m.exec(run('cat', ['/etc/os-release']))?.[1] ?? '';
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    disk: disk(),
    os: `${osRelease} (${run('uname', ['-r'])})`.trim(),
    node: process.version,
    sealbus: sealbusVersion(),
    loadAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    loadAtEnd: [],
  };
}

export function currentLoad(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}
