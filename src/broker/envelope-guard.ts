/**
 * The broker's check of end-to-end envelopes, once per batch, before anything is stored: on a
 * topic with `encryption: required` plaintext is refused; wherever a batch carries an envelope,
 * the envelope must be well-formed, signed by an active signing key of the authenticated principal
 * (nobody signs as another), bound to this topic, and sealed for exactly the topic's current
 * recipients (so a recipient removed from the policy gets no key to new batches). The broker never
 * decrypts anything: it holds no private key of anyone.
 */
import { SealbusError } from '../errors/index.js';
import { decodeRecordSection, type LogRecord } from '../log/record-batch.js';
import { RecordSpans } from '../log/record-spans.js';
import type { EncodedRecords } from '../log/types.js';
import { ENVELOPE_HEADER, readEnvelope, verifyEnvelope } from '../payload/index.js';
import type { Actor } from './access.js';
import type { TopicEncryption } from './topic-encryption.js';

/** What the guard needs from the key directory. */
export interface EnvelopeKeys {
  signingKey(keyId: string): { readonly principal: string; readonly publicKey: Uint8Array; readonly status: 'active' | 'retired' | 'revoked' } | null;
  /** The encryption key ids a batch for `topic` must be sealed to, now. */
  recipientKeyIds(topic: string, explicit: readonly string[] | null): ReadonlySet<string>;
}

const HEADER_NAME = Buffer.from(ENVELOPE_HEADER, 'utf8');

/**
 * Whether any record of a section has an envelope header (with a value or without): a walk over the
 * records' headers in place, so a plaintext batch costs no decoding and no search through its
 * values. Yes leads to the full check, which also refuses an envelope header out of place (a batch
 * consumers would refuse must not be stored). The section may not be validated yet: one that
 * cannot be walked answers yes, and the full check validates it first and refuses it.
 */
function mayCarryEnvelope(records: EncodedRecords): boolean {
  try {
    const spans = new RecordSpans(records);
    while (spans.next()) if (spans.header(HEADER_NAME) !== -1) return true;
    return false;
  } catch {
    return true;
  }
}

export class EnvelopeGuard {
  readonly #keys: EnvelopeKeys;

  constructor(keys: EnvelopeKeys) {
    this.#keys = keys;
  }

  /** Cheap: whether the batch presents itself as an envelope (for the policy's `encrypted` condition). */
  claimsEnvelope(records: EncodedRecords): boolean {
    return mayCarryEnvelope(records);
  }

  /**
   * Checks a validated records section bound for `topic`. Throws SEALBUS_ERR_ENVELOPE_REQUIRED,
   * _INVALID, _UNKNOWN_SIGNER, _SIGNER_MISMATCH, _SIGNATURE_INVALID or _RECIPIENTS_STALE.
   * Returns whether the batch is an envelope.
   */
  check(actor: Actor, topic: string, records: EncodedRecords, settings: TopicEncryption): boolean {
    if (!mayCarryEnvelope(records)) {
      if (settings.mode === 'required') throw new SealbusError('SEALBUS_ERR_ENVELOPE_REQUIRED', { topic });
      return false;
    }
    const decoded: LogRecord[] = decodeRecordSection(records);
    const header = readEnvelope(decoded);
    if (header === null) {
      if (settings.mode === 'required') throw new SealbusError('SEALBUS_ERR_ENVELOPE_REQUIRED', { topic });
      return false;
    }
    const signer = this.#keys.signingKey(header.signerKeyId);
    if (signer === null) throw new SealbusError('SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER', { keyId: header.signerKeyId });
    if (signer.principal !== actor.name || signer.status !== 'active') {
      throw new SealbusError('SEALBUS_ERR_ENVELOPE_SIGNER_MISMATCH', { keyId: header.signerKeyId, principal: actor.name });
    }
    verifyEnvelope(topic, decoded, signer.publicKey);
    const expected = this.#keys.recipientKeyIds(topic, settings.recipients);
    const sealed = new Set(header.recipientKeyIds);
    let stale = 0;
    for (const keyId of sealed) if (!expected.has(keyId)) stale++;
    let missing = 0;
    for (const keyId of expected) if (!sealed.has(keyId)) missing++;
    if (stale > 0 || missing > 0) {
      const reason = [stale > 0 && `${stale} sealed recipient keys are no longer current`, missing > 0 && `${missing} current recipient keys are missing`].filter(Boolean).join(', ');
      throw new SealbusError('SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE', { topic, reason }, { details: { stale, missing } });
    }
    return true;
  }
}
