import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/log/record-batch.js';
import {
  ENVELOPE_HEADER,
  generateClientKeys,
  keyIdOf,
  openRecords,
  readEnvelope,
  rotateEncryptionKey,
  sealRecords,
  verifyEnvelope,
} from '../../src/payload/index.js';
import { parseEnvelope } from '../../src/payload/envelope-format.js';
import { directoryOf, recipientOf, sampleRecords, thrown } from './helpers.js';

const producer = generateClientKeys();
const alice = generateClientKeys();
const bob = generateClientKeys();
const carol = generateClientKeys();
const signingKey = directoryOf(producer);

describe('sealRecords and openRecords', () => {
  const records = sampleRecords();
  const sealed = sealRecords(records, { topic: 'orders', recipients: [alice, bob, carol].map(recipientOf), keys: producer });

  it('gives every recipient the plaintext, keys and headers back, and names the signer', () => {
    for (const reader of [alice, bob, carol]) {
      const opened = openRecords(sealed, { topic: 'orders', keys: reader, signingKey });
      expect(opened.signerKeyId).toBe(keyIdOf('signing', producer.signing.publicKey));
      expect(opened.records.map((record) => record.value)).toEqual(records.map((record) => record.value));
      expect(opened.records.map((record) => record.key)).toEqual(records.map((record) => record.key));
      expect(opened.records[0]!.headers).toEqual(records[0]!.headers);
      expect(opened.records[2]!.headers).toEqual(records[2]!.headers);
      expect(opened.records[3]).not.toHaveProperty('headers');
    }
  });

  it('puts the envelope first on record 0 only, keeps null values null and stores no plaintext', () => {
    expect(sealed[0]!.headers![0]!.name).toBe(ENVELOPE_HEADER);
    expect(sealed[0]!.headers!.slice(1)).toEqual(records[0]!.headers);
    expect(sealed.slice(1).every((record) => !record.headers?.some((header) => header.name === ENVELOPE_HEADER))).toBe(true);
    expect(sealed[1]!.value).toBeNull();
    expect(sealed[2]!.value!.length).toBe(24 + 16);
    expect(sealed[3]!.value!.length).toBe(24 + 16 + 4096);
    const stored = Buffer.concat(sealed.map((record) => record.value ?? Buffer.alloc(0)));
    expect(stored.includes(Buffer.from('"total":42'))).toBe(false);
    expect(stored.includes(Buffer.alloc(64, 7))).toBe(false);
  });

  it('does not modify its input', () => {
    expect(records).toEqual(sampleRecords());
  });

  it('reads the envelope without keys, and verifies it with the signing key alone (as the broker does)', () => {
    const header = readEnvelope(sealed);
    expect(header).toEqual({
      version: 1,
      signerKeyId: keyIdOf('signing', producer.signing.publicKey),
      senderKey: producer.encryption.publicKey,
      recipientKeyIds: [alice, bob, carol].map((keys) => keyIdOf('encryption', keys.encryption.publicKey)),
    });
    expect(verifyEnvelope('orders', sealed, producer.signing.publicKey)).toEqual(header);
  });

  it('treats a batch without an envelope as plaintext in readEnvelope and refuses it in open and verify', () => {
    expect(readEnvelope(records)).toBeNull();
    expect(readEnvelope([])).toBeNull();
    expect(thrown(() => openRecords(records, { topic: 'orders', keys: alice, signingKey })).code).toBe('SEALBUS_ERR_ENVELOPE_INVALID');
    expect(thrown(() => openRecords([], { topic: 'orders', keys: alice, signingKey })).code).toBe('SEALBUS_ERR_ENVELOPE_INVALID');
    expect(thrown(() => verifyEnvelope('orders', records, producer.signing.publicKey)).message).toMatch(/carries no sealbus-envelope header/);
  });

  it('keeps the shape of stored records (offset, timestamp)', () => {
    const stored: LogRecord[] = sealed.map((record, index) => ({ offset: 100 + index, timestamp: 5, key: record.key ?? null, value: record.value, headers: record.headers ?? [] }));
    const opened = openRecords(stored, { topic: 'orders', keys: bob, signingKey });
    expect(opened.records.map((record) => [record.offset, record.timestamp])).toEqual([[100, 5], [101, 5], [102, 5], [103, 5]]);
    expect(opened.records[0]!.headers).toEqual(records[0]!.headers);
    expect(opened.records[3]!.headers).toEqual([]);
    expect(opened.records[3]!.value).toEqual(records[3]!.value);
  });

  it('seals each batch under a fresh content key and fresh nonces', () => {
    const again = sealRecords(records, { topic: 'orders', recipients: [alice].map(recipientOf), keys: producer });
    const first = parseEnvelope(sealed)!;
    const second = parseEnvelope(again)!;
    expect(first.keyCommitment.equals(second.keyCommitment)).toBe(false);
    expect(sealed[0]!.value!.subarray(0, 24).equals(again[0]!.value!.subarray(0, 24))).toBe(false);
    expect(sealed[0]!.value!.subarray(0, 24).equals(sealed[2]!.value!.subarray(0, 24))).toBe(false);
  });
});

