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
import nacl from 'tweetnacl';
import { Admin, generateClientKeys } from '../src/client/index.js';
import { benchArgs, consumeAll, median, produceAll, withDevBroker } from './dev-broker.js';

const { records: RECORDS, runs: RUNS, partitions: PARTITIONS } = benchArgs({ records: 100_000, runs: 3, partitions: 4 });
const VALUE = Buffer.alloc(1024, 'x');

/** Seals each record alone with nacl.secretbox, as fast as this process can. */
function rawSecretbox(): number {
  const key = nacl.randomBytes(32);
  const nonce = nacl.randomBytes(24);
  const started = performance.now();
  for (let i = 0; i < RECORDS; i++) nacl.secretbox(VALUE, nonce, key);
  return RECORDS / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  await withDevBroker(async (connection) => {
    const admin = new Admin({ connection });
    const keys = generateClientKeys();
    await admin.registerClientKeys(keys); // the admin is the producer and the one recipient
    const rows = { plainProduce: [] as number[], plainConsume: [] as number[], sealedProduce: [] as number[], sealedConsume: [] as number[], raw: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      await admin.createTopic({ name: `bench.plain${run}`, partitions: PARTITIONS });
      await admin.createTopic({ name: `bench.sealed${run}`, partitions: PARTITIONS, encryption: 'required' });
      rows.plainProduce.push(await produceAll(connection, `bench.plain${run}`, RECORDS, VALUE));
      rows.plainConsume.push(await consumeAll(connection, `bench.plain${run}`, PARTITIONS, RECORDS));
      rows.sealedProduce.push(await produceAll(connection, `bench.sealed${run}`, RECORDS, VALUE, keys));
      rows.sealedConsume.push(await consumeAll(connection, `bench.sealed${run}`, PARTITIONS, RECORDS, keys));
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
  });
}

await main();
