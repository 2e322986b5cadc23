/**
 * End-to-end encryption of a batch (docs/envelope.md): the producer seals every value under a fresh
 * content key, wraps that key for each recipient's X25519 key and signs the whole batch, bound to its
 * topic, with Ed25519. The broker verifies (`verifyEnvelope`) without being able to read; consumers
 * verify and decrypt (`openRecords`).
 */
import { randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { SealbusError } from '../errors/index.js';
import type { RecordHeader, RecordInput } from '../log/record-batch.js';
import {
  CONTENT_KEY_BYTES,
  ENVELOPE_HEADER,
  MAX_RECIPIENTS,
  NONCE_BYTES,
  PUBLIC_KEY_BYTES,
  encodeEnvelopeHeader,
  envelopeInvalid,
  parseEnvelope,
  signedPart,
  writeSignature,
  type EnvelopeHeader,
  type ParsedEnvelope,
} from './envelope-format.js';
import { fingerprintOf, isEncryptionPair, keyCommitmentOf, openValue, sealValue, sharedKey, signInput, signerOf, signingInput, verifierOf, verifyInput } from './envelope-crypto.js';
import { keyIdOf, type ClientKeys, type EncryptionKeyPair } from './keys.js';

export { ENVELOPE_HEADER, MAX_RECIPIENTS, type EnvelopeHeader } from './envelope-format.js';
export { clearEnvelopeCaches } from './envelope-crypto.js';

/** Someone a batch is sealed for: an encryption key id (keyIdOf('encryption', publicKey)) and its X25519 key. */
export interface Recipient {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
}

export interface SealOptions {
  readonly topic: string;
  readonly recipients: readonly Recipient[];
  readonly keys: ClientKeys;
}

export interface OpenOptions {
  readonly topic: string;
  /** The reader's encryption key pairs: current and previous (rotation), e.g. ClientKeys. */
  readonly keys: Pick<ClientKeys, 'encryption' | 'previousEncryption'>;
  /** The signer's Ed25519 public key for a key id, or null when unknown (-> SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER). */
  readonly signingKey: (keyId: string) => Uint8Array | null;
}

export interface OpenedBatch<R> {
  readonly records: R[];
  readonly signerKeyId: string;
}

/**
 * The randomness of one seal, in the order it is used: the content key (32 bytes), one wrap nonce per
 * recipient (24 each), one nonce per non-null value (24 each). Must return fresh bytes: the content key
 * is zeroed in place once the batch is sealed. Injected only to generate the documented test vectors.
 */
export type RandomSource = (length: number) => Uint8Array;

function checkSealInput(records: readonly RecordInput[], options: SealOptions): Buffer[] {
  if (records.length === 0) throw envelopeInvalid('an empty batch has no record to carry the envelope');
  const { recipients, keys } = options;
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw envelopeInvalid(`${recipients.length} recipients; a batch is sealed for 1..${MAX_RECIPIENTS}`);
  }
  if (keys.encryption.secretKey.length !== 32 || keys.encryption.publicKey.length !== PUBLIC_KEY_BYTES) {
    throw envelopeInvalid('the sender encryption key pair is not 32-byte X25519 keys');
  }
  if (keys.signing.secretKey.length !== 64 || keys.signing.publicKey.length !== 32) throw envelopeInvalid('the signing key pair is not an Ed25519 key pair');
  records.forEach((record, index) => {
    if (record.headers?.some((header) => header.name === ENVELOPE_HEADER)) throw envelopeInvalid(`record ${index} already carries a ${ENVELOPE_HEADER} header`);
  });
  const seen = new Set<string>();
  return recipients.map((recipient, index) => {
    if (recipient.publicKey.length !== PUBLIC_KEY_BYTES) throw envelopeInvalid(`recipient ${index} public key is not 32 bytes`);
    if (recipient.keyId !== keyIdOf('encryption', recipient.publicKey)) {
      throw envelopeInvalid(`recipient ${index} key id ${recipient.keyId} does not name its public key`);
    }
    if (seen.has(recipient.keyId)) throw envelopeInvalid(`recipient ${index} repeats key id ${recipient.keyId}`);
    seen.add(recipient.keyId);
    return Buffer.from(recipient.keyId, 'base64url');
  });
}

/**
 * Seals a batch for `recipients`: returns new records whose values are `nonce || secretbox(value)`
 * (null stays null) and whose record 0 carries the signed envelope header first. Keys and headers
 * stay plaintext (signed, not encrypted). Throws SEALBUS_ERR_ENVELOPE_INVALID on unusable input.
 *
 * @example
 * const sealed = sealRecords([{ key: null, value: Buffer.from('{"id":1}') }], { topic: 'orders', recipients, keys });
 */
