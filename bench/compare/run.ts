/**
 * Runs the workload: every row's server is started fresh, the fixed-rate latency test runs on all
 * of them interleaved (on empty stores), then row by row `runs` times: produce `records`, read them
 * all back, and the server is stopped. Around each phase, the server's CPU (from /proc) and this
 * process's (the client's) are measured; the peak resident set of the server at the end.
 */
import { LATENCY_WARMUP_SECONDS, median, percentile } from '../dev-broker.js';
import { sampleProcess } from './processes.js';
import type { Session, Target } from './target.js';

export interface Settings {
  readonly records: number;
  readonly runs: number;
  readonly rate: number;
  readonly seconds: number;
  readonly partitions: number;
  /** Producers let the event loop run after every this many records (0: bursts of a whole window). */
  readonly yieldEvery: number;
}

/** CPU spent in a phase: seconds of the server's and of the client's, over `seconds` of wall time. */
export interface PhaseCost {
  seconds: number;
  serverCpu: number;
  clientCpu: number;
  records: number;
}

export interface Latency {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** [percentile, ms] from p0 to as far into the tail as the samples reach, for the plot. */
  readonly curve: (readonly [number, number])[];
}

export interface RowResult {
  readonly id: string;
  readonly system: Target['system'];
  readonly label: string;
  readonly security: string;
  readonly durability: string;
  readonly payload: string;
  readonly off?: string;
  version?: string;
  /** Records/s of each run. */
  readonly produce: number[];
  readonly consume: number[];
  latency?: Latency;
  readonly cost: { produce: PhaseCost; consume: PhaseCost; latency: PhaseCost };
  peakRssMiB?: number;
  error?: string;
}

const emptyCost = (): PhaseCost => ({ seconds: 0, serverCpu: 0, clientCpu: 0, records: 0 });

/** Runs `work` and adds its wall time, server CPU and client CPU to `cost`. */
async function measured<T>(pid: number, cost: PhaseCost, records: number, work: () => Promise<T>): Promise<T> {
  const server = sampleProcess(pid).cpuSeconds;
  const client = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  cost.seconds += (performance.now() - started) / 1000;
  cost.serverCpu += sampleProcess(pid).cpuSeconds - server;
  const used = process.cpuUsage(client);
  cost.clientCpu += (used.user + used.system) / 1e6;
  cost.records += records;
  return value;
}

/** Points of the latency distribution, evenly spaced on the nines axis, never past the samples. */
function latencyCurve(sorted: readonly number[]): (readonly [number, number])[] {
  const reach = Math.log10(sorted.length);
  const points: (readonly [number, number])[] = [];
  for (let i = 0; i <= 120; i++) {
    const nines = (reach * i) / 120;
    const p = 100 * (1 - 10 ** -nines);
    points.push([Number(p.toFixed(4)), Number(percentile(sorted, p).toFixed(3))]);
  }
  return points;
}

export function summarizeLatency(sorted: readonly number[]): Latency {
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1]!,
    curve: latencyCurve(sorted),
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const cores = (cpu: number, seconds: number): string => (cpu / seconds).toFixed(2);

/** A row being run: its target, its results so far, and its server while it is up. */
export interface LiveRow {
  readonly target: Target;
  readonly result: RowResult;
  session: Session | null;
}

function newResult(target: Target): RowResult {
  const { id, system, label, security, durability, payload } = target;
  return {
    id,
    system,
    label,
    security,
    durability,
    payload,
    ...(target.off !== undefined && { off: target.off }),
    produce: [],
    consume: [],
    cost: { produce: emptyCost(), consume: emptyCost(), latency: emptyCost() },
  };
}

