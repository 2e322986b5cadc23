/**
 * The test vectors of docs/envelope.md: fixed keys, content key and nonces, a two-record batch on
 * topic `orders`, and what sealRecords makes of them (Ed25519 signatures are deterministic, so with
 * the randomness injected the output is fixed). `envelope-vectors.test.ts` regenerates them and
 * compares them with the document. To print the block after a deliberate format change:
 * `node --import tsx -e "import('./test/payload/vectors.ts').then((v) => console.log(v.formatVectors(v.computeVectors())))"`.
 */
import { createHash } from 'node:crypto';
import type { RecordInput } from '../../src/log/record-batch.js';
import { keyIdOf } from '../../src/payload/keys.js';
import { sealRecordsWith, type RandomSource, type SealOptions } from '../../src/payload/envelope.js';
import { signedPart } from '../../src/payload/envelope-format.js';
import { keyCommitmentOf, signingInput } from '../../src/payload/envelope-crypto.js';
import { keysFromSeeds } from './helpers.js';

/** Bytes start, start + 1, ... (mod 256). */
function sequence(start: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export const TOPIC = 'orders';

export function vectorRecords(): RecordInput[] {
  return [
    { key: Buffer.from('order-1'), value: Buffer.from('{"id":1,"total":42}'), headers: [{ name: 'content-type', value: Buffer.from('application/json') }] },
    { key: Buffer.from('order-2'), value: Buffer.from('{"id":2,"total":7}') },
  ];
}

/** The inputs of the vectors: keys, the randomness of the seal (content key, wrap nonces, value nonces), records. */
export function vectorInputs() {
  const producer = keysFromSeeds(sequence(0x10, 32), sequence(0x30, 32));
  const recipientA = keysFromSeeds(sequence(0x50, 32), sequence(0x60, 32));
  const recipientB = keysFromSeeds(sequence(0x70, 32), sequence(0x80, 32));
  const contentKey = sequence(0x90, 32);
  const wrapNonces = [sequence(0xa0, 24), sequence(0xb8, 24)];
  const valueNonces = [sequence(0xd0, 24), sequence(0xe8, 24)];
  const randomness = Buffer.concat([contentKey, ...wrapNonces, ...valueNonces]);
  const options: SealOptions = {
    topic: TOPIC,
    recipients: [recipientA, recipientB].map((keys) => ({ keyId: keyIdOf('encryption', keys.encryption.publicKey), publicKey: keys.encryption.publicKey })),
    keys: producer,
  };
  const random: RandomSource = (length) => {
    if (length !== randomness.length) throw new Error(`the vectors provide ${randomness.length} random bytes, not ${length}`);
    return Uint8Array.from(randomness);
  };
  return { producer, recipientA, recipientB, contentKey, wrapNonces, valueNonces, options, random, records: vectorRecords() };
}

/** Name and value (hex, base64url key id, or a JSON string for text) of every vector, in document order. */
export function computeVectors(): [string, string][] {
  const { producer, recipientA, recipientB, contentKey, wrapNonces, valueNonces, options, random, records } = vectorInputs();
  const sealed = sealRecordsWith(records, options, random);
  const header = sealed[0]!.headers![0]!.value!;
  const text = (bytes: Buffer | null | undefined) => JSON.stringify(bytes?.toString('utf8') ?? null);
  return [
    ['topic', JSON.stringify(TOPIC)],
    ['producer.encryption.secretKey', hex(producer.encryption.secretKey)],
    ['producer.encryption.publicKey', hex(producer.encryption.publicKey)],
    ['producer.signing.seed', hex(producer.signing.secretKey.subarray(0, 32))],
    ['producer.signing.publicKey', hex(producer.signing.publicKey)],
    ['producer.signing.keyId', keyIdOf('signing', producer.signing.publicKey)],
    ['recipientA.encryption.secretKey', hex(recipientA.encryption.secretKey)],
    ['recipientA.encryption.publicKey', hex(recipientA.encryption.publicKey)],
    ['recipientA.encryption.keyId', keyIdOf('encryption', recipientA.encryption.publicKey)],
    ['recipientB.encryption.secretKey', hex(recipientB.encryption.secretKey)],
    ['recipientB.encryption.publicKey', hex(recipientB.encryption.publicKey)],
    ['recipientB.encryption.keyId', keyIdOf('encryption', recipientB.encryption.publicKey)],
    ['contentKey', hex(contentKey)],
    ['wrapNonce.A', hex(wrapNonces[0]!)],
    ['wrapNonce.B', hex(wrapNonces[1]!)],
    ['valueNonce.0', hex(valueNonces[0]!)],
    ['valueNonce.1', hex(valueNonces[1]!)],
    ['record.0.key', text(records[0]!.key)],
    ['record.0.value', text(records[0]!.value)],
    ['record.0.header.content-type', text(records[0]!.headers![0]!.value)],
    ['record.1.key', text(records[1]!.key)],
    ['record.1.value', text(records[1]!.value)],
    ['keyCommitment', hex(keyCommitmentOf(contentKey))],
    ['signingDigest', hex(signingInput(TOPIC, signedPart(header), sealed).subarray(-32))],
    ['sealed.envelopeHeader', hex(header)],
    ['sealed.record.0.value', hex(sealed[0]!.value!)],
    ['sealed.record.1.value', hex(sealed[1]!.value!)],
    ['check.sha256(envelopeHeader)', createHash('sha256').update(header).digest('hex')],
  ];
}

const LINE = 64;

/** The vectors as they appear in the document: `name = value`, long values continued on indented lines. */
export function formatVectors(entries: readonly [string, string][]): string {
  return entries
    .map(([name, value]) => {
      if (value.length <= LINE) return `${name} = ${value}`;
      const lines = value.match(new RegExp(`.{1,${LINE}}`, 'g'))!;
      return [`${name} =`, ...lines.map((line) => `  ${line}`)].join('\n');
    })
    .join('\n');
}

/** Reads the vectors back from the document's block between the vectors:begin and vectors:end markers. */
export function parseVectors(markdown: string): [string, string][] {
  const block = /<!-- vectors:begin -->\s*```text\n([\s\S]*?)```\s*<!-- vectors:end -->/.exec(markdown);
  if (block === null) throw new Error('docs/envelope.md has no vectors block');
  const entries: [string, string][] = [];
  for (const line of block[1]!.split('\n')) {
    if (line.trim() === '') continue;
    const entry = /^(\S+) =(?: (.*))?$/.exec(line);
    if (entry !== null) entries.push([entry[1]!, entry[2] ?? '']);
    else if (line.startsWith('  ') && entries.length > 0) entries[entries.length - 1]![1] += line.trim();
    else throw new Error(`unexpected line in the vectors block: ${line}`);
  }
  return entries;
}
