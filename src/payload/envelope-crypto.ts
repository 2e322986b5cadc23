/**
 * The primitives behind envelopes, with their caches. node:crypto does X25519 and Ed25519 (one to two
 * orders of magnitude faster than tweetnacl here); tweetnacl does box and secretbox. Building a
 * node:crypto KeyObject from raw bytes costs hundreds of microseconds, so key objects and the
 * per-pair box keys are cached in bounded maps keyed by public keys or by a one-way fingerprint of
 * a secret key (never by the secret itself).
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, sign, verify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import type { RecordInput } from '../log/record-batch.js';
import type { EncodedRecords } from '../log/types.js';
import { keyIdOf, signingKeyObject, type SigningKeyPair } from './keys.js';

/** PKCS#8 and SPKI DER prefixes around a raw 32-byte key. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Domain tags: each hash or signature here means one thing only. */
export const SIGNING_TAG = Buffer.from('sealbus-envelope-v1\0', 'latin1');
const COMMITMENT_TAG = Buffer.from('sealbus-content-key-v1\0', 'latin1');
const FINGERPRINT_TAG = Buffer.from('sealbus-key-cache-v1\0', 'latin1');

/** tweetnacl's box.before: HSalsa20 of the X25519 secret under a zero input and the "expand 32-byte k" constant. */
const SIGMA = new Uint8Array([101, 120, 112, 97, 110, 100, 32, 51, 50, 45, 98, 121, 116, 101, 32, 107]);
const ZERO_16 = new Uint8Array(16);
/** The parts of tweetnacl's low-level API used here (its typings do not declare them). */
interface NaclLowLevel {
  crypto_core_hsalsa20(out: Uint8Array, input: Uint8Array, key: Uint8Array, constant: Uint8Array): void;
  crypto_secretbox(box: Uint8Array, message: Uint8Array, length: number, nonce: Uint8Array, key: Uint8Array): number;
  crypto_secretbox_open(message: Uint8Array, box: Uint8Array, length: number, nonce: Uint8Array, key: Uint8Array): number;
}
const lowlevel = (nacl as unknown as { lowlevel: NaclLowLevel }).lowlevel;
/** tweetnacl's crypto_secretbox works on a message preceded by 32 zero bytes and a box preceded by 16. */
const ZERO_BYTES = 32;
const BOX_ZERO_BYTES = 16;
const NONCE_BYTES = 24;

const MAX_SHARED_KEYS = 4096;
const MAX_KEY_OBJECTS = 1024;

/** A map that forgets its least recently used entry beyond `max` entries. */
class BoundedCache<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  clear(): void {
    this.entries.clear();
  }
}

const x25519Secrets = new BoundedCache<KeyObject>(MAX_KEY_OBJECTS);
const sharedKeys = new BoundedCache<Uint8Array>(MAX_SHARED_KEYS);
const signers = new BoundedCache<{ readonly key: KeyObject; readonly keyId: Buffer } | null>(MAX_KEY_OBJECTS);
const pairChecks = new BoundedCache<boolean>(MAX_KEY_OBJECTS);
const verifiers = new BoundedCache<{ readonly key: KeyObject; readonly keyId: string } | null>(MAX_KEY_OBJECTS);

/**
 * Forgets every cached key object and box key, e.g. after destroying keys (crypto-shredding): the
 * caches hold secrets derived from private keys for as long as they are in use.
 */
export function clearEnvelopeCaches(): void {
  x25519Secrets.clear();
  sharedKeys.clear();
  signers.clear();
  pairChecks.clear();
  verifiers.clear();
}

/** A one-way name for a secret key, to key caches by without keeping the secret as a string. */
export function fingerprintOf(secretKey: Uint8Array): string {
  return createHash('sha256').update(FINGERPRINT_TAG).update(secretKey).digest('base64url');
}

function x25519Secret(fingerprint: string, secretKey: Uint8Array): KeyObject {
  let key = x25519Secrets.get(fingerprint);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
    x25519Secrets.set(fingerprint, key);
  }
  return key;
}

/**
 * The key `nacl.box.before(publicKey, secretKey)` computes, so that `nacl.box.after` and
 * `nacl.box.open.after` with it are byte-identical to `nacl.box` and `nacl.box.open`. `fingerprint`
 * is `fingerprintOf(secretKey)` (computed once per batch by the caller). Null when the public key is
 * of low order (X25519 yields zero): such a key must not be used.
 */
export function sharedKey(fingerprint: string, secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  const cacheKey = `${fingerprint}:${Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('base64url')}`;
  const cached = sharedKeys.get(cacheKey);
  if (cached !== undefined) return cached;
  let secret: Buffer;
  try {
    const peer = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    secret = diffieHellman({ privateKey: x25519Secret(fingerprint, secretKey), publicKey: peer });
  } catch {
    return null; // OpenSSL refuses an all-zero result: a low-order public key
  }
  const key = new Uint8Array(32);
  lowlevel.crypto_core_hsalsa20(key, ZERO_16, secret, SIGMA);
  secret.fill(0);
  sharedKeys.set(cacheKey, key);
  return key;
}