describe('interoperability with plain tweetnacl', () => {
  it('opens the wrapped content key with nacl.box.open and every value with nacl.secretbox.open', () => {
    const records = sampleRecords();
    const sealed = sealRecords(records, { topic: 'orders', recipients: [alice, bob].map(recipientOf), keys: producer });
    const parsed = parseEnvelope(sealed)!;
    for (const [index, reader] of [alice, bob].entries()) {
      const wrap = parsed.wraps[index]!;
      expect(wrap.keyId).toBe(keyIdOf('encryption', reader.encryption.publicKey));
      const contentKey = nacl.box.open(wrap.wrappedKey, wrap.wrapNonce, producer.encryption.publicKey, reader.encryption.secretKey);
      expect(contentKey).not.toBeNull();
      sealed.forEach((record, position) => {
        if (record.value === null) return;
        const plaintext = nacl.secretbox.open(record.value.subarray(24), record.value.subarray(0, 24), contentKey!);
        expect(Buffer.from(plaintext!)).toEqual(records[position]!.value);
      });
    }
  });
});

describe('who can open', () => {
  const sealed = sealRecords(sampleRecords(), { topic: 'orders', recipients: [alice, bob].map(recipientOf), keys: producer });

  it('refuses a reader the batch was not sealed for: ENVELOPE_NO_KEY naming the reader key ids', () => {
    const error = thrown(() => openRecords(sealed, { topic: 'orders', keys: carol, signingKey }));
    expect(error.code).toBe('SEALBUS_ERR_ENVELOPE_NO_KEY');
    expect(error.message).toContain(keyIdOf('encryption', carol.encryption.publicKey));
  });

  it('refuses a batch whose signer the directory does not know: ENVELOPE_UNKNOWN_SIGNER', () => {
    const error = thrown(() => openRecords(sealed, { topic: 'orders', keys: alice, signingKey: directoryOf(alice) }));
    expect(error.code).toBe('SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER');
    expect(error.message).toContain(keyIdOf('signing', producer.signing.publicKey));
  });

  it('lets a reader whose key rotated open batches sealed to its previous key, and new ones to its current key', () => {
    const rotated = rotateEncryptionKey(alice);
    expect(openRecords(sealed, { topic: 'orders', keys: rotated, signingKey }).records[0]!.value).toEqual(sampleRecords()[0]!.value);
    const fresh = sealRecords(sampleRecords(), { topic: 'orders', recipients: [recipientOf(rotated)], keys: producer });
    expect(openRecords(fresh, { topic: 'orders', keys: rotated, signingKey }).records[3]!.value).toEqual(sampleRecords()[3]!.value);
    const withoutPrevious = { encryption: rotated.encryption, previousEncryption: [] };
    expect(thrown(() => openRecords(sealed, { topic: 'orders', keys: withoutPrevious, signingKey })).code).toBe('SEALBUS_ERR_ENVELOPE_NO_KEY');
    expect(thrown(() => openRecords(fresh, { topic: 'orders', keys: alice, signingKey })).code).toBe('SEALBUS_ERR_ENVELOPE_NO_KEY');
  });
});

