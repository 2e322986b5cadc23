import nacl from 'tweetnacl';
import type { RecordInput } from '../../src/log/record-batch.js';
import { keyIdOf, type ClientKeys, type Recipient } from '../../src/payload/index.js';
import { ENVELOPE_HEADER } from '../../src/payload/envelope-format.js';
import { isSealbusError } from '../../src/errors/index.js';

/** Client keys from fixed seeds: the encryption secret is `encryptionSeed`, the Ed25519 seed `signingSeed`. */
export function keysFromSeeds(encryptionSeed: Uint8Array, signingSeed: Uint8Array, previous: readonly Uint8Array[] = []): ClientKeys {
  const box = (seed: Uint8Array) => {
    const pair = nacl.box.keyPair.fromSecretKey(seed);
    return { publicKey: pair.publicKey, secretKey: pair.secretKey };
  };
  const signing = nacl.sign.keyPair.fromSeed(signingSeed);
  return { encryption: box(encryptionSeed), signing: { publicKey: signing.publicKey, secretKey: signing.secretKey }, previousEncryption: previous.map(box) };
}

export function filled(byte: number, length = 32): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

export function recipientOf(keys: ClientKeys): Recipient {
  return { keyId: keyIdOf('encryption', keys.encryption.publicKey), publicKey: keys.encryption.publicKey };
}

/** A key directory of signing keys, as openRecords wants it. */
export function directoryOf(...clients: ClientKeys[]): (keyId: string) => Uint8Array | null {
  const byId = new Map(clients.map((keys) => [keyIdOf('signing', keys.signing.publicKey), keys.signing.publicKey]));
  return (keyId) => byId.get(keyId) ?? null;
}

export interface MutableRecord {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: { name: string; value: Buffer | null }[];
}

/** A deep copy: mutations of the copy never reach the original's buffers. */
export function copyRecords(records: readonly RecordInput[]): MutableRecord[] {
  const copy = (bytes: Buffer | null | undefined) => (bytes === null || bytes === undefined ? bytes : Buffer.from(bytes));
  return records.map((record) => {
    const out: MutableRecord = { value: copy(record.value) as Buffer | null };
    if (record.key !== undefined) out.key = copy(record.key) as Buffer | null;
    if (record.headers !== undefined) out.headers = record.headers.map((header) => ({ name: header.name, value: copy(header.value) as Buffer | null }));
    return out;
  });
}

/** The envelope header bytes of a sealed batch (record 0, first header). */
export function envelopeBytes(records: readonly RecordInput[]): Buffer {
  const header = records[0]?.headers?.[0];
  if (header?.name !== ENVELOPE_HEADER || header.value === null) throw new Error('no envelope on record 0');
  return header.value;
}

/** The error code a function throws, or 'accepted'; rethrows anything that is not a SealbusError. */
export function thrown(work: () => unknown): { code: string; message: string } {
  try {
    work();
    return { code: 'accepted', message: '' };
  } catch (err) {
    if (isSealbusError(err)) return { code: err.code, message: err.message };
    throw err;
  }
}

export function sampleRecords(): RecordInput[] {
  return [
    { key: Buffer.from('order-1'), value: Buffer.from('{"id":1,"total":42}'), headers: [{ name: 'content-type', value: Buffer.from('application/json') }] },
    { key: null, value: null },
    { key: Buffer.from('order-3'), value: Buffer.alloc(0), headers: [{ name: 'trace', value: null }] },
    { value: Buffer.alloc(4096, 7) },
  ];
}