/** Runs one step of a row; a step that fails (a server missing, a client error) marks the row failed and stops its server, not the others. */
async function step(row: LiveRow, log: (line: string) => void, work: (session: Session) => Promise<void>): Promise<void> {
  const session = row.session;
  if (session === null || row.result.error !== undefined) return;
  try {
    await work(session);
  } catch (err) {
    row.result.error = describeError(err);
    log(`${row.result.id}: FAILED: ${row.result.error}`);
    if (err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
    await stopRow(row);
  }
}

/** Starts a row's server (fresh: own process, own data folder). */
export async function startRow(target: Target, log: (line: string) => void): Promise<LiveRow> {
  const row: LiveRow = { target, result: newResult(target), session: null };
  log(`${target.id}: starting the server`);
  try {
    row.session = await target.start();
    row.result.version = row.session.version;
  } catch (err) {
    row.result.error = describeError(err);
    log(`${target.id}: FAILED: ${row.result.error}`);
  }
  return row;
}

const LATENCY_TOPIC = 'bench.latency';

/**
 * The fixed-rate latency test of every row, interleaved: each row first warms up for
 * LATENCY_WARMUP_SECONDS (not measured), then the rows take turns, one second each, until each has
 * had `seconds`. A shared machine's slow moments (a neighbour's burst on the CPUs or the disk)
 * then fall on every row alike, instead of on whichever row happened to be running.
 */
export async function measureLatency(rows: readonly LiveRow[], settings: Settings, log: (line: string) => void): Promise<void> {
  const { rate, seconds } = settings;
  const samples = new Map<LiveRow, number[]>(rows.map((row) => [row, []]));
  for (const row of rows) {
    await step(row, log, async (session) => {
      await session.setup(LATENCY_TOPIC);
      // The CPU window includes the warm-up: its records count too.
      await measured(session.pid, row.result.cost.latency, rate * LATENCY_WARMUP_SECONDS, () => session.latency(LATENCY_TOPIC, rate, LATENCY_WARMUP_SECONDS));
    });
  }
  for (let second = 0; second < seconds; second++) {
    log(`latency at ${fmt(rate)}/s: second ${second + 1} of ${seconds} for each row`);
    for (const row of rows) {
      await step(row, log, async (session) => {
        samples.get(row)!.push(...(await measured(session.pid, row.result.cost.latency, rate, () => session.latency(LATENCY_TOPIC, rate, 1))));
      });
    }
  }
  for (const row of rows) {
    await step(row, log, async (session) => {
      const latency = summarizeLatency(samples.get(row)!.sort((a, b) => a - b));
      row.result.latency = latency;
      const cost = row.result.cost.latency;
      log(`${row.result.id}: ack latency at ${fmt(rate)}/s for ${seconds} s: p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, p99.9 ${latency.p999.toFixed(2)} ms (server ${cores(cost.serverCpu, cost.seconds)} cores, client ${cores(cost.clientCpu, cost.seconds)})`);
      await session.drop(LATENCY_TOPIC);
    });
  }
}

/** `runs` times: produce `records`, read them all back; then the server's peak resident set. */
export async function measureThroughput(row: LiveRow, settings: Settings, log: (line: string) => void): Promise<void> {
  const { records, runs } = settings;
  const { result } = row;
  await step(row, log, async (session) => {
    for (let run = 0; run < runs; run++) {
      const topic = `bench.run${run}`;
      await session.setup(topic);
      const before = { ...result.cost.produce };
      result.produce.push(await measured(session.pid, result.cost.produce, records, () => session.produce(topic, records, settings.yieldEvery)));
      const p = result.cost.produce;
      log(`${result.id}: produce run ${run + 1}/${runs}: ${fmt(result.produce[run]!)} rec/s (server ${cores(p.serverCpu - before.serverCpu, p.seconds - before.seconds)} cores, client ${cores(p.clientCpu - before.clientCpu, p.seconds - before.seconds)})`);
      const was = { ...result.cost.consume };
      result.consume.push(await measured(session.pid, result.cost.consume, records, () => session.consume(topic, records)));
      const c = result.cost.consume;
      log(`${result.id}: consume run ${run + 1}/${runs}: ${fmt(result.consume[run]!)} rec/s (server ${cores(c.serverCpu - was.serverCpu, c.seconds - was.seconds)} cores, client ${cores(c.clientCpu - was.clientCpu, c.seconds - was.seconds)})`);
      await session.drop(topic);
    }
    result.peakRssMiB = sampleProcess(session.pid).peakRssBytes / 2 ** 20;
    if (runs > 0) log(`${result.id}: done: produce ${fmt(median(result.produce))} rec/s, consume ${fmt(median(result.consume))} rec/s (medians), server peak RSS ${Math.round(result.peakRssMiB)} MiB`);
  });
}

/** Closes the row's clients, stops its server and removes its folder; once. */
export async function stopRow(row: LiveRow): Promise<void> {
  const session = row.session;
  row.session = null;
  await session?.stop();
}

/** One line: the message, or the error's name and code when it has no message (some clients' errors). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const text = err.message.split('\n')[0]!;
  return [err.name, code === undefined ? '' : String(code), text].filter((part) => part !== '').join(': ');
}
