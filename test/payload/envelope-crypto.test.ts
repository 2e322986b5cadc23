import fc from 'fast-check';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RECORD_LIMITS, decodeRecordSection, encodeRecords, validateRecords, type RecordInput } from '../../src/log/record-batch.js';
import { isSealbusError } from '../../src/errors/index.js';
import { generateClientKeys, openRecords, sealRecords, verifyEnvelope, type ClientKeys } from '../../src/payload/index.js';
import { fingerprintOf, keyCommitmentOf, openValue, sealValue, sharedKey, signInput, signerOf, signingInput } from '../../src/payload/envelope-crypto.js';
import { encodeEnvelopeHeader, signedPart, writeSignature } from '../../src/payload/envelope-format.js';
import { copyRecords, directoryOf, envelopeBytes, recipientOf, sampleRecords, thrown } from './helpers.js';

const producer = generateClientKeys();
const alice = generateClientKeys();
const bob = generateClientKeys();
const signingKey = directoryOf(producer);

describe('box keys from node:crypto X25519', () => {
  it('equal nacl.box.before, and box.after with them equals nacl.box byte for byte', () => {
    for (let i = 0; i < 20; i++) {
      const sender = nacl.box.keyPair();
      const recipient = nacl.box.keyPair();
      const key = sharedKey(fingerprintOf(sender.secretKey), sender.secretKey, recipient.publicKey)!;
      expect(Buffer.from(key)).toEqual(Buffer.from(nacl.box.before(recipient.publicKey, sender.secretKey)));
      expect(sharedKey(fingerprintOf(sender.secretKey), sender.secretKey, recipient.publicKey)).toBe(key); // cached
      const reverse = sharedKey(fingerprintOf(recipient.secretKey), recipient.secretKey, sender.publicKey)!;
      expect(Buffer.from(reverse)).toEqual(Buffer.from(key));
      const message = nacl.randomBytes(32);
      const nonce = nacl.randomBytes(24);
      expect(Buffer.from(nacl.box.after(message, nonce, key))).toEqual(Buffer.from(nacl.box(message, nonce, recipient.publicKey, sender.secretKey)));
    }
  });

  it('are not shared between two secret keys facing the same public key', () => {
    const one = nacl.box.keyPair();
    const two = nacl.box.keyPair();
    const peer = nacl.box.keyPair().publicKey;
    const first = sharedKey(fingerprintOf(one.secretKey), one.secretKey, peer)!;
    const second = sharedKey(fingerprintOf(two.secretKey), two.secretKey, peer)!;
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    expect(Buffer.from(second)).toEqual(Buffer.from(nacl.box.before(peer, two.secretKey)));
  });

  it('refuse low-order public keys, which tweetnacl would accept', () => {
    const own = nacl.box.keyPair();
    const lowOrder = [new Uint8Array(32), Uint8Array.from([1, ...new Uint8Array(31)])];
    for (const peer of lowOrder) expect(sharedKey(fingerprintOf(own.secretKey), own.secretKey, peer)).toBeNull();
  });
});

describe('sealed values from tweetnacl\'s low-level secretbox', () => {
  it('are nonce || nacl.secretbox byte for byte, and open to the plaintext, for any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (plaintext, nonce, key) => {
        const sealed = sealValue(plaintext, nonce, key);
        expect(sealed).toEqual(Buffer.concat([nonce, nacl.secretbox(plaintext, nonce, key)]));
        expect(openValue(sealed, key)).toEqual(Buffer.from(plaintext));
        expect(Buffer.from(nacl.secretbox.open(sealed.subarray(24), sealed.subarray(0, 24), key)!)).toEqual(Buffer.from(plaintext));
      }),
      { numRuns: 200 },
    );
  });

  it('do not open after any change, nor under another key', () => {
    const key = nacl.randomBytes(32);
    const sealed = sealValue(Buffer.from('attack at dawn'), nacl.randomBytes(24), key);
    for (let position = 0; position < sealed.length; position++) {
      const changed = Buffer.from(sealed);
      changed[position]! ^= 0x80;
      expect(openValue(changed, key)).toBeNull();
    }
    expect(openValue(sealed, nacl.randomBytes(32))).toBeNull();
    expect(openValue(sealed, key)!.toString()).toBe('attack at dawn');
  });
});

/** A malicious producer: builds a batch by hand, then signs it correctly. */
function forge(records: RecordInput[], build: (contentKey: Uint8Array) => { wraps: { keys: ClientKeys; contentKey: Uint8Array }[]; senderKey?: Uint8Array; commitment?: Uint8Array }): RecordInput[] {
  const contentKey = nacl.randomBytes(32);
  const plan = build(contentKey);
  const fingerprint = fingerprintOf(producer.encryption.secretKey);
  const wraps = plan.wraps.map(({ keys, contentKey: wrapped }) => {
    const wrapNonce = nacl.randomBytes(24);
    const boxKey = sharedKey(fingerprint, producer.encryption.secretKey, keys.encryption.publicKey)!;
    return { keyId: Buffer.from(recipientOf(keys).keyId, 'base64url'), wrapNonce, wrappedKey: nacl.box.after(wrapped, wrapNonce, boxKey) };
  });
  const signer = signerOf(producer.signing)!;
  const header = encodeEnvelopeHeader({
    signerKeyId: signer.keyId,
    senderKey: plan.senderKey ?? producer.encryption.publicKey,
    keyCommitment: plan.commitment ?? keyCommitmentOf(contentKey),
    wraps,
  });
  const sealed = records.map((record, index) => {
    const nonce = nacl.randomBytes(24);
    const value = record.value === null ? null : Buffer.concat([nonce, nacl.secretbox(record.value, nonce, contentKey)]);
    return { ...record, value, ...(index === 0 && { headers: [{ name: 'sealbus-envelope', value: header }, ...(record.headers ?? [])] }) };
  });
  writeSignature(header, signInput(signer.key, signingInput('orders', signedPart(header), sealed)));
  return sealed;
}