export function sealRecords(records: readonly RecordInput[], options: SealOptions): RecordInput[] {
  return sealRecordsWith(records, options, randomBytes);
}

/** What every seal starts with: the batch's randomness, its content key and its header, all but signed. */
export interface SealStart {
  /** The randomness of the seal; the value nonces start at `valueNoncesAt`. */
  readonly entropy: Uint8Array;
  /** A view into `entropy`: zero it once the values are sealed. */
  readonly contentKey: Uint8Array;
  readonly valueNoncesAt: number;
  /** The envelope header with a zero signature (see `writeSignature`). */
  readonly header: Buffer;
  readonly signingKey: KeyObject;
}

/**
 * Checks the input, draws the randomness, wraps the content key for each recipient and encodes the
 * header: the per-batch part of sealing, before any value. Zeroes the content key if it throws.
 */
export function startSeal(records: readonly RecordInput[], options: SealOptions, random: RandomSource): SealStart {
  const recipientIds = checkSealInput(records, options);
  const { recipients, keys } = options;
  let sealedValues = 0;
  for (const record of records) if (record.value !== null) sealedValues++;
  const entropy = random(CONTENT_KEY_BYTES + NONCE_BYTES * (recipients.length + sealedValues));
  if (entropy.length !== CONTENT_KEY_BYTES + NONCE_BYTES * (recipients.length + sealedValues)) {
    throw new RangeError(`the random source returned ${entropy.length} bytes, not ${CONTENT_KEY_BYTES + NONCE_BYTES * (recipients.length + sealedValues)}`);
  }
  const contentKey = entropy.subarray(0, CONTENT_KEY_BYTES);
  try {
    const fingerprint = fingerprintOf(keys.encryption.secretKey);
    if (!isEncryptionPair(fingerprint, keys.encryption.secretKey, keys.encryption.publicKey)) {
      throw envelopeInvalid('the sender encryption public key does not belong to its secret key');
    }
    const signer = signerOf(keys.signing);
    if (signer === null) throw envelopeInvalid('the signing public key does not belong to its secret key');
    let at = CONTENT_KEY_BYTES;
    const wraps = recipients.map((recipient, index) => {
      const boxKey = sharedKey(fingerprint, keys.encryption.secretKey, recipient.publicKey);
      if (boxKey === null) throw envelopeInvalid(`recipient ${index} public key ${recipient.keyId} is not a usable X25519 key`);
      const wrapNonce = entropy.subarray(at, (at += NONCE_BYTES));
      return { keyId: recipientIds[index]!, wrapNonce, wrappedKey: nacl.box.after(contentKey, wrapNonce, boxKey) };
    });
    const header = encodeEnvelopeHeader({ signerKeyId: signer.keyId, senderKey: keys.encryption.publicKey, keyCommitment: keyCommitmentOf(contentKey), wraps });
    return { entropy, contentKey, valueNoncesAt: at, header, signingKey: signer.key };
  } catch (err) {
    contentKey.fill(0);
    throw err;
  }
}

/** sealRecords with its randomness injected; internal (test vectors), not exported from the package. */
export function sealRecordsWith(records: readonly RecordInput[], options: SealOptions, random: RandomSource): RecordInput[] {
  const { entropy, contentKey, valueNoncesAt, header, signingKey } = startSeal(records, options, random);
  try {
    let at = valueNoncesAt;
    const sealed = records.map((record, index): RecordInput => {
      const headers: readonly RecordHeader[] | undefined = index === 0 ? [{ name: ENVELOPE_HEADER, value: header }, ...(record.headers ?? [])] : record.headers;
      let value: Buffer | null = null;
      if (record.value !== null) {
        value = sealValue(record.value, entropy.subarray(at, (at += NONCE_BYTES)), contentKey);
      }
      return headers === undefined ? { ...record, value } : { ...record, value, headers };
    });
    writeSignature(header, signInput(signingKey, signingInput(options.topic, signedPart(header), sealed)));
    return sealed;
  } finally {
    contentKey.fill(0);
  }
}

/**
 * The envelope of a batch, parsed but not verified: null when the batch carries none (plaintext),
 * SEALBUS_ERR_ENVELOPE_INVALID when it is malformed (header misplaced or repeated, bad length or
 * version, recipient count outside 1..1024, repeated recipient ids, a value too short to be sealed).
 * Works on RecordInput[] and LogRecord[]; cheap: walks header names and value lengths.
 */
export function readEnvelope(records: readonly RecordInput[]): EnvelopeHeader | null {
  return parseEnvelope(records)?.header ?? null;
}

function requireEnvelope(records: readonly RecordInput[]): ParsedEnvelope {
  const parsed = parseEnvelope(records);
  if (parsed === null) throw envelopeInvalid(`the batch carries no ${ENVELOPE_HEADER} header (it is plaintext)`);
  return parsed;
}

