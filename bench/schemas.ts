/**
 * Schema validation benchmark: ~1 KiB JSON records produced through the broker (mTLS + bound JWT,
 * fsync before ack, audit on) to a topic without a schema and to one whose every record the broker
 * parses (bounded JSON) and validates, in the same run, alternating. Prints records/s for each and
 * the cost of validation (medians of several runs), and the validator's own rate in this process.
 * Usage: npm run bench:schemas [-- --records 100000 --runs 3 --partitions 4]
 */
import { Admin } from '../src/client/index.js';
import { compileValidator } from '../src/schema/index.js';
import { ORDER_SCHEMA as SCHEMA, orderValue } from './fixtures/orders.js';
import { benchArgs, median, produceAll, withDevBroker } from './dev-broker.js';

const { records: RECORDS, runs: RUNS, partitions: PARTITIONS } = benchArgs({ records: 100_000, runs: 3, partitions: 4 });

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
  await withDevBroker(async (connection) => {
    const admin = new Admin({ connection });
    const rows = { off: [] as number[], on: [] as number[], validator: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      await admin.createTopic({ name: `bench.free${run}`, partitions: PARTITIONS });
      await admin.createTopic({ name: `bench.checked${run}`, partitions: PARTITIONS });
      await admin.registerSchema(`bench.checked${run}`, SCHEMA);
      // Alternate which goes first, so neither always meets a warmer broker.
      const pair = [
        async () => rows.off.push(await produceAll(connection, `bench.free${run}`, RECORDS, value)),
        async () => rows.on.push(await produceAll(connection, `bench.checked${run}`, RECORDS, value)),
      ];
      if (run % 2 === 1) pair.reverse();
      for (const step of pair) await step();
      rows.validator.push(validatorRate(value));
      process.stdout.write(`run ${run + 1}/${RUNS}: no schema ${Math.round(rows.off[run]!)} rec/s, validated ${Math.round(rows.on[run]!)} rec/s, validator alone ${Math.round(rows.validator[run]!)}/s\n`);
    }
    admin.close();
    const m = (values: number[]): number => Math.round(median(values));
    const cost = 1 - median(rows.on) / median(rows.off);
    process.stdout.write(
      [
        '',
        `sealbus schema validation benchmark: ${RECORDS} records of ${value.length} bytes of JSON, ${PARTITIONS} partitions; median of ${RUNS} runs`,
        '| measure | records/s |',
        '| --- | --- |',
        `| produce, no schema (acked, durable) | ${m(rows.off)} |`,
        `| produce, every record parsed and validated by the broker | ${m(rows.on)} |`,
        `| cost of validation | ${(cost * 100).toFixed(1)}% |`,
        `| validateBytes alone (byte-level fast path), this process, one thread | ${m(rows.validator)} |`,
        '',
      ].join('\n'),
    );
  });
}

await main();
