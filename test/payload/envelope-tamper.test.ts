import { describe, expect, it } from 'vitest';
import type { RecordInput } from '../../src/log/record-batch.js';
import { generateClientKeys, keyIdOf, openRecords, sealRecords, verifyEnvelope, type ClientKeys } from '../../src/payload/index.js';
import { copyRecords, directoryOf, envelopeBytes, recipientOf, sampleRecords, thrown } from './helpers.js';

const producer = generateClientKeys();
const alice = generateClientKeys();
const bob = generateClientKeys();
const signingKey = directoryOf(producer);
const sealed = sealRecords(sampleRecords(), { topic: 'orders', recipients: [alice, bob].map(recipientOf), keys: producer });

function open(records: readonly RecordInput[], options: { topic?: string; keys?: ClientKeys; signingKey?: (keyId: string) => Uint8Array | null } = {}) {
  return thrown(() => openRecords(records, { topic: options.topic ?? 'orders', keys: options.keys ?? alice, signingKey: options.signingKey ?? signingKey }));
}

function verify(records: readonly RecordInput[], topic = 'orders') {
  return thrown(() => verifyEnvelope(topic, records, producer.signing.publicKey));
}

/** A copy of the sealed batch with one bit flipped by `flip` on the copy. */
function flipped(flip: (records: RecordInput[]) => Buffer, at: number): RecordInput[] {
  const copy = copyRecords(sealed);
  const bytes = flip(copy);
  bytes[at < 0 ? bytes.length + at : at]! ^= 0x01;
  return copy;
}

const header = (records: RecordInput[]) => envelopeBytes(records);
const value = (index: number) => (records: RecordInput[]) => records[index]!.value!;