describe('a correctly signed batch that does not decrypt: ENVELOPE_DECRYPT_FAILED', () => {
  const open = (records: RecordInput[], keys: ClientKeys = alice) => thrown(() => openRecords(records, { topic: 'orders', keys, signingKey }));

  it('accepts the honest forgery (the harness itself is sound)', () => {
    const honest = forge(sampleRecords(), (contentKey) => ({ wraps: [{ keys: alice, contentKey }] }));
    expect(open(honest).code).toBe('accepted');
  });

  it('refuses different content keys for different recipients (the key commitment)', () => {
    const split = forge(sampleRecords(), (contentKey) => ({ wraps: [{ keys: alice, contentKey }, { keys: bob, contentKey: nacl.randomBytes(32) }] }));
    expect(open(split, alice).code).toBe('accepted');
    const error = open(split, bob);
    expect(error.code).toBe('SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED');
    expect(error.message).toMatch(/does not match the envelope's key commitment/);
  });

  it('refuses a wrap that does not open', () => {
    const records = forge(sampleRecords(), (contentKey) => ({ wraps: [{ keys: alice, contentKey }], senderKey: bob.encryption.publicKey }));
    expect(open(records).message).toMatch(/content key wrapped for key .* does not open/);
  });

  it('refuses a low-order sender key', () => {
    const records = forge(sampleRecords(), (contentKey) => ({ wraps: [{ keys: alice, contentKey }], senderKey: new Uint8Array(32) }));
    expect(open(records).message).toMatch(/sender key is not a usable X25519 key/);
  });

  it('refuses a value that does not decrypt', () => {
    const records = forge([{ value: Buffer.from('ok') }, { value: Buffer.from('bad') }], (contentKey) => ({ wraps: [{ keys: alice, contentKey }] }));
    const corrupted = copyRecords(records);
    corrupted[1]!.value![30]! ^= 1;
    const header = envelopeBytes(corrupted);
    writeSignature(header, signInput(signerOf(producer.signing)!.key, signingInput('orders', signedPart(header), corrupted)));
    const error = open(corrupted);
    expect(error.code).toBe('SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED');
    expect(error.message).toMatch(/record 1 value does not decrypt/);
  });
});

describe('property: no single-byte change of a sealed batch is accepted', () => {
  const sealed = sealRecords(sampleRecords().slice(0, 3), { topic: 'orders', recipients: [alice, bob].map(recipientOf), keys: producer });
  const encoded = encodeRecords(sealed);

  it('holds for every byte position, flipping its low bit or all its bits', () => {
    for (let position = 0; position < encoded.bytes.length; position++) {
      for (const xor of [0x01, 0xff]) {
        const bytes = Buffer.from(encoded.bytes);
        bytes[position]! ^= xor;
        const mutated = { count: encoded.count, bytes };
        const logged = thrown(() => validateRecords(mutated, DEFAULT_RECORD_LIMITS));
        if (logged.code !== 'accepted') continue;
        const records = decodeRecordSection(mutated);
        expect([position, xor, thrown(() => openRecords(records, { topic: 'orders', keys: alice, signingKey })).code]).not.toContain('accepted');
      }
    }
  });

  it('holds for the encoded records section, through the log layer, openRecords and verifyEnvelope', () => {
    let reachedOpen = 0;
    fc.assert(
      fc.property(fc.nat({ max: encoded.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (position, xor) => {
        const bytes = Buffer.from(encoded.bytes);
        bytes[position]! ^= xor;
        const mutated = { count: encoded.count, bytes };
        try {
          validateRecords(mutated, DEFAULT_RECORD_LIMITS);
        } catch (err) {
          // the log layer refuses it first
          return isSealbusError(err, 'SEALBUS_ERR_BATCH_INVALID') || isSealbusError(err, 'SEALBUS_ERR_RECORD_TOO_LARGE');
        }
        reachedOpen++;
        const records = decodeRecordSection(mutated);
        const opened = thrown(() => openRecords(records, { topic: 'orders', keys: alice, signingKey }));
        const verified = thrown(() => verifyEnvelope('orders', records, producer.signing.publicKey));
        return opened.code.startsWith('SEALBUS_ERR_ENVELOPE_') && verified.code.startsWith('SEALBUS_ERR_ENVELOPE_');
      }),
      { numRuns: 3000 },
    );
    expect(reachedOpen).toBeGreaterThan(2000);
    expect(openRecords(decodeRecordSection(encoded), { topic: 'orders', keys: alice, signingKey }).records).toHaveLength(3);
  });
});