/**
 * `nonce || nacl.secretbox(plaintext, nonce, key)`, byte for byte, built with tweetnacl's own
 * crypto_secretbox writing straight into the result: nacl.secretbox would copy the box once more, and
 * prepending the nonce a third time. The box's 16 leading zero bytes land on bytes 8..24 of the
 * result, which the nonce then overwrites.
 */
export function sealValue(plaintext: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer {
  const message = new Uint8Array(ZERO_BYTES + plaintext.length);
  message.set(plaintext, ZERO_BYTES);
  const sealed = Buffer.allocUnsafe(NONCE_BYTES + BOX_ZERO_BYTES + plaintext.length);
  lowlevel.crypto_secretbox(sealed.subarray(NONCE_BYTES - BOX_ZERO_BYTES), message, message.length, nonce, key);
  sealed.set(nonce, 0);
  return sealed;
}

/**
 * The plaintext of `nonce || secretbox` (at least 40 bytes), or null when it does not authenticate:
 * nacl.secretbox.open without its copy of the box. crypto_secretbox_open reads the tag at 16..32 of
 * the box it is given and ignores 0..16, so the box can start 8 bytes into the value (the nonce's tail).
 */
export function openValue(sealed: Buffer, key: Uint8Array): Buffer | null {
  const length = sealed.length - (NONCE_BYTES - BOX_ZERO_BYTES);
  const message = Buffer.allocUnsafe(length);
  if (lowlevel.crypto_secretbox_open(message, sealed.subarray(NONCE_BYTES - BOX_ZERO_BYTES), length, sealed.subarray(0, NONCE_BYTES), key) !== 0) return null;
  return message.subarray(ZERO_BYTES);
}

/** The raw public key of a node:crypto private key object (the last 32 bytes of its SPKI form). */
function rawPublicOf(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
}

/**
 * Whether an X25519 key pair is consistent: a header naming a sender key other than the one that
 * wrapped would make the batch unreadable for everyone. Derived once per pair, then cached.
 */
export function isEncryptionPair(fingerprint: string, secretKey: Uint8Array, publicKey: Uint8Array): boolean {
  const cacheKey = `${fingerprint}:${Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('base64url')}`;
  let matches = pairChecks.get(cacheKey);
  if (matches === undefined) {
    matches = rawPublicOf(x25519Secret(fingerprint, secretKey)).equals(publicKey);
    pairChecks.set(cacheKey, matches);
  }
  return matches;
}

/** The producer's signing key object and the raw bytes of its key id; null when the pair is inconsistent. */
export function signerOf(pair: SigningKeyPair): { readonly key: KeyObject; readonly keyId: Buffer } | null {
  const cacheKey = `${fingerprintOf(pair.secretKey)}:${Buffer.from(pair.publicKey.buffer, pair.publicKey.byteOffset, pair.publicKey.length).toString('base64url')}`;
  let signer = signers.get(cacheKey);
  if (signer === undefined) {
    const key = signingKeyObject(pair);
    signer = rawPublicOf(key).equals(pair.publicKey) ? { key, keyId: Buffer.from(keyIdOf('signing', pair.publicKey), 'base64url') } : null;
    signers.set(cacheKey, signer);
  }
  return signer;
}

/** An Ed25519 public key object and its key id; null when the bytes are not a usable key. */
export function verifierOf(publicKey: Uint8Array): { readonly key: KeyObject; readonly keyId: string } | null {
  if (publicKey.length !== 32) return null;
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('base64url');
  let verifier = verifiers.get(id);
  if (verifier === undefined) {
    try {
      verifier = { key: createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }), keyId: keyIdOf('signing', publicKey) };
    } catch {
      verifier = null;
    }
    verifiers.set(id, verifier);
  }
  return verifier;
}

export function keyCommitmentOf(contentKey: Uint8Array): Buffer {
  return createHash('sha256').update(COMMITMENT_TAG).update(contentKey).digest();
}

/**
 * The message the producer signs: the domain tag, then SHA-256 over the topic, the envelope header
 * without its signature, and every record's key, headers (but the envelope header, always record 0's
 * first) and sealed value, each length-prefixed, in order. See docs/envelope.md.
 */
