/**
 * End-to-end encryption throughput on 1 KiB records (`npm run bench:envelope`).
 *
 * plaintext copy   Buffer.from(value) per record: what a plaintext path costs at least.
 * raw secretbox    nacl.secretbox per record under one key and a fixed nonce: the bare cipher, the
 *                  reference the target (>= 0.8) is set against.
 * raw open         nacl.secretbox.open per record, for reference.
 * value cipher     what the envelope uses per value: tweetnacl's crypto_secretbox(_open) writing into
 *                  the sealed value directly (same bytes as nacl.secretbox, fewer copies); the
 *                  difference to sealRecords/openRecords is the envelope's own cost per batch.
 * sealRecords      the whole producer side: randomness, 3 key wraps, secretbox per value, SHA-256
 *                  over the batch, one Ed25519 signature.
 * openRecords      the whole consumer side: parse, SHA-256, Ed25519 verification, unwrap, key
 *                  commitment, secretbox.open per value.
 * verifyEnvelope   the broker's check per batch: parse, SHA-256, Ed25519 verification.
 *
 * All on the same records in the same run, measurements interleaved; each runs RUNS times after a
 * warm-up and the medians are printed.
 */
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import type { RecordInput } from '../src/log/record-batch.js';
import { openValue, sealValue } from '../src/payload/envelope-crypto.js';
import { generateClientKeys, keyIdOf, openRecords, sealRecords, verifyEnvelope, type ClientKeys } from '../src/payload/index.js';

const RUNS = 5;
const RECORDS = 50_000;
const RECORD_BYTES = 1024;
const BATCH_SIZES = [100, 500];
const RECIPIENTS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function batchesOf(records: RecordInput[], size: number): RecordInput[][] {
  const batches: RecordInput[][] = [];
  for (let i = 0; i < records.length; i += size) batches.push(records.slice(i, i + size));
  return batches;
}

/** Seconds taken by `work`. */
function time(work: () => void): number {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

interface Row {
  readonly name: string;
  readonly perRecord: boolean;
  readonly run: () => void;
}

function measure(batchSize: number, producer: ClientKeys, readers: ClientKeys[]): string {
  const records: RecordInput[] = Array.from({ length: RECORDS }, (_, i) => ({ key: Buffer.from(`key-${i}`), value: randomBytes(RECORD_BYTES) }));
  const batches = batchesOf(records, batchSize);
  const recipients = readers.map((keys) => ({ keyId: keyIdOf('encryption', keys.encryption.publicKey), publicKey: keys.encryption.publicKey }));
  const signingPublic = producer.signing.publicKey;
  const signerId = keyIdOf('signing', signingPublic);
  const signingKey = (keyId: string) => (keyId === signerId ? signingPublic : null);
  const key = nacl.randomBytes(32);
  const nonce = nacl.randomBytes(24);
  const boxes = records.map((record) => nacl.secretbox(record.value!, nonce, key));
  const values = records.map((record) => sealValue(record.value!, nonce, key));
  const sealed = batches.map((batch) => sealRecords(batch, { topic: 'bench', recipients, keys: producer }));
  let sink = 0;
  const rows: Row[] = [
    { name: 'plaintext copy', perRecord: true, run: () => records.forEach((record) => (sink += Buffer.from(record.value!).length)) },
    { name: 'raw nacl.secretbox', perRecord: true, run: () => records.forEach((record) => (sink += nacl.secretbox(record.value!, nonce, key).length)) },
    { name: 'raw nacl.secretbox.open', perRecord: true, run: () => boxes.forEach((box) => (sink += nacl.secretbox.open(box, nonce, key)!.length)) },
    { name: 'value cipher only (sealValue)', perRecord: true, run: () => records.forEach((record) => (sink += sealValue(record.value!, nonce, key).length)) },
    { name: 'value cipher only (openValue)', perRecord: true, run: () => values.forEach((value) => (sink += openValue(value, key)!.length)) },
    { name: 'sealRecords', perRecord: true, run: () => batches.forEach((batch) => (sink += sealRecords(batch, { topic: 'bench', recipients, keys: producer }).length)) },
    { name: 'openRecords', perRecord: true, run: () => sealed.forEach((batch) => (sink += openRecords(batch, { topic: 'bench', keys: readers[0]!, signingKey }).records.length)) },
    { name: 'verifyEnvelope (broker)', perRecord: false, run: () => sealed.forEach((batch) => (sink += verifyEnvelope('bench', batch, signingPublic).version)) },
  ];
  for (const row of rows) row.run(); // warm-up
  const seconds = new Map<string, number[]>(rows.map((row) => [row.name, []]));
  for (let run = 0; run < RUNS; run++) for (const row of rows) seconds.get(row.name)!.push(time(row.run));
  const rate = (row: Row) => (row.perRecord ? RECORDS : batches.length) / median(seconds.get(row.name)!);
  const raw = rate(rows[1]!);
  const lines = [
    `### ${RECORDS.toLocaleString('en')} records of ${RECORD_BYTES} bytes, batches of ${batchSize}, ${RECIPIENTS} recipients (medians of ${RUNS} runs)`,
    '',
    '| operation | records/s | MiB/s | per batch | ratio to raw secretbox |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const perSecond = rate(row);
    const recordsPerSecond = row.perRecord ? perSecond : perSecond * batchSize;
    const perBatchMicros = (row.perRecord ? batchSize / perSecond : 1 / perSecond) * 1e6;
    lines.push(
      `| ${row.name} | ${Math.round(recordsPerSecond).toLocaleString('en')} | ${((recordsPerSecond * RECORD_BYTES) / 2 ** 20).toFixed(1)} | ${perBatchMicros.toFixed(0)} µs | ${(recordsPerSecond / raw).toFixed(2)} |`,
    );
  }
  if (sink === 0) lines.push('(nothing measured)');
  return lines.join('\n');
}

const producer = generateClientKeys();
const readers = Array.from({ length: RECIPIENTS }, () => generateClientKeys());
console.log(`# bench:envelope (node ${process.version}, ${process.arch})\n`);
for (const size of BATCH_SIZES) console.log(`${measure(size, producer, readers)}\n`);
