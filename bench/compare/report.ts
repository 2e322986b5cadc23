/**
 * The results as markdown (what docs/benchmarks.md holds) and as JSON: each row's figures with its
 * durability next to them, sealbus against each peer, the cost of each sealbus feature, the issue's
 * targets, and the machine.
 */
import { LATENCY_WARMUP_SECONDS, median } from '../dev-broker.js';
import type { Machine } from './machine.js';
import type { PhaseCost, RowResult, Settings } from './run.js';
import { RECORD_BYTES } from './workload.js';

export interface Report {
  readonly settings: Settings;
  readonly machine: Machine;
  readonly servers: Record<string, string>;
  readonly rows: readonly RowResult[];
  readonly featureCosts: readonly { feature: string; on: string; off: string }[];
  readonly notOff: readonly { feature: string; why: string }[];
}

/** What sealbus rows are divided by: the peers, and the raw disk (what the broker adds to the disk's own cost). */
const PEERS = ['nats', 'redis-always', 'redis-everysec', 'disk'] as const;

const int = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const mb = (rate: number): string => (Number.isFinite(rate) ? ((rate * RECORD_BYTES) / 1e6).toFixed(1) : '–');
const ms = (n: number | undefined): string => (n === undefined ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const cores = (c: PhaseCost): string => (c.seconds > 0 ? (c.serverCpu / c.seconds).toFixed(2) : '–');
const usPerRecord = (c: PhaseCost, who: 'serverCpu' | 'clientCpu' = 'serverCpu'): number => (c.records > 0 ? (c[who] / c.records) * 1e6 : Number.NaN);
const pct = (on: number, off: number): string => (Number.isFinite(on / off) ? `${((on / off - 1) * 100).toFixed(0)}%` : '–');

const produceOf = (row: RowResult | undefined): number => (row === undefined || row.produce.length === 0 ? Number.NaN : median(row.produce));
const consumeOf = (row: RowResult | undefined): number => (row === undefined || row.consume.length === 0 ? Number.NaN : median(row.consume));
const p99Of = (row: RowResult | undefined): number => row?.latency?.p99 ?? Number.NaN;

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function markdown(report: Report): string {
  const { settings: s, rows } = report;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const present = PEERS.filter((peer) => byId.get(peer)?.error === undefined && byId.has(peer));
  const sealbus = rows.filter((r) => r.system === 'sealbus' && r.error === undefined);
  const out: string[] = [
    `${int(s.records)} records of ${RECORD_BYTES} bytes per run, produced with up to ${int(Number(process.env.BENCH_WINDOW ?? 20_000))} in flight (the producer yields to the event loop every ${s.yieldEvery}), then read back from the start; medians of ${s.runs} run${s.runs === 1 ? '' : 's'}. ` +
      `Latency: ${int(s.rate)} records/s for ${s.seconds} s, each its own publish, on a fresh server, after ${LATENCY_WARMUP_SECONDS} s at the same rate that are not measured; the rows take turns one second at a time, so that the shared machine's slow moments fall on all of them. CPU: the server process (all threads), in cores while the phase ran. MB/s: 10^6 bytes of payload.`,
    '',
    ...table(
      ['row', 'produce rec/s', 'MB/s', 'consume rec/s', 'MB/s', `ack p50 / p99 / p99.9 at ${int(s.rate)}/s (ms)`, `server CPU, cores: produce / consume / at ${int(s.rate)}/s`, 'server peak RSS (MiB)', 'what an ack means'],
      rows.map((r) =>
        r.error !== undefined
          ? [r.id, `failed: ${r.error}`, '', '', '', '', '', '', r.durability]
          : [
              r.id,
              int(produceOf(r)),
              mb(produceOf(r)),
              int(consumeOf(r)),
              mb(consumeOf(r)),
              `${ms(r.latency?.p50)} / ${ms(r.latency?.p99)} / ${ms(r.latency?.p999)}`,
              `${cores(r.cost.produce)} / ${cores(r.cost.consume)} / ${cores(r.cost.latency)}`,
              int(r.peakRssMiB),
              r.durability,
            ],
      ),
    ),
    '',
    '**What each row runs**',
    '',
    ...table(
      ['row', 'server', 'security', 'payload', 'turned off'],
      rows.map((r) => [r.id, r.version ?? '–', r.security, r.payload, r.off ?? '']),
    ),
  ];
  if (present.length > 0 && sealbus.length > 0) {
    out.push('', '**sealbus ÷ peer** (throughput: above 1 is sealbus faster; p99: below 1 is sealbus lower)', '');
    const head = ['sealbus row', ...present.flatMap((p) => [`produce ÷ ${p}`, `consume ÷ ${p}`, `p99 ÷ ${p}`])];
    out.push(
      ...table(
        head,
        sealbus.map((r) => [r.id, ...present.flatMap((p) => [x(produceOf(r) / produceOf(byId.get(p))), x(consumeOf(r) / consumeOf(byId.get(p))), x(p99Of(r) / p99Of(byId.get(p)))])]),
      ),
    );
  }
  const costs = report.featureCosts.filter((c) => byId.get(c.on)?.error === undefined && byId.get(c.off)?.error === undefined && byId.has(c.on) && byId.has(c.off));
  if (costs.length > 0) {
    out.push('', '**Cost of each sealbus feature** (the row with it on against the row with it off; negative is slower)', '');
    out.push(
      ...table(
        ['feature', 'rows (on vs off)', 'produce', 'consume', 'ack p99 (ms, on vs off)', 'server CPU per record produced (µs, on vs off)', 'client CPU per record produced (µs, on vs off)'],
        costs.map(({ feature, on, off }) => {
          const [a, b] = [byId.get(on)!, byId.get(off)!];
          const both = (f: (r: RowResult) => number): string => `${f(a).toFixed(1)} vs ${f(b).toFixed(1)}`;
          return [
            feature,
            `${on} vs ${off}`,
            pct(produceOf(a), produceOf(b)),
            pct(consumeOf(a), consumeOf(b)),
            `${ms(a.latency?.p99)} vs ${ms(b.latency?.p99)}`,
            both((r) => usPerRecord(r.cost.produce)),
            both((r) => usPerRecord(r.cost.produce, 'clientCpu')),
          ];
        }),
      ),
    );
  }
  out.push('', ...report.notOff.map((n) => `- ${n.feature}: ${n.why}.`));
  out.push('', ...targets(byId), '', ...machineLines(report));
  return `${out.join('\n')}\n`;
}

/** The targets, each against what this run measured. */
function targets(byId: Map<string, RowResult>): string[] {
  const nats = byId.get('nats');
  if (nats === undefined || nats.error !== undefined) return ['Targets of issue 12: not checked (no NATS row).'];
  const best = (f: (r: RowResult | undefined) => number): { ratio: number; id: string } => {
    const candidates = ['sealbus-binary', 'sealbus-encrypted'].map((id) => ({ id, ratio: f(byId.get(id)) / f(nats) })).filter((c) => Number.isFinite(c.ratio));
    return candidates.sort((a, b) => b.ratio - a.ratio)[0] ?? { id: '–', ratio: Number.NaN };
  };
  const produce = best(produceOf);
  const consume = best(consumeOf);
  const json = byId.get('sealbus-json-schema');
  const jsonProduce = produceOf(json) / produceOf(nats);
  const jsonConsume = consumeOf(json) / consumeOf(nats);
  const latency = ['sealbus-binary', 'sealbus-encrypted', 'sealbus-json-schema'].map((id) => `${id} ${ms(p99Of(byId.get(id)))}`).join(', ');
  const p99Met = ['sealbus-binary', 'sealbus-encrypted', 'sealbus-json-schema'].every((id) => p99Of(byId.get(id)) <= p99Of(nats));
  const met = (ok: boolean): string => (ok ? 'met' : '**not met**');
  const disk = byId.get('disk');
  const floor =
    disk?.latency === undefined
      ? []
      : [
          '',
          `The disk alone (row \`disk\`: append and fdatasync, group commit, no server) answered at a p99 of ${ms(disk.latency.p99)} ms, ` +
            `a p99.9 of ${ms(disk.latency.p999)} ms and a slowest fdatasync-bound ack of ${ms(disk.latency.max)} ms in this run: a floor under every fsync-before-ack row. ` +
            `NATS (and Redis everysec) acknowledge before any fsync, so the disk's tail is not in theirs.`,
        ];
  return [
    '**Targets of issue 12** (every security feature on, fsync before ack, against NATS JetStream over mTLS)',
    '',
    ...table(
      ['target', 'measured', ''],
      [
        ['produce ≥ 1.5× NATS, binary or encrypted topic', `${x(produce.ratio)} (${produce.id})`, met(produce.ratio >= 1.5)],
        ['consume ≥ 1.5× NATS, binary or encrypted topic', `${x(consume.ratio)} (${consume.id})`, met(consume.ratio >= 1.5)],
        ['produce and consume ≥ 1.0× NATS, JSON topic with schema', `${x(jsonProduce)} / ${x(jsonConsume)}`, met(jsonProduce >= 1 && jsonConsume >= 1)],
        [`p99 ack latency ≤ NATS's (${ms(p99Of(nats))} ms)`, latency, met(p99Met)],
      ],
    ),
    ...floor,
  ];
}

function machineLines(report: Report): string[] {
  const m = report.machine;
  return [
    '**Machine**',
    '',
    `- ${m.cpus} CPUs (${m.cpuModel}), ${m.ramGiB} GiB RAM; data folders: ${m.disk}`,
    `- ${m.os}; Node ${m.node}; sealbus ${m.sealbus}; ${Object.entries(report.servers).filter(([name]) => name !== 'sealbus').map(([, version]) => version).join('; ')}`,
    `- load average (1, 5, 15 min) at the start: ${m.loadAtStart.join(', ')}; at the end: ${m.loadAtEnd.join(', ')}`,
  ];
}

/** The JSON output: the report with each row's medians and CPU per record worked out. */
export function json(report: Report): string {
  const rows = report.rows.map((r) => ({
    ...r,
    median: { produce: produceOf(r), consume: consumeOf(r) },
    cpuMicrosecondsPerRecord: {
      server: { produce: usPerRecord(r.cost.produce), consume: usPerRecord(r.cost.consume), latency: usPerRecord(r.cost.latency) },
      client: { produce: usPerRecord(r.cost.produce, 'clientCpu'), consume: usPerRecord(r.cost.consume, 'clientCpu') },
    },
  }));
  return `${JSON.stringify({ ...report, recordBytes: RECORD_BYTES, rows }, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
