/**
 * Runs the workload on one row: a fresh server, the fixed-rate latency test first (on an empty
 * store, as every row gets), then `runs` times: produce `records`, read them all back. Around each
 * phase, the server's CPU (from /proc) and this process's (the client's) are measured; the peak
 * resident set of the server at the end.
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

export async function runTarget(target: Target, settings: Settings, log: (line: string) => void): Promise<RowResult> {
  const { id, system, label, security, durability, payload } = target;
  const result: RowResult = {
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
  log(`${id}: starting the server`);
  let session: Session | undefined;
  try {
    const live = await target.start();
    session = live;
    result.version = live.version;
    const { rate, seconds, records, runs } = settings;
    await live.setup('bench.latency');
    const cost = result.cost.latency;
    // The CPU window includes the latency test's unmeasured warm-up (atFixedRate's): count its records too.
    const latencies = await measured(live.pid, cost, rate * (seconds + LATENCY_WARMUP_SECONDS), () => live.latency('bench.latency', rate, seconds));
    result.latency = summarizeLatency(latencies);
    const { p50, p99, p999 } = result.latency;
    log(`${id}: ack latency at ${fmt(rate)}/s for ${seconds} s: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, p99.9 ${p999.toFixed(2)} ms (server ${cores(cost.serverCpu, cost.seconds)} cores, client ${cores(cost.clientCpu, cost.seconds)})`);
    await live.drop('bench.latency');
    for (let run = 0; run < runs; run++) {
      const topic = `bench.run${run}`;
      await live.setup(topic);
      const before = { ...result.cost.produce };
      result.produce.push(await measured(live.pid, result.cost.produce, records, () => live.produce(topic, records, settings.yieldEvery)));
      const p = result.cost.produce;
      log(`${id}: produce run ${run + 1}/${runs}: ${fmt(result.produce[run]!)} rec/s (server ${cores(p.serverCpu - before.serverCpu, p.seconds - before.seconds)} cores, client ${cores(p.clientCpu - before.clientCpu, p.seconds - before.seconds)})`);
      const was = { ...result.cost.consume };
      result.consume.push(await measured(live.pid, result.cost.consume, records, () => live.consume(topic, records)));
      const c = result.cost.consume;
      log(`${id}: consume run ${run + 1}/${runs}: ${fmt(result.consume[run]!)} rec/s (server ${cores(c.serverCpu - was.serverCpu, c.seconds - was.seconds)} cores, client ${cores(c.clientCpu - was.clientCpu, c.seconds - was.seconds)})`);
      await live.drop(topic);
    }
    result.peakRssMiB = sampleProcess(live.pid).peakRssBytes / 2 ** 20;
    log(`${id}: done: produce ${fmt(median(result.produce))} rec/s, consume ${fmt(median(result.consume))} rec/s (medians), server peak RSS ${Math.round(result.peakRssMiB)} MiB`);
  } catch (err) {
    // One row that fails (a server missing, a client error) does not cost the others their figures.
    result.error = describeError(err);
    log(`${id}: FAILED: ${result.error}`);
    if (err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
  } finally {
    await session?.stop();
  }
  return result;
}

/** One line: the message, or the error's name and code when it has no message (some clients' errors). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const text = err.message.split('\n')[0]!;
  return [err.name, code === undefined ? '' : String(code), text].filter((part) => part !== '').join(': ');
}