export function signingInput(topic: string, signedHeader: Buffer, records: readonly RecordInput[]): Buffer {
  const hash = createHash('sha256');
  const topicBytes = Buffer.from(topic, 'utf8');
  const fixed = Buffer.allocUnsafe(4);
  hash.update(u32(fixed, topicBytes.length)).update(topicBytes);
  hash.update(u32(fixed, signedHeader.length)).update(signedHeader);
  hash.update(u32(fixed, records.length));
  for (let index = 0; index < records.length; index++) {
    // Everything of a record but its value, in one buffer: fewer hash updates (a third of the cost).
    const record = records[index]!;
    const key = record.key ?? null;
    const headers = record.headers ?? [];
    const skip = index === 0 ? 1 : 0;
    const names: Buffer[] = [];
    let size = 4 + (key?.length ?? 0) + 2 + 4;
    for (let position = skip; position < headers.length; position++) {
      const name = Buffer.from(headers[position]!.name, 'utf8');
      names.push(name);
      size += 2 + name.length + 4 + (headers[position]!.value?.length ?? 0);
    }
    const meta = Buffer.allocUnsafe(size);
    let at = writeBytes(meta, 0, key);
    at = meta.writeUInt16LE(headers.length - skip, at);
    for (let position = skip; position < headers.length; position++) {
      const name = names[position - skip]!;
      at = meta.writeUInt16LE(name.length, at);
      at += name.copy(meta, at);
      at = writeBytes(meta, at, headers[position]!.value);
    }
    meta.writeInt32LE(record.value === null ? -1 : record.value.length, at);
    hash.update(meta);
    if (record.value !== null) hash.update(record.value);
  }
  return Buffer.concat([SIGNING_TAG, hash.digest()]);
}

/**
 * `signingInput` straight from an encoded records section (values sealed, the envelope header first
 * in record 0), without decoding it into records: the same digest, one scratch buffer for the
 * per-record fields instead of one allocation each.
 */
export function sectionSigningInput(topic: string, signedHeader: Buffer, section: EncodedRecords): Buffer {
  const hash = createHash('sha256');
  const topicBytes = Buffer.from(topic, 'utf8');
  const fixed = Buffer.allocUnsafe(4);
  hash.update(u32(fixed, topicBytes.length)).update(topicBytes);
  hash.update(u32(fixed, signedHeader.length)).update(signedHeader);
  hash.update(u32(fixed, section.count));
  const bytes = section.bytes;
  let scratch = Buffer.allocUnsafe(1024);
  let pos = 0;
  for (let index = 0; index < section.count; index++) {
    // A record: u32 length | u8 attributes | i32 key length | key | i32 value length | value | u16 header count | headers.
    const end = pos + 4 + bytes.readUInt32LE(pos);
    const keyAt = pos + 5;
    const keyField = 4 + Math.max(0, bytes.readInt32LE(keyAt));
    const valueAt = keyAt + keyField;
    const valueLength = bytes.readInt32LE(valueAt);
    const countAt = valueAt + 4 + Math.max(0, valueLength);
    let headerCount = bytes.readUInt16LE(countAt);
    let headersAt = countAt + 2;
    if (index === 0) {
      // The envelope header is not signed: it carries the signature.
      const nameEnd = headersAt + 2 + bytes.readUInt16LE(headersAt);
      headersAt = nameEnd + 4 + Math.max(0, bytes.readInt32LE(nameEnd));
      headerCount--;
    }
    // Signed in the order key, headers, value length, then the value.
    const size = keyField + 2 + (end - headersAt) + 4;
    if (scratch.length < size) scratch = Buffer.allocUnsafe(size);
    copyBytes(scratch, 0, bytes, keyAt, valueAt);
    scratch[keyField] = headerCount & 0xff;
    scratch[keyField + 1] = headerCount >>> 8;
    copyBytes(scratch, keyField + 2, bytes, headersAt, end);
    copyBytes(scratch, size - 4, bytes, valueAt, valueAt + 4);
    hash.update(size === scratch.length ? scratch : scratch.subarray(0, size));
    if (valueLength > 0) hash.update(bytes.subarray(valueAt + 4, countAt));
    pos = end;
  }
  return Buffer.concat([SIGNING_TAG, hash.digest()]);
}

/** Copies bytes[from, to) to target[at...]; a few bytes (a null key, no headers) are cheaper by hand than through Buffer.copy. */
function copyBytes(target: Buffer, at: number, bytes: Buffer, from: number, to: number): void {
  if (to - from > 32) {
    target.set(bytes.subarray(from, to), at);
    return;
  }
  for (let index = from; index < to; index++) target[at++] = bytes[index]!;
}

function u32(scratch: Buffer, value: number): Buffer {
  scratch.writeUInt32LE(value, 0);
  return scratch;
}

/** `i32 -1` for null, else `i32 length || bytes`; returns the position after. */
function writeBytes(target: Buffer, at: number, bytes: Buffer | null): number {
  at = target.writeInt32LE(bytes === null ? -1 : bytes.length, at);
  return bytes === null ? at : at + bytes.copy(target, at);
}

export function signInput(key: KeyObject, input: Buffer): Buffer {
  return sign(null, input, key);
}

export function verifyInput(key: KeyObject, input: Buffer, signature: Buffer): boolean {
  try {
    return verify(null, input, key, signature);
  } catch {
    return false;
  }
}
