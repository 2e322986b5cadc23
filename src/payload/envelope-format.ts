/**
 * The binary envelope header of an encrypted batch, and how it sits in a batch (docs/envelope.md).
 * Little-endian, like the record batch format.
 *
 *   offset      size      field
 *   0           4         magic            "SBEV"
 *   4           1         version          1
 *   5           32        signerKeyId      SHA-256 key id of the producer's Ed25519 key (keyIdOf, raw)
 *   37          32        senderKey        the producer's X25519 public key
 *   69          32        keyCommitment    SHA-256("sealbus-content-key-v1\0" || contentKey)
 *   101         2         recipientCount   1..1024
 *   103         104 × n   recipients       keyId (32) | wrapNonce (24) | wrappedKey (48)
 *   103 + 104n  64        signature        Ed25519 over the signing input (envelope-crypto.ts)
 *
 * This file parses untrusted bytes only: nothing here needs a key.
 */
import type { RecordInput } from '../log/record-batch.js';
import { SealbusError } from '../errors/index.js';

export const ENVELOPE_HEADER = 'sealbus-envelope';
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_MAGIC: Buffer = Buffer.from('SBEV', 'latin1');
export const MAX_RECIPIENTS = 1024;

export const KEY_ID_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const CONTENT_KEY_BYTES = 32;
export const NONCE_BYTES = 24;
/** nacl.secretbox's Poly1305 tag. */
export const TAG_BYTES = 16;
export const WRAPPED_KEY_BYTES = CONTENT_KEY_BYTES + TAG_BYTES;
export const SIGNATURE_BYTES = 64;
export const COMMITMENT_BYTES = 32;
/** A sealed value: nonce || secretbox(plaintext); the smallest one seals an empty plaintext. */
export const SEALED_VALUE_OVERHEAD = NONCE_BYTES + TAG_BYTES;

const SIGNER_AT = 5;
const SENDER_AT = SIGNER_AT + KEY_ID_BYTES;
const COMMITMENT_AT = SENDER_AT + PUBLIC_KEY_BYTES;
const COUNT_AT = COMMITMENT_AT + COMMITMENT_BYTES;
const RECIPIENTS_AT = COUNT_AT + 2;
const RECIPIENT_BYTES = KEY_ID_BYTES + NONCE_BYTES + WRAPPED_KEY_BYTES;

/** Bytes of a header sealed for `recipients` recipients, signature included. */
export function envelopeHeaderBytes(recipients: number): number {
  return RECIPIENTS_AT + RECIPIENT_BYTES * recipients + SIGNATURE_BYTES;
}

const MIN_HEADER_BYTES = envelopeHeaderBytes(1);
const MAX_HEADER_BYTES = envelopeHeaderBytes(MAX_RECIPIENTS);

/** What a batch's envelope says, parsed but not verified. */
export interface EnvelopeHeader {
  readonly version: number;
  /** base64url, as keyIdOf('signing', ...) returns it. */
  readonly signerKeyId: string;
  /** The producer's X25519 public key that wrapped the content key. */
  readonly senderKey: Uint8Array;
  /** base64url encryption key ids, in the order of the wraps. */
  readonly recipientKeyIds: readonly string[];
}

export interface RecipientWrap {
  readonly keyId: string;
  readonly wrapNonce: Buffer;
  readonly wrappedKey: Buffer;
}

/** A parsed envelope with what opening and verifying need beyond the public header. */
export interface ParsedEnvelope {
  readonly header: EnvelopeHeader;
  /** The header bytes the signature covers: everything before it. */
  readonly signed: Buffer;
  readonly signature: Buffer;
  readonly keyCommitment: Buffer;
  readonly wraps: readonly RecipientWrap[];
}

/** The fields of a header to encode; the signature is written afterwards (see `signatureSlot`). */
export interface HeaderFields {
  readonly signerKeyId: Buffer;
  readonly senderKey: Uint8Array;
  readonly keyCommitment: Uint8Array;
  readonly wraps: readonly { readonly keyId: Buffer; readonly wrapNonce: Uint8Array; readonly wrappedKey: Uint8Array }[];
}

export function envelopeInvalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_ENVELOPE_INVALID', { reason });
}

/** Encodes a header with a zero signature; sign `signedPart(header)` and write it with `writeSignature`. */
export function encodeEnvelopeHeader(fields: HeaderFields): Buffer {
  const out = Buffer.alloc(envelopeHeaderBytes(fields.wraps.length));
  ENVELOPE_MAGIC.copy(out, 0);
  out[4] = ENVELOPE_VERSION;
  out.set(fields.signerKeyId, SIGNER_AT);
  out.set(fields.senderKey, SENDER_AT);
  out.set(fields.keyCommitment, COMMITMENT_AT);
  out.writeUInt16LE(fields.wraps.length, COUNT_AT);
  let at = RECIPIENTS_AT;
  for (const wrap of fields.wraps) {
    out.set(wrap.keyId, at);
    out.set(wrap.wrapNonce, at + KEY_ID_BYTES);
    out.set(wrap.wrappedKey, at + KEY_ID_BYTES + NONCE_BYTES);
    at += RECIPIENT_BYTES;
  }
  return out;
}

