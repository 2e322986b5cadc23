import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { openRecords } from '../../src/payload/index.js';
import { computeVectors, formatVectors, parseVectors } from './vectors.js';

const markdown = readFileSync(new URL('../../docs/envelope.md', import.meta.url), 'utf8');
const documented = parseVectors(markdown);
const doc = new Map(documented);

function hexOf(name: string): Buffer {
  const value = doc.get(name);
  if (value === undefined || !/^([0-9a-f]{2})+$/.test(value)) throw new Error(`docs/envelope.md has no hex vector ${name}`);
  return Buffer.from(value, 'hex');
}

function textOf(name: string): Buffer {
  const value = doc.get(name);
  if (value === undefined) throw new Error(`docs/envelope.md has no vector ${name}`);
  return Buffer.from(JSON.parse(value) as string, 'utf8');
}

const sha256 = (...parts: Uint8Array[]) => parts.reduce((hash, part) => hash.update(part), createHash('sha256')).digest();
const keyId = (kind: string, publicKey: Uint8Array) => sha256(Buffer.from(`sealbus-${kind}-key-v1\0`), publicKey);

describe('docs/envelope.md test vectors', () => {
  it('are exactly what the implementation produces (the document cannot drift)', () => {
    const computed = computeVectors();
    expect(documented).toEqual(computed);
    expect(markdown).toContain(formatVectors(computed));
  });

  // The checks below use only the document, tweetnacl and SHA-256, following the document's words:
  // an independent implementation reading docs/envelope.md gets the same bytes.
  it('follow the documented layout, with wraps byte-identical to nacl.box', () => {
    const header = hexOf('sealed.envelopeHeader');
    const contentKey = hexOf('contentKey');
    const producerPublic = nacl.box.keyPair.fromSecretKey(hexOf('producer.encryption.secretKey')).publicKey;
    const signing = nacl.sign.keyPair.fromSeed(hexOf('producer.signing.seed'));
    expect(Buffer.from(producerPublic)).toEqual(hexOf('producer.encryption.publicKey'));
    expect(Buffer.from(signing.publicKey)).toEqual(hexOf('producer.signing.publicKey'));
    expect(header.length).toBe(167 + 104 * 2);
    expect(header.subarray(0, 4).toString('latin1')).toBe('SBEV');
    expect(header[4]).toBe(1);
    expect(header.subarray(5, 37)).toEqual(keyId('signing', signing.publicKey));
    expect(header.subarray(5, 37).toString('base64url')).toBe(doc.get('producer.signing.keyId'));
    expect(header.subarray(37, 69)).toEqual(Buffer.from(producerPublic));
    expect(header.subarray(69, 101)).toEqual(sha256(Buffer.from('sealbus-content-key-v1\0'), contentKey));
    expect(header.subarray(69, 101)).toEqual(hexOf('keyCommitment'));
    expect(header.readUInt16LE(101)).toBe(2);
    for (const [index, name] of ['A', 'B'].entries()) {
      const at = 103 + 104 * index;
      const recipient = nacl.box.keyPair.fromSecretKey(hexOf(`recipient${name}.encryption.secretKey`));
      expect(Buffer.from(recipient.publicKey)).toEqual(hexOf(`recipient${name}.encryption.publicKey`));
      expect(header.subarray(at, at + 32)).toEqual(keyId('encryption', recipient.publicKey));
      expect(header.subarray(at, at + 32).toString('base64url')).toBe(doc.get(`recipient${name}.encryption.keyId`));
      const nonce = hexOf(`wrapNonce.${name}`);
      expect(header.subarray(at + 32, at + 56)).toEqual(nonce);
      const wrapped = header.subarray(at + 56, at + 104);
      expect(wrapped).toEqual(Buffer.from(nacl.box(contentKey, nonce, recipient.publicKey, hexOf('producer.encryption.secretKey'))));
      expect(Buffer.from(nacl.box.open(wrapped, nonce, producerPublic, recipient.secretKey)!)).toEqual(contentKey);
    }
    for (const index of [0, 1]) {
      const nonce = hexOf(`valueNonce.${index}`);
      const sealed = hexOf(`sealed.record.${index}.value`);
      expect(sealed).toEqual(Buffer.concat([nonce, nacl.secretbox(textOf(`record.${index}.value`), nonce, contentKey)]));
    }
    expect(sha256(header).toString('hex')).toBe(doc.get('check.sha256(envelopeHeader)'));
  });

  it('carry an Ed25519 signature over the documented signing input (checked with tweetnacl)', () => {
    const header = hexOf('sealed.envelopeHeader');
    const u32 = (value: number) => Buffer.from(Uint32Array.of(value).buffer);
    const u16 = (value: number) => Buffer.from(Uint16Array.of(value).buffer);
    const bytes = (value: Buffer) => Buffer.concat([u32(value.length), value]);
    const topic = textOf('topic');
    const signed = header.subarray(0, header.length - 64);
    const digest = sha256(
      u32(topic.length),
      topic,
      u32(signed.length),
      signed,
      u32(2),
      bytes(textOf('record.0.key')),
      u16(1),
      u16('content-type'.length),
      Buffer.from('content-type'),
      bytes(textOf('record.0.header.content-type')),
      bytes(hexOf('sealed.record.0.value')),
      bytes(textOf('record.1.key')),
      u16(0),
      bytes(hexOf('sealed.record.1.value')),
    );
    expect(digest).toEqual(hexOf('signingDigest'));
    const message = Buffer.concat([Buffer.from('sealbus-envelope-v1\0'), digest]);
    expect(message.length).toBe(52);
    expect(nacl.sign.detached.verify(message, header.subarray(header.length - 64), hexOf('producer.signing.publicKey'))).toBe(true);
  });

  it('open for both recipients to the documented plaintexts', () => {
    const batch = [
      { key: textOf('record.0.key'), value: hexOf('sealed.record.0.value'), headers: [{ name: 'sealbus-envelope', value: hexOf('sealed.envelopeHeader') }, { name: 'content-type', value: textOf('record.0.header.content-type') }] },
      { key: textOf('record.1.key'), value: hexOf('sealed.record.1.value') },
    ];
    for (const name of ['A', 'B']) {
      const secretKey = new Uint8Array(hexOf(`recipient${name}.encryption.secretKey`));
      const keys = { encryption: { secretKey, publicKey: nacl.box.keyPair.fromSecretKey(secretKey).publicKey }, previousEncryption: [] };
      const opened = openRecords(batch, { topic: 'orders', keys, signingKey: (id) => (id === doc.get('producer.signing.keyId') ? hexOf('producer.signing.publicKey') : null) });
      expect(opened.records.map((record) => record.value!.toString('utf8'))).toEqual(['{"id":1,"total":42}', '{"id":2,"total":7}']);
    }
  });
});