function checkSignature(topic: string, records: readonly RecordInput[], parsed: ParsedEnvelope, signingPublicKey: Uint8Array): void {
  const verifier = verifierOf(signingPublicKey);
  const invalid = (reason: string) => new SealbusError('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', { reason });
  if (verifier === null) throw invalid('the signing public key is not a 32-byte Ed25519 key');
  if (verifier.keyId !== parsed.header.signerKeyId) {
    throw invalid(`the envelope names signer key ${parsed.header.signerKeyId}, not the key ${verifier.keyId} it was checked with`);
  }
  if (!verifyInput(verifier.key, signingInput(topic, parsed.signed, records), parsed.signature)) {
    throw invalid(`the signature of key ${parsed.header.signerKeyId} does not match the batch on topic ${topic}`);
  }
}

/**
 * Verifies a batch's signature for `topic` with the signer's Ed25519 public key (raw 32 bytes), which
 * must be the key the envelope names. Throws SEALBUS_ERR_ENVELOPE_INVALID (malformed or plaintext) or
 * SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID. Costs one SHA-256 pass over the batch and one Ed25519
 * verification; used by the broker once per batch.
 */
export function verifyEnvelope(topic: string, records: readonly RecordInput[], signingPublicKey: Uint8Array): EnvelopeHeader {
  const parsed = requireEnvelope(records);
  checkSignature(topic, records, parsed, signingPublicKey);
  return parsed.header;
}

function unwrapContentKey(parsed: ParsedEnvelope, keys: OpenOptions['keys']): Uint8Array {
  const pairs: readonly EncryptionKeyPair[] = [keys.encryption, ...keys.previousEncryption];
  const readerIds = pairs.map((pair) => keyIdOf('encryption', pair.publicKey));
  const failed = (reason: string) => new SealbusError('SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED', { reason });
  for (let index = 0; index < pairs.length; index++) {
    const wrap = parsed.wraps.find((candidate) => candidate.keyId === readerIds[index]);
    if (wrap === undefined) continue;
    const pair = pairs[index]!;
    const boxKey = sharedKey(fingerprintOf(pair.secretKey), pair.secretKey, parsed.header.senderKey);
    if (boxKey === null) throw failed('the sender key is not a usable X25519 key');
    const contentKey = nacl.box.open.after(wrap.wrappedKey, wrap.wrapNonce, boxKey);
    if (contentKey === null) throw failed(`the content key wrapped for key ${wrap.keyId} does not open`);
    if (!timingSafeEqual(keyCommitmentOf(contentKey), parsed.keyCommitment)) {
      contentKey.fill(0);
      throw failed(`the content key wrapped for key ${wrap.keyId} does not match the envelope's key commitment`);
    }
    return contentKey;
  }
  throw new SealbusError('SEALBUS_ERR_ENVELOPE_NO_KEY', { keyIds: readerIds.join(', ') });
}

/**
 * The per-batch part of opening, before any value: parses the envelope, verifies the signature and
 * unwraps the content key (zero it once the values are open). Throws as `openRecords` does.
 */
export function startOpen(records: readonly RecordInput[], options: OpenOptions): { readonly signerKeyId: string; readonly contentKey: Uint8Array } {
  const parsed = requireEnvelope(records);
  const signerKeyId = parsed.header.signerKeyId;
  const signingPublicKey = options.signingKey(signerKeyId);
  if (signingPublicKey === null) throw new SealbusError('SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER', { keyId: signerKeyId });
  checkSignature(options.topic, records, parsed, signingPublicKey);
  return { signerKeyId, contentKey: unwrapContentKey(parsed, options.keys) };
}

/**
 * Verifies a batch (signer known through `signingKey`, signature for `topic`), unwraps its content key
 * with whichever of the reader's keys it was sealed for, and decrypts every value. Returns records of
 * the same shape with plaintext values and without the envelope header. Throws, in this order of
 * checks: SEALBUS_ERR_ENVELOPE_INVALID, _UNKNOWN_SIGNER, _SIGNATURE_INVALID, _NO_KEY, _DECRYPT_FAILED.
 */
export function openRecords<R extends RecordInput>(records: readonly R[], options: OpenOptions): OpenedBatch<R> {
  const { signerKeyId, contentKey } = startOpen(records, options);
  try {
    const opened = records.map((record, index): R => {
      let value: Buffer | null = null;
      if (record.value !== null) {
        value = openValue(record.value, contentKey);
        if (value === null) throw new SealbusError('SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED', { reason: `record ${index} value does not decrypt` });
      }
      return index === 0 ? { ...record, value, headers: record.headers!.slice(1) } : { ...record, value };
    });
    return { records: opened, signerKeyId };
  } finally {
    contentKey.fill(0);
  }
}
