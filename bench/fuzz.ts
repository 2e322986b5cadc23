/**
 * The long fuzz run (`npm run bench:fuzz -- [--cases N] [--seed S] [--only NAME] [--list]`): every
 * property of test/fuzz/properties.ts, 1,000,000 cases in all by default, shared out by weight.
 * Prints per property the cases run, the failures and the time, then a total line; each failure
 * with its seed, path and counterexample, so that it can be replayed. Exits 1 on any failure.
 *
 * One process, one property at a time: the machine is shared. Cases run in chunks of their own
 * seed (derived from the run's), so that a failure does not end the property's run: the failures
 * counted are the failing chunks, each reported with its shrunk counterexample.
 */
import fc from 'fast-check';
import { FUZZ_TARGETS } from '../test/fuzz/properties.js';

const DEFAULT_CASES = 1_000_000;
const CHUNK_CASES = 20_000;
const MAX_REPORTED_FAILURES = 3;

interface Options {
  readonly cases: number;
  readonly seed: number;
  readonly only: string | null;
  readonly list: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let cases = DEFAULT_CASES;
  let seed = Date.now() % 2 ** 31;
  let only: string | null = null;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--cases' && value !== undefined) (cases = Number(value)), i++;
    else if (argv[i] === '--seed' && value !== undefined) (seed = Number(value)), i++;
    else if (argv[i] === '--only' && value !== undefined) (only = value), i++;
    else if (argv[i] === '--list') list = true;
    else throw new Error(`unknown argument ${argv[i]}; use --cases N, --seed S, --only NAME, --list`);
  }
  if (!Number.isSafeInteger(cases) || cases < 1) throw new Error('--cases is a positive integer');
  if (!Number.isSafeInteger(seed)) throw new Error('--seed is an integer');
  return { cases, seed, only, list };
}

/** The chunk's seed: the run's seed and the chunk's index, mixed, in fast-check's 32-bit range. */
function chunkSeed(seed: number, target: number, chunk: number): number {
  return (Math.imul(seed ^ Math.imul(target + 1, 0x9e37_79b9), 0x85eb_ca6b) + Math.imul(chunk, 0xc2b2_ae35)) | 0;
}

function clip(text: string, max = 1_500): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

interface TargetResult {
  readonly name: string;
  readonly cases: number;
  readonly failures: number;
  readonly seconds: number;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const targets = FUZZ_TARGETS.filter((target) => options.only === null || target.name.includes(options.only));
  if (targets.length === 0) throw new Error(`no property matches ${options.only}`);
  const totalWeight = targets.reduce((sum, target) => sum + target.weight, 0);
  if (options.list) {
    for (const target of targets) console.log(`${target.name.padEnd(30)} ${String(Math.round((options.cases * target.weight) / totalWeight)).padStart(9)} cases  ${target.covers}`);
    return;
  }
  console.log(`bench:fuzz: ${options.cases} cases over ${targets.length} properties, seed ${options.seed} (replay with --seed ${options.seed})`);
  const results: TargetResult[] = [];
  const started = performance.now();
  for (const [index, target] of targets.entries()) {
    const share = Math.max(1, Math.round((options.cases * target.weight) / totalWeight));
    const { property, dispose } = await target.build();
    const start = performance.now();
    let cases = 0;
    let failures = 0;
    try {
      for (let chunk = 0; cases < share; chunk++) {
        const numRuns = Math.min(CHUNK_CASES, share - cases);
        const seed = chunkSeed(options.seed, index, chunk);
        const details = await fc.check(property, { numRuns, seed });
        cases += Math.max(1, details.numRuns);
        if (details.failed) {
          failures++;
          if (failures <= MAX_REPORTED_FAILURES) {
            console.log(`  FAIL ${target.name}: seed ${details.seed}, path ${details.counterexamplePath}`);
            console.log(`    counterexample: ${clip(fc.stringify(details.counterexample))}`);
            console.log(`    error: ${clip(String((details.errorInstance as Error | null)?.message ?? details.errorInstance), 800)}`);
          }
        }
      }
    } finally {
      await dispose?.();
    }
    const seconds = (performance.now() - start) / 1000;
    results.push({ name: target.name, cases, failures, seconds });
    const rate = Math.round(cases / Math.max(seconds, 1e-9));
    console.log(`${target.name.padEnd(30)} ${String(cases).padStart(9)} cases  ${String(failures).padStart(3)} failures  ${seconds.toFixed(1).padStart(7)} s  (${rate}/s)`);
  }
  const cases = results.reduce((sum, result) => sum + result.cases, 0);
  const failures = results.reduce((sum, result) => sum + result.failures, 0);
  const seconds = (performance.now() - started) / 1000;
  console.log(`total                          ${String(cases).padStart(9)} cases  ${String(failures).padStart(3)} failures  ${seconds.toFixed(1).padStart(7)} s  (seed ${options.seed})`);
  process.exitCode = failures > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
