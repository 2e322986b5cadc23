/**
 * Schema validation benchmark: ~1 KiB JSON records produced through the broker (mTLS + bound JWT,
 * fsync before ack, audit on) to a topic without a schema and to one whose every record the broker
 * parses (bounded JSON) and validates, in the same run, alternating. Prints records/s for each and
 * the cost of validation (medians of several runs), the CPU each record cost the broker (all its
 * threads) and this client, and the validator's own rate in this process.
 * The producer lets its event loop run every `--yield-every` sends (as bench:compare does, and as an
 * application whose records arrive from elsewhere would), so client and broker work side by side;
 * `--yield-every 0` sends bursts of 20,000, which serializes the two and adds their costs.
 * Usage: npm run bench:schemas [-- --records 100000 --runs 3 --partitions 4 --yield-every 100]
 */
import { Admin } from '../src/client/index.js';
import { compileValidator } from '../src/schema/index.js';
import { ORDER_SCHEMA as SCHEMA, orderValue } from './fixtures/orders.js';
import { sampleProcess } from './compare/processes.js';
import { benchArgs, median, produceAll, withDevBroker } from './dev-broker.js';

const args = benchArgs({ records: 100_000, runs: 3, partitions: 4, 'yield-every': 100, threads: -1 });
const { records: RECORDS, runs: RUNS, partitions: PARTITIONS } = args;
const YIELD_EVERY = args['yield-every'];
/** `--threads N` sets the broker's schemaValidation.threads (0: every batch on the main thread); -1 keeps the default. */
const THREADS = args.threads;

interface Step {
  readonly rate: number;
  /** CPU time per record, µs: the broker's (every thread) and this process's. */
  readonly brokerUs: number;
  readonly clientUs: number;
}

async function producedWithCpu(brokerPid: number, run: () => Promise<number>): Promise<Step> {
  const broker = sampleProcess(brokerPid).cpuSeconds;
  const client = process.cpuUsage();
  const rate = await run();
  const used = process.cpuUsage(client);
  const perRecord = (seconds: number): number => (seconds * 1e6) / RECORDS;
  return { rate, brokerUs: perRecord(sampleProcess(brokerPid).cpuSeconds - broker), clientUs: perRecord((used.user + used.system) / 1e6) };
}

function order(): Buffer {
  return Buffer.from(JSON.stringify(orderValue()));
}

function validatorRate(value: Buffer): number {
  const validator = compileValidator(SCHEMA);
  const started = performance.now();
  for (let i = 0; i < RECORDS; i++) if (validator.validateBytes(value) !== null) throw new Error('the bench record does not match');
  return RECORDS / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const value = order();
  await withDevBroker(async (connection, brokerPid) => {
    const admin = new Admin({ connection });
    const rows = { off: [] as Step[], on: [] as Step[], validator: [] as number[] };
    const produce = (topic: string): Promise<Step> => producedWithCpu(brokerPid, () => produceAll(connection, topic, RECORDS, value, undefined, YIELD_EVERY));
    for (let run = 0; run < RUNS; run++) {
      await admin.createTopic({ name: `bench.free${run}`, partitions: PARTITIONS });
      await admin.createTopic({ name: `bench.checked${run}`, partitions: PARTITIONS });
      await admin.registerSchema(`bench.checked${run}`, SCHEMA);
      // Alternate which goes first, so neither always meets a warmer broker.
      const pair = [
        async () => rows.off.push(await produce(`bench.free${run}`)),
        async () => rows.on.push(await produce(`bench.checked${run}`)),
      ];
      if (run % 2 === 1) pair.reverse();
      for (const step of pair) await step();
      rows.validator.push(validatorRate(value));
      const line = (step: Step): string => `${Math.round(step.rate)} rec/s (CPU per record: broker ${step.brokerUs.toFixed(1)} µs, client ${step.clientUs.toFixed(1)} µs)`;
      process.stdout.write(`run ${run + 1}/${RUNS}: no schema ${line(rows.off[run]!)}, validated ${line(rows.on[run]!)}, validator alone ${Math.round(rows.validator[run]!)}/s\n`);
    }
    admin.close();
    const m = (values: number[]): number => Math.round(median(values));
    const rate = (steps: Step[]): number => median(steps.map((step) => step.rate));
    const us = (steps: Step[], side: 'brokerUs' | 'clientUs'): string => median(steps.map((step) => step[side])).toFixed(1);
    const cost = 1 - rate(rows.on) / rate(rows.off);
    process.stdout.write(
      [
        '',
        `sealbus schema validation benchmark: ${RECORDS} records of ${value.length} bytes of JSON, ${PARTITIONS} partitions, the producer yielding every ${YIELD_EVERY} sends; median of ${RUNS} runs`,
        '| measure | records/s | broker CPU per record | client CPU per record |',
        '| --- | --- | --- | --- |',
        `| produce, no schema (acked, durable) | ${Math.round(rate(rows.off))} | ${us(rows.off, 'brokerUs')} µs | ${us(rows.off, 'clientUs')} µs |`,
        `| produce, every record parsed and validated by the broker | ${Math.round(rate(rows.on))} | ${us(rows.on, 'brokerUs')} µs | ${us(rows.on, 'clientUs')} µs |`,
        `| cost of validation (throughput) | ${(cost * 100).toFixed(1)}% | | |`,
        `| validateBytes alone (byte-level fast path), this process, one thread | ${m(rows.validator)} | ${(1e6 / median(rows.validator)).toFixed(1)} µs | |`,
        '',
      ].join('\n'),
    );
  }, THREADS < 0 ? undefined : { schemaValidation: { threads: THREADS } });
}

await main();