// Offsets in the envelope header (docs/envelope.md): recipients start at 103, 104 bytes each.
const cases: [string, (records: RecordInput[]) => Buffer, number, string, string][] = [
  ['a ciphertext byte', value(0), 30, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the last byte of a ciphertext (its tag)', value(3), -1, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['a value nonce', value(2), 3, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the magic', header, 0, 'SEALBUS_ERR_ENVELOPE_INVALID', 'SEALBUS_ERR_ENVELOPE_INVALID'],
  ['the version', header, 4, 'SEALBUS_ERR_ENVELOPE_INVALID', 'SEALBUS_ERR_ENVELOPE_INVALID'],
  ['the signer key id', header, 5, 'SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the sender key', header, 40, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the key commitment', header, 70, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the recipient count', header, 101, 'SEALBUS_ERR_ENVELOPE_INVALID', 'SEALBUS_ERR_ENVELOPE_INVALID'],
  ['a recipient key id', header, 103, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['a wrap nonce', header, 103 + 32, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['a wrapped key', header, 103 + 56, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the second recipient wrapped key', header, 103 + 104 + 60, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the signature', header, -1, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['the first signature byte', header, -64, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['a record key', (records) => records[0]!.key!, 2, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
  ['a header value', (records) => records[0]!.headers![1]!.value!, 0, 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'],
];

describe('a flipped bit anywhere is refused with its exact code', () => {
  it.each(cases)('%s', (_name, flip, at, openCode, verifyCode) => {
    const tampered = flipped(flip, at);
    expect(open(tampered).code).toBe(openCode);
    expect(verify(tampered).code).toBe(verifyCode);
    expect(open(sealed).code).toBe('accepted');
  });

  it('refuses a changed header name, a renamed or removed header, a key made null', () => {
    const renamed = copyRecords(sealed);
    renamed[0]!.headers![1] = { name: 'content-typf', value: renamed[0]!.headers![1]!.value };
    expect(open(renamed).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    const removed = copyRecords(sealed);
    removed[2] = { key: removed[2]!.key!, value: removed[2]!.value };
    expect(open(removed).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    const nullKey = copyRecords(sealed);
    nullKey[0] = { ...nullKey[0]!, key: null };
    expect(open(nullKey).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    const added = copyRecords(sealed);
    added[3] = { ...added[3]!, headers: [{ name: 'x', value: null }] };
    expect(open(added).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
  });

  it('refuses a value made null or a null value filled', () => {
    const nulled = copyRecords(sealed);
    nulled[3] = { ...nulled[3]!, value: null };
    expect(open(nulled).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    const filledIn = copyRecords(sealed);
    filledIn[1] = { ...filledIn[1]!, value: Buffer.from(sealed[2]!.value!) };
    expect(open(filledIn).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
  });
});

describe('replays', () => {
  it('refuses an envelope replayed into another topic: ENVELOPE_SIGNATURE_INVALID', () => {
    expect(open(sealed, { topic: 'payments' }).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    expect(open(sealed, { topic: 'orders ' }).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    expect(verify(sealed, 'payments').message).toMatch(/does not match the batch on topic payments/);
  });

  it('refuses records reordered, dropped, added or taken from another batch', () => {
    const swapped = [sealed[0]!, sealed[2]!, sealed[1]!, sealed[3]!];
    expect(open(swapped).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    expect(open(sealed.slice(0, 3)).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    expect(open([sealed[0]!, sealed[1]!, sealed[3]!]).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    expect(open([...sealed, sealed[3]!]).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    const other = sealRecords(sampleRecords(), { topic: 'orders', recipients: [alice, bob].map(recipientOf), keys: producer });
    expect(open([sealed[0]!, sealed[1]!, sealed[2]!, other[3]!]).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    const otherHeader = copyRecords(sealed);
    otherHeader[0]!.headers![0] = other[0]!.headers![0]!;
    expect(open(otherHeader).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    // Moving record 0 moves the envelope off it: malformed before anything is verified.
    expect(open([sealed[1]!, sealed[0]!, sealed[2]!, sealed[3]!]).code).toBe('SEALBUS_ERR_ENVELOPE_INVALID');
  });

  it('refuses a batch re-signed by another producer, and a key that is not the named signer', () => {
    const mallory = generateClientKeys();
    const theirs = sealRecords(sampleRecords(), { topic: 'orders', recipients: [recipientOf(alice)], keys: mallory });
    const lying = (keyId: string) => (keyId === keyIdOf('signing', mallory.signing.publicKey) ? producer.signing.publicKey : null);
    expect(open(theirs, { signingKey: lying }).message).toMatch(/names signer key .*, not the key/);
    expect(thrown(() => verifyEnvelope('orders', theirs, producer.signing.publicKey)).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
    expect(thrown(() => verifyEnvelope('orders', sealed, new Uint8Array(31))).code).toBe('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID');
  });
});

describe('malformed envelopes: ENVELOPE_INVALID', () => {
  const withHeader = (mutate: (bytes: Buffer) => Buffer | null) => {
    const copy = copyRecords(sealed);
    copy[0]!.headers![0] = { name: 'sealbus-envelope', value: mutate(Buffer.from(envelopeBytes(sealed))) };
    return copy;
  };
  const cases: [string, () => RecordInput[], RegExp][] = [
    ['a truncated header', () => withHeader((bytes) => bytes.subarray(0, bytes.length - 1)), /header is 374 bytes; 2 recipients need 375/],
    ['a header cut to its fixed part', () => withHeader((bytes) => bytes.subarray(0, 103)), /outside 271\.\.106663/],
    ['a header with a byte too many', () => withHeader((bytes) => Buffer.concat([bytes, Buffer.alloc(1)])), /2 recipients need 375/],
    ['a huge recipient count', () => withHeader((bytes) => (bytes.writeUInt16LE(0xffff, 101), bytes)), /recipient count 65535 is outside 1\.\.1024/],
    ['a zero recipient count', () => withHeader((bytes) => (bytes.writeUInt16LE(0, 101), bytes)), /recipient count 0/],
    ['an oversized header', () => withHeader(() => Buffer.alloc(2_000_000)), /2000000 bytes, outside/],
    ['a null header value', () => withHeader(() => null), /has no value/],
    ['an unknown version', () => withHeader((bytes) => ((bytes[4] = 2), bytes)), /version 2 is not supported/],
    ['a repeated recipient', () => withHeader((bytes) => (bytes.copy(bytes, 103 + 104, 103, 103 + 32), bytes)), /recipient 1 repeats key id/],
    [
      'the header on record 1',
      () => {
        const copy = copyRecords(sealed);
        copy[1] = { ...copy[1]!, headers: [copy[0]!.headers![0]!] };
        copy[0] = { ...copy[0]!, headers: copy[0]!.headers!.slice(1) };
        return copy;
      },
      /record 1 header 0 is named sealbus-envelope/,
    ],
    [
      'a second envelope header',
      () => {
        const copy = copyRecords(sealed);
        copy[3] = { ...copy[3]!, headers: [copy[0]!.headers![0]!] };
        return copy;
      },
      /record 3 header 0/,
    ],
    [
      'the envelope header not first on record 0',
      () => {
        const copy = copyRecords(sealed);
        copy[0] = { ...copy[0]!, headers: [...copy[0]!.headers!].reverse() };
        return copy;
      },
      /record 0 header 1/,
    ],
    [
      'a value too short to be sealed',
      () => {
        const copy = copyRecords(sealed);
        copy[2] = { ...copy[2]!, value: copy[2]!.value!.subarray(0, 39) };
        return copy;
      },
      /record 2 value is 39 bytes, shorter than a sealed value \(40\)/,
    ],
  ];
  it.each(cases)('%s', (_name, build, reason) => {
    const records = build();
    for (const result of [open(records), verify(records)]) {
      expect(result.code).toBe('SEALBUS_ERR_ENVELOPE_INVALID');
      expect(result.message).toMatch(reason);
    }
  });
});

describe('error messages', () => {
  it('never carry key material', () => {
    const secrets = [producer.encryption.secretKey, producer.signing.secretKey.subarray(0, 32), alice.encryption.secretKey, bob.encryption.secretKey];
    const messages = [
      ...cases.map(([, flip, at]) => open(flipped(flip, at)).message),
      open(sealed, { keys: generateClientKeys() }).message,
      open(sealed, { topic: 'payments' }).message,
    ];
    for (const message of messages) {
      expect(message).not.toBe('');
      for (const secret of secrets) {
        for (const encoding of ['hex', 'base64', 'base64url'] as const) expect(message).not.toContain(Buffer.from(secret).toString(encoding).slice(0, 16));
      }
    }
  });
});
