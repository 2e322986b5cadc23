/**
 * Broker benchmark: SDK producer → broker (mTLS + bound JWT, fsync before every ack) → SDK consumer,
 * 1 KiB records. The broker runs in its own process (`sealbus dev`), as it would in production;
 * this process is the load generator. Prints produce and consume records/s and the ack latency
 * at a fixed rate; then a consumer group of 4 members over 8 partitions: its records/s, and how long
 * consumption of a killed member's partitions takes to resume on the others.
 * Usage: npm run bench:broker [-- --records 200000 --runs 3 --rate 5000 --only produce|latency|group]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Admin, Consumer, Producer, type ConnectionOptions } from '../src/client/index.js';
import { benchArgs, consumeAll, median, produceAll, withDevBroker } from './dev-broker.js';

const args = benchArgs({ records: 200_000, runs: 3, rate: 5000, seconds: 5, partitions: 4, only: '' });
const { records: RECORDS, runs: RUNS, rate: RATE, seconds: SECONDS, partitions: PARTITIONS } = args;
const VALUE = Buffer.alloc(1024, 'x');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latencyRun(connection: ConnectionOptions, topic: string): Promise<{ p50: number; p99: number; p999: number }> {
  const producer = new Producer({ connection, lingerMs: 0 });
  const latencies: number[] = [];
  const total = RATE * SECONDS;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = performance.now();
    inflight.push(producer.send({ topic, value: VALUE }).then(() => void latencies.push(performance.now() - sentAt)));
  }
  await Promise.all(inflight);
  await producer.close();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9) };
}

async function groupRun(connection: ConnectionOptions, topic: string, expected: number): Promise<number> {
  const members = Array.from({ length: 4 }, () => new Consumer({ connection, group: `${topic}.group`, resetTo: 'earliest', windowBytes: 4 * 1024 * 1024 }));
  const started = performance.now();
  for (const member of members) member.subscribe([topic]);
  let seen = 0;
  await new Promise<void>((resolve) => {
    for (const member of members) {
      void (async () => {
        for await (const record of member) {
          void record;
          if (++seen === expected) resolve();
        }
      })();
    }
  });
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(members.map((m) => m.close()));
  return expected / seconds;
}

/**
 * Time from `kill -9` of one member (its own process) of a group of 4 over 8 partitions, under a
 * steady 2,000 records/s, until a survivor consumes a record of one of the dead member's partitions.
 */
async function failoverRun(connection: ConnectionOptions, topic: string): Promise<number> {
  const group = `${topic}.group`;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url)), group, topic], {
    env: { ...process.env, SEALBUS_BENCH_CONNECTION: JSON.stringify({ ...connection, ca: String(connection.ca), cert: String(connection.cert), key: String(connection.key) }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let childPartitions: number[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = chunk.toString().trim().split('\n');
    childPartitions = JSON.parse(lines[lines.length - 1]!) as number[];
  });
  const producer = new Producer({ connection, lingerMs: 1 });
  let producing = true;
  const feeding = (async () => {
    for (let i = 0; producing; i++) {
      void producer.send({ topic, partition: i % 8, value: VALUE });
      if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  await until(() => childPartitions.length === 8);
  let killedAt = Number.POSITIVE_INFINITY;
  let orphaned = new Set<number>();
  let resumedAt = 0;
  const survivors = Array.from({ length: 3 }, () => new Consumer({ connection, group, resetTo: 'latest' }));
  for (const survivor of survivors) {
    survivor.subscribe([topic]);
    void (async () => {
      for await (const record of survivor) {
        if (resumedAt === 0 && orphaned.has(record.partition) && performance.now() > killedAt) resumedAt = performance.now();
      }
    })();
  }
  await until(() => childPartitions.length === 2 && survivors.every((s) => s.assignment().length === 2));
  orphaned = new Set(childPartitions);
  killedAt = performance.now();
  child.kill('SIGKILL');
  await until(() => resumedAt > 0);
  producing = false;
  await feeding;
  await producer.close();
  await Promise.all(survivors.map((s) => s.close()));
  return resumedAt - killedAt;
}

async function until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function describeLatency(latency: { p50: number; p99: number; p999: number } | null): string {
  if (latency === null) return 'not measured';
  return `p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, p99.9 ${latency.p999.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  await withDevBroker(async (connection) => {
    const admin = new Admin({ connection });
    // Latency first, on a fresh store, then again after the throughput runs: fsync latency after
    // gigabytes of writes includes the kernel's writeback of them, and both figures are honest.
    await admin.createTopic({ name: 'bench.latency', partitions: PARTITIONS });
    const fresh = args.only === 'produce' || args.only === 'group' ? null : await latencyRun(connection, 'bench.latency');
    const produce: number[] = [];
    const consume: number[] = [];
    for (let run = 0; run < (args.only === 'latency' || args.only === 'group' ? 0 : RUNS); run++) {
      const topic = `bench.run${run}`;
      await admin.createTopic({ name: topic, partitions: PARTITIONS });
      produce.push(await produceAll(connection, topic, RECORDS, VALUE));
      consume.push(args.only === 'produce' ? 0 : await consumeAll(connection, topic, PARTITIONS, RECORDS));
      process.stdout.write(`run ${run + 1}/${RUNS}: produce ${Math.round(produce[run]!)} rec/s, consume ${Math.round(consume[run]!)} rec/s\n`);
    }
    const loaded = args.only === 'produce' || args.only === 'latency' || args.only === 'group' ? null : await latencyRun(connection, 'bench.latency');
    const grouped: number[] = [];
    const failover: number[] = [];
    for (let run = 0; run < (args.only === '' || args.only === 'group' ? RUNS : 0); run++) {
      const topic = `bench.group${run}`;
      await admin.createTopic({ name: topic, partitions: 8 });
      await produceAll(connection, topic, RECORDS, VALUE);
      grouped.push(await groupRun(connection, topic, RECORDS));
      await admin.createTopic({ name: `${topic}.failover`, partitions: 8 });
      failover.push(await failoverRun(connection, `${topic}.failover`));
      process.stdout.write(`group run ${run + 1}/${RUNS}: ${Math.round(grouped[run]!)} rec/s, resumed ${failover[run]!.toFixed(0)} ms after kill -9\n`);
    }
    admin.close();
    const mb = (rate: number): string => ((rate * VALUE.length) / 1e6).toFixed(1);
    process.stdout.write(
      [
        '',
        `sealbus broker benchmark: ${RECORDS} records of 1 KiB, ${PARTITIONS} partitions, mTLS + bound JWT, fsync before ack; median of ${RUNS} runs`,
        `| measure | value |`,
        `| --- | --- |`,
        `| produce (acked, durable) | ${Math.round(median(produce))} rec/s (${mb(median(produce))} MB/s) |`,
        `| consume | ${Math.round(median(consume))} rec/s (${mb(median(consume))} MB/s) |`,
        `| ack latency at ${RATE}/s for ${SECONDS} s, fresh store | ${describeLatency(fresh)} |`,
        `| ack latency at ${RATE}/s for ${SECONDS} s, after the throughput runs | ${describeLatency(loaded)} |`,
        `| consumer group, 4 members over 8 partitions (join and rebalances included) | ${grouped.length === 0 ? 'not measured' : `${Math.round(median(grouped))} rec/s`} |`,
        `| consumption resumed after kill -9 of a member | ${failover.length === 0 ? 'not measured' : `${median(failover).toFixed(0)} ms`} |`,
        '',
      ].join('\n'),
    );
  });
}

await main();
