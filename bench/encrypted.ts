/**
 * End-to-end encryption benchmark: 1 KiB records produced and consumed through the broker
 * (mTLS + bound JWT, fsync before ack, audit on), in one run on the same data:
 * - plaintext topic: the SDK without keys;
 * - encrypted topic (`encryption: required`): the SDK sealing and signing per batch, the broker
 *   verifying each batch, the consumer verifying and opening;
 * - raw tweetnacl secretbox of the same records in this process, the cipher's own ceiling.
 * Prints records/s and the ratios (medians of several runs).
 * Usage: npm run bench:encrypted [-- --records 100000 --runs 3 --partitions 4]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import nacl from 'tweetnacl';
import { Admin, Consumer, Producer, generateClientKeys, type ClientKeys, type ConnectionOptions } from '../src/client/index.js';
import { median, startDevBroker } from './dev-broker.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '4' },
  },
});
const RECORDS = Number(args.records);
const RUNS = Number(args.runs);
const PARTITIONS = Number(args.partitions);
const VALUE = Buffer.alloc(1024, 'x');

async function produce(connection: ConnectionOptions, topic: string, keys: ClientKeys | null): Promise<number> {
  const producer = new Producer({ connection, lingerMs: 2, ...(keys !== null && { encryption: { keys } }) });
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < RECORDS; i++) {
    pending.push(producer.send({ topic, value: VALUE }));
    if (pending.length >= 20_000) await Promise.all(pending.splice(0, 10_000));
  }
  await Promise.all(pending);
  const rate = RECORDS / ((performance.now() - started) / 1000);
  await producer.close();
  return rate;
}

async function consume(connection: ConnectionOptions, topic: string, keys: ClientKeys | null): Promise<number> {
  const consumer = new Consumer({ connection, windowBytes: 4 * 1024 * 1024, ...(keys !== null && { decryption: { keys } }) });
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, start: 'earliest' as const })));
  const started = performance.now();
  let seen = 0;
  for await (const record of consumer) {
    if (keys !== null && record.producer === undefined) throw new Error('an encrypted record came without a verified producer');
    if (++seen >= RECORDS) break;
  }
  const rate = RECORDS / ((performance.now() - started) / 1000);
  await consumer.close();
  return rate;
}

/** Seals each record alone with nacl.secretbox, as fast as this process can. */
function rawSecretbox(): number {
  const key = nacl.randomBytes(32);
  const nonce = nacl.randomBytes(24);
  const started = performance.now();
  for (let i = 0; i < RECORDS; i++) nacl.secretbox(VALUE, nonce, key);
  return RECORDS / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-'));
  const { child, connection } = await startDevBroker(dir);
  try {
    const admin = new Admin({ connection });
    const keys = generateClientKeys();
    await admin.registerClientKeys(keys); // the admin is the producer and the one recipient
    const rows = { plainProduce: [] as number[], plainConsume: [] as number[], sealedProduce: [] as number[], sealedConsume: [] as number[], raw: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      await admin.createTopic({ name: `bench.plain${run}`, partitions: PARTITIONS });
      await admin.createTopic({ name: `bench.sealed${run}`, partitions: PARTITIONS, encryption: 'required' });
      rows.plainProduce.push(await produce(connection, `bench.plain${run}`, null));
      rows.plainConsume.push(await consume(connection, `bench.plain${run}`, null));
      rows.sealedProduce.push(await produce(connection, `bench.sealed${run}`, keys));
      rows.sealedConsume.push(await consume(connection, `bench.sealed${run}`, keys));
      rows.raw.push(rawSecretbox());
      process.stdout.write(
        `run ${run + 1}/${RUNS}: plaintext ${Math.round(rows.plainProduce[run]!)}/${Math.round(rows.plainConsume[run]!)} rec/s, ` +
          `encrypted ${Math.round(rows.sealedProduce[run]!)}/${Math.round(rows.sealedConsume[run]!)} rec/s (produce/consume), raw secretbox ${Math.round(rows.raw[run]!)}/s\n`,
      );
    }
    admin.close();
    const m = (values: number[]): number => Math.round(median(values));
    const ratio = (a: number[], b: number[]): string => (median(a) / median(b)).toFixed(2);
    process.stdout.write(
      [
        '',
        `sealbus end-to-end encryption benchmark: ${RECORDS} records of 1 KiB, ${PARTITIONS} partitions, one recipient; median of ${RUNS} runs`,
        '| measure | plaintext | encrypted | encrypted / plaintext | encrypted / raw secretbox |',
        '| --- | --- | --- | --- | --- |',
        `| produce (acked, durable; sealed and signed per batch, verified by the broker) | ${m(rows.plainProduce)} rec/s | ${m(rows.sealedProduce)} rec/s | ${ratio(rows.sealedProduce, rows.plainProduce)} | ${ratio(rows.sealedProduce, rows.raw)} |`,
        `| consume (verified and opened) | ${m(rows.plainConsume)} rec/s | ${m(rows.sealedConsume)} rec/s | ${ratio(rows.sealedConsume, rows.plainConsume)} | ${ratio(rows.sealedConsume, rows.raw)} |`,
        `| raw tweetnacl secretbox of the same records, this process | | ${m(rows.raw)} rec/s | | 1.00 |`,
        '',
      ].join('\n'),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
