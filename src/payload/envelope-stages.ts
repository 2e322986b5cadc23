/**
 * Sealing and opening in stages, so that the per-value secretbox work can run elsewhere (the SDK's
 * worker threads) while the per-batch work stays with the caller. Sealing: `prepareSeal` checks,
 * draws the randomness, wraps the content key and encodes the records section with each value in
 * its slot; the values are sealed in place (`sealValuesInPlace`, envelope-values.js); `finish` signs.
 * Opening: `prepareOpen` verifies the signature, unwraps the content key and copies the sealed values
 * into one buffer; they are opened in place (`openValuesInPlace`); `finish` builds the records.
 *
 * The section is byte for byte `encodeRecords(sealRecordsWith(records, options, random))`, and opened
 * records are what `openRecords` returns: only where the work happens changes.
 */
import { randomBytes } from 'node:crypto';
import { SealbusError } from '../errors/index.js';
import { encodeRecordsWithRoom, type RecordInput } from '../log/record-batch.js';
import type { EncodedRecords } from '../log/types.js';
import { signInput, sectionSigningInput } from './envelope-crypto.js';
import { ENVELOPE_HEADER, NONCE_BYTES, SIGNATURE_BYTES, signedPart, writeSignature } from './envelope-format.js';
import { startOpen, startSeal, type OpenOptions, type OpenedBatch, type RandomSource, type SealOptions } from './envelope.js';
import { VALUE_ROOM, openValuesInPlace, sealValuesInPlace } from './envelope-values.js';

/** The per-value work of one batch: value slots in one buffer, and the key to seal or open them with. */
export interface ValueJob {
  /** Holds every value slot; owns its memory, so it can be transferred to a worker thread. */
  readonly bytes: Buffer;
  /** (start, length) of each value slot in `bytes`, in record order. */
  readonly slots: Int32Array;
  /** The batch's content key: whoever runs the job zeroes it (see `sealValues`, `openValues`). */
  readonly contentKey: Uint8Array;
}

export interface PreparedSeal {
  /** Slots hold their nonce at 0..24 and their plaintext from byte 40 on. */
  readonly job: ValueJob;
  /** Signs the sealed section (the job's bytes, or the copy a worker sent back) and returns it, ready to send. */
  finish(sealed: Buffer): EncodedRecords;
}

export interface PreparedOpen<R> {
  /** The batch's sealed values, copied; each slot is `nonce || secretbox`. */
  readonly job: ValueJob;
  /**
   * The opened records, their values viewing `opened` (the job's bytes once opened); `failed` is the
   * index of the first value that did not authenticate, or -1. Throws SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED.
   */
  finish(opened: Buffer, failed: number): OpenedBatch<R>;
}

/** Bytes of the envelope header's name in record 0 (after its u16 length). */
const HEADER_NAME_BYTES = Buffer.byteLength(ENVELOPE_HEADER, 'utf8');

/**
 * The first, per-batch stage of `sealRecords`. Throws SEALBUS_ERR_ENVELOPE_INVALID as it does; the
 * randomness is injected only for the documented test vectors.
 */
export function prepareSeal(records: readonly RecordInput[], options: SealOptions, random: RandomSource = randomBytes): PreparedSeal {
  const start = startSeal(records, options, random);
  const { header } = start;
  try {
    const inputs = records.slice();
    const first = records[0]!;
    inputs[0] = { ...first, headers: [{ name: ENVELOPE_HEADER, value: header }, ...(first.headers ?? [])] };
    const { records: section, valueSlots } = encodeRecordsWithRoom(inputs, VALUE_ROOM);
    for (let slot = 0, at = start.valueNoncesAt; slot < valueSlots.length; slot += 2, at += NONCE_BYTES) {
      section.bytes.set(start.entropy.subarray(at, at + NONCE_BYTES), valueSlots[slot]!);
    }
    // Record 0: u32 length, u8 attributes, key, value, u16 header count, then the envelope header.
    const valueField = 4 + (first.value === null ? 0 : VALUE_ROOM + first.value.length);
    const headerAt = 5 + 4 + (first.key?.length ?? 0) + valueField + 2 + 2 + HEADER_NAME_BYTES + 4;
    const signatureAt = headerAt + header.length - SIGNATURE_BYTES;
    return {
      job: { bytes: section.bytes, slots: valueSlots, contentKey: start.contentKey },
      finish(sealed: Buffer): EncodedRecords {
        const sealedSection = { count: section.count, bytes: sealed };
        const signature = signInput(start.signingKey, sectionSigningInput(options.topic, signedPart(header), sealedSection));
        writeSignature(header, signature);
        sealed.set(signature, signatureAt);
        return sealedSection;
      },
    };
  } catch (err) {
    start.contentKey.fill(0);
    throw err;
  }
}

/** Seals a prepared job's values in this thread, then zeroes its content key. */
export function sealValues(job: ValueJob): Buffer {
  try {
    sealValuesInPlace(job.bytes, job.slots, job.contentKey);
    return job.bytes;
  } finally {
    job.contentKey.fill(0);
  }
}

/** Opens a prepared job's values in this thread, then zeroes its content key; see `openValuesInPlace`. */
export function openValues(job: ValueJob): { readonly bytes: Buffer; readonly failed: number } {
  try {
    return { bytes: job.bytes, failed: openValuesInPlace(job.bytes, job.slots, job.contentKey) };
  } finally {
    job.contentKey.fill(0);
  }
}

/**
 * The first, per-batch stage of `openRecords`: verifies the batch and unwraps its content key. Throws,
 * as openRecords does, SEALBUS_ERR_ENVELOPE_INVALID, _UNKNOWN_SIGNER, _SIGNATURE_INVALID or _NO_KEY.
 */
export function prepareOpen<R extends RecordInput>(records: readonly R[], options: OpenOptions): PreparedOpen<R> {
  const { signerKeyId, contentKey } = startOpen(records, options);
  let bytes: Buffer;
  let slots: Int32Array;
  try {
    ({ bytes, slots } = copyValues(records));
  } catch (err) {
    contentKey.fill(0);
    throw err;
  }
  return {
    job: { bytes, slots, contentKey },
    finish(opened: Buffer, failed: number): OpenedBatch<R> {
      // The slots follow each other in record order: walk the records again (the job's slots may have gone to a worker).
      let at = 0;
      let slot = 0;
      const result = records.map((record, index): R => {
        let value: Buffer | null = null;
        if (record.value !== null) {
          if (slot++ === failed) throw new SealbusError('SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED', { reason: `record ${index} value does not decrypt` });
          value = opened.subarray(at + VALUE_ROOM, at + record.value.length);
          at += record.value.length;
        }
        return index === 0 ? { ...record, value, headers: record.headers!.slice(1) } : { ...record, value };
      });
      return { records: result, signerKeyId };
    },
  };
}

/** The non-null values of `records`, one after another in a buffer of their own, and their (start, length) slots. */
function copyValues(records: readonly RecordInput[]): { bytes: Buffer; slots: Int32Array } {
  let total = 0;
  let values = 0;
  for (const record of records) {
    if (record.value === null) continue;
    total += record.value.length;
    values++;
  }
  const bytes = Buffer.allocUnsafeSlow(total);
  const slots = new Int32Array(2 * values);
  for (let index = 0, slot = 0, at = 0; index < records.length; index++) {
    const value = records[index]!.value;
    if (value === null) continue;
    bytes.set(value, at);
    slots[slot++] = at;
    slots[slot++] = value.length;
    at += value.length;
  }
  return { bytes, slots };
}
