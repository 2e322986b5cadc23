/**
 * The file store's write-ahead log against one fdatasync per partition (`npm run bench:wal`).
 *
 * Drives the store and the audit log in-process, as the broker does for a produce (the batch's
 * audit event started when the batch is placed, the ack waiting for both), at a fixed rate of
 * single-record appends over 4 partitions: no network, no TLS, so what differs is the fsync path.
 * Rows take turns, `--runs` times (default 5), each on a fresh data directory; prints each run and
 * the medians. Options: --rate 5000 --seconds 6 --runs 5.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditLog, AuditSigner } from '../src/audit/index.js';
import { FileLogStore } from '../src/log/file/file-log-store.js';
import { encodeRecords } from '../src/log/record-batch.js';

const { values: args } = parseArgs({ options: { rate: { type: 'string', default: '5000' }, seconds: { type: 'string', default: '6' }, runs: { type: 'string', default: '5' } } });
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const RUNS = Number(args.runs);
const PARTITIONS = 4;
const WARMUP_SECONDS = 2;

interface Result {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly cores: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function run(wal: boolean): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-wal-'));
  const store = new FileLogStore({ dir, wal, retentionCheckMs: 0 });
  await store.open();
  await store.createTopic('t', { partitions: PARTITIONS });
  const signer = await AuditSigner.fromPrivateKey(generateKeyPairSync('ed25519').privateKey);
  const audit = await AuditLog.open({ store, signer, source: 'sealbus://bench', checkpointEvents: 1000, checkpointIntervalMs: 1000, retentionMs: null, retentionBytes: null, segmentBytes: 64 << 20, maxPendingEvents: 100_000 });
  const records = encodeRecords([{ value: Buffer.alloc(1024, 1) }]);
  const latencies: number[] = [];
  let sent = 0;
  const one = (): Promise<void> => {
    const start = performance.now();
    const partition = sent++ % PARTITIONS;
    let event: Promise<unknown> | null = null;
    const onPlaced = (placed: { baseOffset: number }): void => {
      event = audit.append({ type: 'sealbus.data.produce', subject: 'topic:t', data: { principal: 'user:bench', resource: 'topic:t', partition, records: 1, firstOffset: placed.baseOffset, lastOffset: placed.baseOffset } });
    };
    return store
      .append('t', partition, { records, onPlaced })
      .then(() => event)
      .then(() => void latencies.push(performance.now() - start));
  };
  const total = RATE * SECONDS;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let cpu = process.cpuUsage();
  let measuredFrom = started;
  for (let n = 0; n < total; n++) {
    if (n === RATE * WARMUP_SECONDS) {
      cpu = process.cpuUsage();
      measuredFrom = performance.now();
    }
    const wait = started + (n * 1000) / RATE - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(one());
  }
  await Promise.all(pending);
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - measuredFrom) / 1000;
  await audit.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  const measured = latencies.slice(RATE * WARMUP_SECONDS).sort((a, b) => a - b);
  const at = (q: number) => measured[Math.min(measured.length - 1, Math.floor(measured.length * q))]!;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), cores: (used.user + used.system) / 1e6 / seconds };
}

const format = (r: Result) => `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, p99.9 ${r.p999.toFixed(2)} ms, ${r.cores.toFixed(2)} cores`;
const rows = [
  { name: 'fdatasync per partition (wal: false)', wal: false, results: [] as Result[] },
  { name: 'store WAL (default)', wal: true, results: [] as Result[] },
];
console.log(`${RATE} single-record appends/s over ${PARTITIONS} partitions, each with its audit event, ${SECONDS} s (the first ${WARMUP_SECONDS} s not measured); ${RUNS} runs per row, taking turns`);
for (let i = 0; i < RUNS; i++) {
  for (const row of rows) {
    const result = await run(row.wal);
    row.results.push(result);
    console.log(`run ${i + 1} ${row.name}: ${format(result)}`);
  }
}
for (const row of rows) {
  const pick = (key: keyof Result) => median(row.results.map((r) => r[key]));
  console.log(`median ${row.name}: ${format({ p50: pick('p50'), p99: pick('p99'), p999: pick('p999'), cores: pick('cores') })}`);
}
