/**
 * Schema validation benchmark: ~1 KiB JSON records produced through the broker (mTLS + bound JWT,
 * fsync before ack, audit on) to a topic without a schema and to one whose every record the broker
 * parses (bounded JSON) and validates, in the same run, alternating. Prints records/s for each and
 * the cost of validation (medians of several runs), the CPU each record cost the broker (all its
 * threads) and this client, and the validator's own rate in this process.
 * Two producers, each against both topics: the SDK's, which lets its event loop run every
 * `--yield-every` sends (as bench:compare does, and as an application whose records arrive from
 * elsewhere would), so client and broker work side by side (`--yield-every 0` sends bursts of
 * 20,000, which serializes the two and adds their costs); and a light client sending frames encoded
 * up front (bench/replay-producer.ts), which leaves the cores to the broker, as producers on other
 * machines would: the SDK row shows the cost on a machine shared with the producer, the light one
 * the cost to the broker.
 * Usage: npm run bench:schemas [-- --records 100000 --runs 21 --partitions 4 --yield-every 100]
 */
import { Admin } from '../src/client/index.js';
import { SCHEMA_ID_HEADER, compileValidator } from '../src/schema/index.js';
import { compileFastValidator } from '../src/schema/fast-validator.js';
import { ORDER_SCHEMA as SCHEMA, orderValue } from './fixtures/orders.js';
import { sampleProcess } from './compare/processes.js';
import { benchArgs, median, produceAll, withDevBroker } from './dev-broker.js';
import { replayProduce } from './replay-producer.js';

const args = benchArgs({ records: 100_000, runs: 21, partitions: 4, 'yield-every': 100, threads: -1 });
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

/** Records/s of one tier of validateBytes in this process: the whole of it, or the byte-level pass alone. */
function validatorRate(value: Buffer, tier: 'validateBytes' | 'byte-level'): number {
  const validator = compileValidator(SCHEMA);
  const fast = compileFastValidator(SCHEMA)!;
  const check = tier === 'validateBytes' ? (bytes: Buffer) => validator.validateBytes(bytes) === null : (bytes: Buffer) => fast(bytes) === 'valid';
  const started = performance.now();
  for (let i = 0; i < RECORDS; i++) if (!check(value)) throw new Error('the bench record does not match');
  return RECORDS / ((performance.now() - started) / 1000);
}

type Client = 'sdk' | 'replay';
const CLIENTS: readonly Client[] = ['sdk', 'replay'];
const CLIENT_LABEL: Record<Client, string> = {
  sdk: 'SDK producer (batching, idempotent stamps), on the same 2 cores',
  replay: 'light client (frames of 100 records encoded up front), on the same 2 cores',
};
/** Records per frame of the light client. */
const REPLAY_BATCH = 100;