export function signedPart(header: Buffer): Buffer {
  return header.subarray(0, header.length - SIGNATURE_BYTES);
}

export function writeSignature(header: Buffer, signature: Uint8Array): void {
  header.set(signature, header.length - SIGNATURE_BYTES);
}

/**
 * Where the envelope header is, or null for a batch that has none. Only the first header of record 0
 * may carry it; a second one anywhere is refused so that no envelope can hide behind another.
 */
function findEnvelopeValue(records: readonly RecordInput[]): Buffer | null | undefined {
  let found: Buffer | null | undefined;
  for (let index = 0; index < records.length; index++) {
    const headers = records[index]!.headers;
    if (headers === undefined) continue;
    for (let position = 0; position < headers.length; position++) {
      const header = headers[position]!;
      if (header.name !== ENVELOPE_HEADER) continue;
      if (index !== 0 || position !== 0) {
        throw envelopeInvalid(`record ${index} header ${position} is named ${ENVELOPE_HEADER}; only the first header of record 0 may carry the envelope`);
      }
      found = header.value;
    }
  }
  return found;
}

function checkSealedValues(records: readonly RecordInput[]): void {
  for (let index = 0; index < records.length; index++) {
    const value = records[index]!.value;
    if (value !== null && value.length < SEALED_VALUE_OVERHEAD) {
      throw envelopeInvalid(`record ${index} value is ${value.length} bytes, shorter than a sealed value (${SEALED_VALUE_OVERHEAD})`);
    }
  }
}

/**
 * Parses a batch's envelope without verifying it: null when the batch carries none (plaintext),
 * SEALBUS_ERR_ENVELOPE_INVALID when it is malformed. Reads lengths before bytes; copies nothing.
 */
export function parseEnvelope(records: readonly RecordInput[]): ParsedEnvelope | null {
  const bytes = findEnvelopeValue(records);
  if (bytes === undefined) return null;
  if (bytes === null) throw envelopeInvalid(`the ${ENVELOPE_HEADER} header has no value`);
  if (bytes.length < MIN_HEADER_BYTES || bytes.length > MAX_HEADER_BYTES) {
    throw envelopeInvalid(`the envelope header is ${bytes.length} bytes, outside ${MIN_HEADER_BYTES}..${MAX_HEADER_BYTES}`);
  }
  if (!bytes.subarray(0, ENVELOPE_MAGIC.length).equals(ENVELOPE_MAGIC)) throw envelopeInvalid('the envelope header does not start with the magic SBEV');
  if (bytes[4] !== ENVELOPE_VERSION) throw envelopeInvalid(`envelope version ${bytes[4]} is not supported (only ${ENVELOPE_VERSION})`);
  const count = bytes.readUInt16LE(COUNT_AT);
  if (count < 1 || count > MAX_RECIPIENTS) throw envelopeInvalid(`the recipient count ${count} is outside 1..${MAX_RECIPIENTS}`);
  if (bytes.length !== envelopeHeaderBytes(count)) {
    throw envelopeInvalid(`the envelope header is ${bytes.length} bytes; ${count} recipients need ${envelopeHeaderBytes(count)}`);
  }
  checkSealedValues(records);
  const wraps: RecipientWrap[] = [];
  const seen = new Set<string>();
  for (let i = 0, at = RECIPIENTS_AT; i < count; i++, at += RECIPIENT_BYTES) {
    const keyId = bytes.toString('base64url', at, at + KEY_ID_BYTES);
    if (seen.has(keyId)) throw envelopeInvalid(`recipient ${i} repeats key id ${keyId}`);
    seen.add(keyId);
    const wrapAt = at + KEY_ID_BYTES;
    wraps.push({ keyId, wrapNonce: bytes.subarray(wrapAt, wrapAt + NONCE_BYTES), wrappedKey: bytes.subarray(wrapAt + NONCE_BYTES, at + RECIPIENT_BYTES) });
  }
  return {
    header: {
      version: bytes[4]!,
      signerKeyId: bytes.toString('base64url', SIGNER_AT, SIGNER_AT + KEY_ID_BYTES),
      senderKey: new Uint8Array(bytes.subarray(SENDER_AT, SENDER_AT + PUBLIC_KEY_BYTES)),
      recipientKeyIds: wraps.map((wrap) => wrap.keyId),
    },
    signed: signedPart(bytes),
    signature: bytes.subarray(bytes.length - SIGNATURE_BYTES),
    keyCommitment: bytes.subarray(COMMITMENT_AT, COMMITMENT_AT + COMMITMENT_BYTES),
    wraps,
  };
}