describe('sealRecords refuses unusable input: ENVELOPE_INVALID', () => {
  const recipients = [recipientOf(alice)];
  const cases: [string, () => unknown, RegExp][] = [
    ['an empty batch', () => sealRecords([], { topic: 'orders', recipients, keys: producer }), /empty batch/],
    ['no recipients', () => sealRecords(sampleRecords(), { topic: 'orders', recipients: [], keys: producer }), /0 recipients/],
    [
      'too many recipients',
      () => sealRecords(sampleRecords(), { topic: 'orders', recipients: Array.from({ length: 1025 }, () => recipients[0]!), keys: producer }),
      /1025 recipients/,
    ],
    ['a repeated recipient', () => sealRecords(sampleRecords(), { topic: 'orders', recipients: [...recipients, ...recipients], keys: producer }), /recipient 1 repeats/],
    [
      'a key id that does not name the key',
      () => sealRecords(sampleRecords(), { topic: 'orders', recipients: [{ keyId: recipients[0]!.keyId, publicKey: bob.encryption.publicKey }], keys: producer }),
      /recipient 0 key id .* does not name its public key/,
    ],
    ['a short public key', () => sealRecords(sampleRecords(), { topic: 'orders', recipients: [{ keyId: 'x', publicKey: new Uint8Array(31) }], keys: producer }), /not 32 bytes/],
    [
      'a low-order recipient key',
      () => sealRecords(sampleRecords(), { topic: 'orders', recipients: [{ keyId: keyIdOf('encryption', new Uint8Array(32)), publicKey: new Uint8Array(32) }], keys: producer }),
      /not a usable X25519 key/,
    ],
    [
      'a record that already carries an envelope header',
      () => sealRecords([{ value: null }, { value: null, headers: [{ name: ENVELOPE_HEADER, value: null }] }], { topic: 'orders', recipients, keys: producer }),
      /record 1 already carries/,
    ],
  ];
  cases.push(
    [
      'an encryption key pair whose halves do not match',
      () => sealRecords(sampleRecords(), { topic: 'orders', recipients, keys: { ...producer, encryption: { ...producer.encryption, publicKey: bob.encryption.publicKey } } }),
      /sender encryption public key does not belong/,
    ],
    [
      'a signing key pair whose halves do not match',
      () => sealRecords(sampleRecords(), { topic: 'orders', recipients, keys: { ...producer, signing: { ...producer.signing, publicKey: bob.signing.publicKey } } }),
      /signing public key does not belong/,
    ],
  );
  it.each(cases)('%s', (_name, work, reason) => {
    const error = thrown(work);
    expect(error.code).toBe('SEALBUS_ERR_ENVELOPE_INVALID');
    expect(error.message).toMatch(reason);
  });

  it('seals for up to 1024 recipients, and the last of them opens', () => {
    // tweetnacl, not generateKeyPairSync: 1,024 of those in a row deadlocked Node 20.20 in about one
    // run in eight (test/source/no-sync-keygen.test.ts).
    const pairs = Array.from({ length: 1024 }, () => nacl.box.keyPair());
    const many = pairs.map((pair) => ({ keyId: keyIdOf('encryption', pair.publicKey), publicKey: pair.publicKey }));
    const sealed = sealRecords(sampleRecords(), { topic: 'orders', recipients: many, keys: producer });
    expect(readEnvelope(sealed)!.recipientKeyIds).toHaveLength(1024);
    const last = { encryption: pairs[1023]!, previousEncryption: [] };
    expect(openRecords(sealed, { topic: 'orders', keys: last, signingKey }).records[0]!.value).toEqual(sampleRecords()[0]!.value);
  });

  it('seals a batch of null values only (keys and headers signed, nothing to encrypt)', () => {
    const sealed = sealRecords([{ key: Buffer.from('tombstone'), value: null }], { topic: 'orders', recipients, keys: producer });
    const opened = openRecords(sealed, { topic: 'orders', keys: alice, signingKey });
    expect(opened.records).toEqual([{ key: Buffer.from('tombstone'), value: null, headers: [] }]);
  });
});
