import type { Command } from 'commander';
import { checkLogDir } from '../../log/check.js';
import type { RecoveryProblem } from '../../log/types.js';

/** `topic partition segment offset: kind: detail`, with `-` for what does not apply. */
export function formatProblem(problem: RecoveryProblem): string {
  const topic = problem.topic === '' ? '-' : problem.topic;
  const partition = problem.partition < 0 ? '-' : String(problem.partition);
  const segment = problem.segment === '' ? '-' : problem.segment;
  let offset = '-';
  if (problem.fromOffset !== null) {
    offset = problem.toOffset !== null && problem.toOffset !== problem.fromOffset ? `${problem.fromOffset}..${problem.toOffset}` : String(problem.fromOffset);
  }
  const where = problem.bytes > 0 ? ` (${problem.bytes} bytes at position ${problem.position})` : '';
  return `${topic} ${partition} ${segment} ${offset}: ${problem.kind}: ${problem.detail}${where}`;
}

/** Runs the check and prints it; returns the number of problems. */
export async function runLogCheck(dir: string, write: (line: string) => void): Promise<number> {
  const result = await checkLogDir(dir);
  for (const problem of result.problems) write(formatProblem(problem));
  const summary = `${result.topics} topics, ${result.partitions} partitions, ${result.segments} segments, ${result.bytes} bytes checked`;
  write(result.problems.length === 0 ? `ok: ${summary}` : `${result.problems.length} problems: ${summary}`);
  return result.problems.length;
}

/** Adds `sealbus log check <dir>`: offline verification of a data directory. */
export function register(program: Command): void {
  const log = program.command('log').description('inspect the log store');
  log
    .command('check')
    .description('verify a data directory offline (stop the broker first); exits 1 when anything is wrong')
    .argument('<dir>', 'the data directory')
    .action(async (dir: string) => {
      const problems = await runLogCheck(dir, (line) => process.stdout.write(`${line}\n`));
      if (problems > 0) process.exitCode = 1;
    });
}