async function main(): Promise<void> {
  const value = order();
  await withDevBroker(async (connection, brokerPid) => {
    const admin = new Admin({ connection });
    const rows: Record<Client, { off: Step[]; on: Step[] }> = { sdk: { off: [], on: [] }, replay: { off: [], on: [] } };
    const validator: number[] = [];
    const byteLevel: number[] = [];
    // One topic per producer and kind, for the whole run, as a topic and its schema live in use: a
    // schema's first batches run colder code than its later ones (see docs/schemas.md), which is a
    // cost of registering a schema, paid once, not of validating each record.
    const topics = new Map<string, { topic: string; id: number | null }>();
    const topicOf = async (client: Client, checked: boolean): Promise<{ topic: string; id: number | null }> => {
      const name = `bench.${client}.${checked ? 'checked' : 'free'}`;
      let known = topics.get(name);
      if (known === undefined) {
        await admin.createTopic({ name, partitions: PARTITIONS });
        known = { topic: name, id: checked ? (await admin.registerSchema(name, SCHEMA)).id : null };
        topics.set(name, known);
      }
      return known;
    };
    const step = async (client: Client, checked: boolean): Promise<Step> => {
      const { topic, id } = await topicOf(client, checked);
      if (client === 'sdk') return producedWithCpu(brokerPid, () => produceAll(connection, topic, RECORDS, value, undefined, YIELD_EVERY));
      // The light client stamps the schema id itself, as the SDK does.
      const batch = Array.from({ length: REPLAY_BATCH }, () => ({ value, headers: id === null ? [] : [{ name: SCHEMA_ID_HEADER, value: Buffer.from(String(id)) }] }));
      return producedWithCpu(brokerPid, () => replayProduce(connection, { topic, partitions: PARTITIONS, batch, frames: Math.ceil(RECORDS / REPLAY_BATCH) }));
    };
    // A first pass of each kind, not measured: the broker's JIT (and its validation thread's) warms
    // up, as in any broker that has been running a while, and so does each topic's schema.
    for (const client of CLIENTS) for (const checked of [false, true]) await step(client, checked);
    for (let run = 0; run < RUNS; run++) {
      for (const client of CLIENTS) {
        // Alternate which goes first, so neither always meets a warmer broker.
        const order = run % 2 === 0 ? [false, true] : [true, false];
        for (const checked of order) rows[client][checked ? 'on' : 'off'].push(await step(client, checked));
        const line = (s: Step): string => `${Math.round(s.rate)} rec/s (CPU per record: broker ${s.brokerUs.toFixed(1)} µs, client ${s.clientUs.toFixed(1)} µs)`;
        process.stdout.write(`run ${run + 1}/${RUNS}, ${client}: no schema ${line(rows[client].off[run]!)}, validated ${line(rows[client].on[run]!)}\n`);
      }
      validator.push(validatorRate(value, 'validateBytes'));
      byteLevel.push(validatorRate(value, 'byte-level'));
    }
    admin.close();
    const rate = (steps: Step[]): number => median(steps.map((s) => s.rate));
    const us = (steps: Step[], side: 'brokerUs' | 'clientUs'): string => median(steps.map((s) => s[side])).toFixed(1);
    const lines = [
      '',
      `sealbus schema validation benchmark: ${RECORDS} records of ${value.length} bytes of JSON, ${PARTITIONS} partitions, acked after fsync, audit on; median of ${RUNS} runs after one unmeasured warm-up run`,
      '| producer | schema | records/s | broker CPU per record | client CPU per record | cost of validation: of the medians | median of each run\'s pair (the runs\' costs) |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    ];
    const percent = (cost: number): string => `${(cost * 100).toFixed(1)}%`;
    for (const client of CLIENTS) {
      const { off, on } = rows[client];
      // The two steps of a run are measured one after the other: their ratio is less exposed to the
      // machine's slow and fast minutes than the ratio of two medians taken over all the runs.
      const paired = on.map((step, run) => 1 - step.rate / off[run]!.rate);
      lines.push(`| ${CLIENT_LABEL[client]} | none | ${Math.round(rate(off))} | ${us(off, 'brokerUs')} µs | ${us(off, 'clientUs')} µs | | |`);
      lines.push(
        `| ${CLIENT_LABEL[client]} | every record validated | ${Math.round(rate(on))} | ${us(on, 'brokerUs')} µs | ${us(on, 'clientUs')} µs | ${percent(1 - rate(on) / rate(off))} | ${percent(median(paired))} (${paired.map(percent).join(', ')}) |`,
      );
    }
    const tierRate = (rates: number[]): string => `${Math.round(median(rates))} records/s, ${(1e6 / median(rates)).toFixed(2)} µs per record`;
    lines.push(
      '',
      `validateBytes alone (the record has the schema's shape: one RegExp), one thread of this process: ${tierRate(validator)}`,
      `the byte-level pass alone (what a record without the shape costs), one thread of this process: ${tierRate(byteLevel)}`,
      '',
    );
    process.stdout.write(lines.join('\n'));
  }, THREADS < 0 ? undefined : { schemaValidation: { threads: THREADS } });
}

await main();
