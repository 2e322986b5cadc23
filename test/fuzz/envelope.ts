/**
 * The envelope of encrypted batches (src/payload): parsed by the broker and the SDK from records a
 * producer chose (parseEnvelope), verified by the broker (verifyEnvelope), verified and opened by
 * consumers (openRecords, and prepareOpen + openValues as the SDK's workers do). Two attackers: one
 * who changes a sealed batch's bytes, and a hostile producer who builds a malformed batch and signs
 * it correctly, so that every check after the signature is reached.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { ErrorCode } from '../../src/errors/index.js';
import { DEFAULT_RECORD_LIMITS, decodeRecordSection, encodeRecords, validateRecords, type RecordInput } from '../../src/log/record-batch.js';
import { signInput, signerOf, signingInput } from '../../src/payload/envelope-crypto.js';
import { ENVELOPE_HEADER, MAX_RECIPIENTS, SEALED_VALUE_OVERHEAD, parseEnvelope, signedPart, writeSignature } from '../../src/payload/envelope-format.js';
import { openRecords, sealRecordsWith, verifyEnvelope } from '../../src/payload/envelope.js';
import { openValues, prepareOpen } from '../../src/payload/envelope-stages.js';
import { keyIdOf, type ClientKeys } from '../../src/payload/keys.js';
import { EnvelopeGuard } from '../../src/broker/envelope-guard.js';
import { directoryOf, keysFromSeeds, recipientOf } from '../payload/helpers.js';
import { ensure, ensureBounded, outcomeOf, timed, type FuzzTarget, type Outcome } from './contract.js';
import { byteMutations, mutateBytes, randomBytes } from './mutate-bytes.js';
import { recordInputs } from './records.js';

const TOPIC = 'orders';
const seed = (byte: number) => new Uint8Array(32).fill(byte);
const producer = keysFromSeeds(seed(1), seed(2));
const alice = keysFromSeeds(seed(3), seed(4));
const bob = keysFromSeeds(seed(5), seed(6));
const eve = keysFromSeeds(seed(7), seed(8));
const signingKey = directoryOf(producer);

const OPEN_CODES: readonly ErrorCode[] = [
  'SEALBUS_ERR_ENVELOPE_INVALID',
  'SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER',
  'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID',
  'SEALBUS_ERR_ENVELOPE_NO_KEY',
  'SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED',
];
const VERIFY_CODES: readonly ErrorCode[] = ['SEALBUS_ERR_ENVELOPE_INVALID', 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID'];
const GUARD_CODES: readonly ErrorCode[] = [
  'SEALBUS_ERR_ENVELOPE_REQUIRED',
  'SEALBUS_ERR_ENVELOPE_INVALID',
  'SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER',
  'SEALBUS_ERR_ENVELOPE_SIGNER_MISMATCH',
  'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID',
  'SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE',
];

/**
 * The broker's check (src/broker/envelope-guard.ts) of a batch from the producer on an encrypted
 * topic whose recipients are `recipients`; what it accepts verifies, and is sealed for exactly them.
 */
function checkAtBroker(records: readonly RecordInput[], recipients: readonly ClientKeys[]): void {
  const section = encodeRecords(records);
  try {
    validateRecords(section, DEFAULT_RECORD_LIMITS);
  } catch {
    return; // the log layer refuses it first
  }
  const producerKeyId = keyIdOf('signing', producer.signing.publicKey);
  const guard = new EnvelopeGuard({
    signingKey: (keyId) => (keyId === producerKeyId ? { principal: 'producer', publicKey: producer.signing.publicKey, status: 'active' } : null),
    recipientKeyIds: () => new Set(recipients.map(keyOf)),
  });
  const checked = outcomeOf('EnvelopeGuard.check', GUARD_CODES, () => guard.check({ name: 'producer' }, TOPIC, section, { mode: 'required', recipients: null }));
  if (!checked.ok) return;
  ensure(checked.value, 'the guard let a batch through as plaintext on an encrypted topic');
  const decoded = decodeRecordSection(section);
  ensure(outcomeOf('verifyEnvelope', VERIFY_CODES, () => verifyEnvelope(TOPIC, decoded, producer.signing.publicKey)).ok, 'the broker stored a batch that does not verify');
  const sealedFor = new Set(parseEnvelope(decoded)!.header.recipientKeyIds);
  ensure(sealedFor.size === recipients.length && recipients.every((keys) => sealedFor.has(keyOf(keys))), 'the broker stored a batch sealed for other recipients');
}

/** Deterministic randomness for sealing, so that a failing case replays from its fast-check seed. */
function randomFrom(seedValue: number): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => {
    const out = Buffer.alloc(length);
    for (let at = 0; at < length; at += 32) {
      createHash('sha256').update(`${seedValue}/${counter++}`).digest().copy(out, at);
    }
    return out;
  };
}

interface Sealed {
  readonly plain: readonly RecordInput[];
  readonly sealed: RecordInput[];
  readonly recipients: readonly ClientKeys[];
}

/** A batch sealed for alice (and sometimes bob), records without any envelope header of their own. */
const sealedBatch: fc.Arbitrary<Sealed> = fc
  .tuple(recordInputs(4), fc.boolean(), fc.integer())
  .map(([records, both, randomness]) => {
    const plain = records.map((record) => ({ ...record, headers: (record.headers ?? []).filter((header) => header.name !== ENVELOPE_HEADER) }));
    const recipients = both ? [alice, bob] : [alice];
    return { plain, recipients, sealed: sealRecordsWith(plain, { topic: TOPIC, recipients: recipients.map(recipientOf), keys: producer }, randomFrom(randomness)) };
  });

function envelopeOf(records: readonly RecordInput[]): Buffer | null {
  const header = records[0]?.headers?.[0];
  return header?.name === ENVELOPE_HEADER && header.value !== null ? header.value : null;
}

/** What holds of every parsed envelope (src/payload/envelope-format.ts's layout). */
function checkParsed(records: readonly RecordInput[]): void {
  const parsed = outcomeOf('parseEnvelope', ['SEALBUS_ERR_ENVELOPE_INVALID'], () => parseEnvelope(records));
  if (!parsed.ok) return;
  const named = records.some((record) => (record.headers ?? []).some((header) => header.name === ENVELOPE_HEADER));
  ensure((parsed.value === null) === !named, 'parseEnvelope returned null for a batch with an envelope header, or a header for one without');
  if (parsed.value === null) return;
  const { header, wraps, signed, signature } = parsed.value;
  const bytes = envelopeOf(records);
  ensure(bytes !== null, 'an envelope was parsed from another place than record 0\'s first header');
  ensure(header.version === 1 && signature.length === 64 && signed.length + 64 === bytes.length, 'the parsed envelope does not add up to its bytes');
  ensure(wraps.length >= 1 && wraps.length <= MAX_RECIPIENTS && new Set(header.recipientKeyIds).size === wraps.length, 'recipients out of range or repeated');
  ensure(records.every((record) => record.value === null || record.value.length >= SEALED_VALUE_OVERHEAD), 'a value too short to be sealed passed');
  ensureBounded(parsed.value, bytes.length, 4);
}

const keyOf = (keys: ClientKeys) => keyIdOf('encryption', keys.encryption.publicKey);

/** Opens with both paths the SDK has (openRecords, and the staged prepareOpen + openValues) and checks they agree. */
function openBoth(records: readonly RecordInput[], keys: ClientKeys): Outcome<readonly RecordInput[]> {
  const options = { topic: TOPIC, keys, signingKey };
  const direct = outcomeOf('openRecords', OPEN_CODES, () => openRecords(records, options).records);
  const staged = outcomeOf('prepareOpen + openValues', OPEN_CODES, () => {
    const prepared = prepareOpen(records, options);
    const opened = openValues(prepared.job);
    return prepared.finish(opened.bytes, opened.failed).records;
  });
  ensure(direct.ok === staged.ok && (direct.ok || staged.ok || direct.error.code === staged.error.code), () => `openRecords and the staged open disagree: ${direct.ok ? 'ok' : direct.error.code} / ${staged.ok ? 'ok' : staged.error.code}`);
  if (direct.ok && staged.ok) {
    ensure(direct.value.every((record, index) => String(record.value?.toString('hex')) === String(staged.value[index]?.value?.toString('hex'))), 'the two opens give different values');
  }
  return direct;
}

const values = (records: readonly RecordInput[]) => records.map((record) => (record.value === null ? 'null' : record.value.toString('hex')));

/** Bytes of a sealed batch changed, validated by the broker's log layer first; nothing changed verifies. */
function checkTampered(original: Sealed, section: { count: number; bytes: Buffer }): void {
  try {
    validateRecords(section, DEFAULT_RECORD_LIMITS);
  } catch {
    return; // refused before the envelope (records/section checks the codes)
  }
  const records = decodeRecordSection(section);
  checkParsed(records);
  checkAtBroker(records, original.recipients);
  const signature = (batch: readonly RecordInput[]) => {
    const bytes = envelopeOf(batch);
    return bytes === null ? null : Buffer.concat([signingInput(TOPIC, signedPart(bytes), batch), bytes.subarray(bytes.length - 64)]);
  };
  const verified = outcomeOf('verifyEnvelope', VERIFY_CODES, () => verifyEnvelope(TOPIC, records, producer.signing.publicKey));
  // Ed25519 is strongly unforgeable: what verifies is what was signed, byte for byte.
  if (verified.ok) ensure(signature(records)!.equals(signature(original.sealed)!), 'a changed batch verified');
  for (const reader of [alice, eve]) {
    const opened = openBoth(records, reader);
    if (opened.ok) {
      ensure(reader === alice && verified.ok, 'a batch opened that does not verify, or for a reader it was not sealed for');
      ensure(values(opened.value).join() === values(original.plain).join(), 'an opened batch gives other values than were sealed');
    }
  }
  const elsewhere = outcomeOf('verifyEnvelope (another topic)', VERIFY_CODES, () => verifyEnvelope('other', records, producer.signing.publicKey));
  ensure(!elsewhere.ok, 'a batch sealed for one topic verified for another');
}

export const envelopeParseTarget: FuzzTarget = {
  name: 'envelope/parse',
  covers: 'parseEnvelope / readEnvelope (src/payload/envelope-format.ts) on records a producer chose',
  weight: 60,
  quickRuns: 800,
  async build() {
    const envelopeValue = fc.oneof(
      randomBytes(300),
      fc.constant(null),
      fc.tuple(sealedBatch, byteMutations(3)).map(([{ sealed }, steps]) => mutateBytes(envelopeOf(sealed)!, steps)),
      fc.tuple(sealedBatch, fc.integer({ min: 0, max: 0xffff })).map(([{ sealed }, count]) => {
        const bytes = Buffer.from(envelopeOf(sealed)!);
        bytes.writeUInt16LE(count, 101);
        return bytes;
      }),
    );
    const placed = fc
      .tuple(recordInputs(4), envelopeValue, fc.nat(), fc.nat(), fc.boolean(), fc.constantFrom(0, 0, 1, 8, 39, 40, 41))
      .map(([records, value, recordAt, headerAt, twice, shortValue]) => {
        const copy = records.map((record) => ({ ...record, headers: [...(record.headers ?? [])] }));
        const put = (index: number, position: number) => copy[index % copy.length]!.headers.splice(position % (copy[index % copy.length]!.headers.length + 1), 0, { name: ENVELOPE_HEADER, value });
        put(recordAt % 4 === 0 ? 0 : recordAt, recordAt % 4 === 0 ? 0 : headerAt);
        if (twice) put(headerAt, recordAt);
        if (shortValue > 0) copy[0]!.value = Buffer.alloc(shortValue);
        return copy;
      });
    return {
      property: fc.property(fc.oneof(placed, sealedBatch.map((batch) => batch.sealed)), (records) => {
        timed('envelope parse', () => checkParsed(records));
      }),
    };
  },
};

export const envelopeTamperTarget: FuzzTarget = {
  name: 'envelope/tampered',
  covers: 'EnvelopeGuard.check (src/broker/envelope-guard.ts), verifyEnvelope, openRecords, prepareOpen + openValues (src/payload) on changed bytes of sealed batches',
  weight: 40,
  quickRuns: 400,
  async build() {
    // One case in twenty changes nothing: the control, which must verify and open.
    const changes = fc.oneof({ weight: 19, arbitrary: byteMutations(3) }, { weight: 1, arbitrary: fc.constant([]) });
    return {
      property: fc.property(sealedBatch, changes, fc.constantFrom(0, 0, 0, 1, -1), (batch, steps, countDelta) => {
        const encoded = encodeRecords(batch.sealed);
        const section = { count: Math.max(1, encoded.count + (steps.length === 0 ? 0 : countDelta)), bytes: mutateBytes(encoded.bytes, steps) };
        timed('tampered envelope', () => checkTampered(batch, section));
      }),
    };
  },
};

/** How a hostile producer reshapes a sealed batch before signing it again. */
type Reshape =
  | { readonly kind: 'drop' | 'duplicate'; readonly at: number }
  | { readonly kind: 'swap'; readonly at: number; readonly other: number }
  | { readonly kind: 'header-bytes'; readonly steps: Parameters<typeof mutateBytes>[1] }
  | { readonly kind: 'value-bytes'; readonly at: number; readonly steps: Parameters<typeof mutateBytes>[1] }
  | { readonly kind: 'sender-key'; readonly key: 'zero' | 'one' | 'eve' }
  | { readonly kind: 'swap-wraps' | 'repeat-wrap' };

const reshape: fc.Arbitrary<Reshape> = fc.oneof(
  fc.record({ kind: fc.constantFrom('drop' as const, 'duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('header-bytes' as const), steps: byteMutations(2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('value-bytes' as const), at: fc.nat(), steps: byteMutations(2) }) },
  fc.record({ kind: fc.constant('sender-key' as const), key: fc.constantFrom('zero' as const, 'one' as const, 'eve' as const) }),
  fc.record({ kind: fc.constantFrom('swap-wraps' as const, 'repeat-wrap' as const) }),
);

const WRAP_AT = 103;
const WRAP_BYTES = 104;

function applyReshape(sealed: readonly RecordInput[], change: Reshape): RecordInput[] {
  const records = sealed.map((record) => ({ ...record, headers: (record.headers ?? []).map((header) => ({ ...header })) }));
  const at = (n: number) => n % records.length;
  // After a record was dropped or moved, record 0 may carry no envelope to change: those changes are skipped.
  const first = records[0]!.headers[0];
  const envelope = first?.name === ENVELOPE_HEADER && first.value !== null ? first : null;
  const headerChange = change.kind === 'header-bytes' || change.kind === 'sender-key' || change.kind === 'swap-wraps' || change.kind === 'repeat-wrap';
  if (headerChange && envelope === null) return records;
  switch (change.kind) {
    case 'drop':
      if (records.length > 1) records.splice(at(change.at), 1);
      break;
    case 'duplicate':
      records.splice(at(change.at), 0, { ...records[at(change.at)]!, headers: [...records[at(change.at)]!.headers] });
      break;
    case 'swap': {
      const [a, b] = [at(change.at), at(change.other)];
      [records[a], records[b]] = [records[b]!, records[a]!];
      break;
    }
    case 'header-bytes':
      envelope!.value = mutateBytes(envelope!.value!, change.steps);
      break;
    case 'value-bytes': {
      const record = records[at(change.at)]!;
      if (record.value !== null) records[at(change.at)] = { ...record, value: mutateBytes(record.value, change.steps) };
      break;
    }
    case 'sender-key': {
      const value = Buffer.from(envelope!.value!);
      if (value.length < 69) break;
      const key = change.key === 'zero' ? new Uint8Array(32) : change.key === 'one' ? Uint8Array.from([1, ...new Uint8Array(31)]) : eve.encryption.publicKey;
      value.set(key, 37);
      envelope!.value = value;
      break;
    }
    case 'swap-wraps':
    case 'repeat-wrap': {
      const value = Buffer.from(envelope!.value!);
      if (value.length < WRAP_AT + 2 * WRAP_BYTES || value.readUInt16LE(101) < 2) break;
      const first = Buffer.from(value.subarray(WRAP_AT, WRAP_AT + WRAP_BYTES));
      const second = Buffer.from(value.subarray(WRAP_AT + WRAP_BYTES, WRAP_AT + 2 * WRAP_BYTES));
      // Swapping only the wrapped keys gives each recipient the other's wrap under its own key id.
      if (change.kind === 'swap-wraps') {
        value.set(second.subarray(32), WRAP_AT + 32);
        value.set(first.subarray(32), WRAP_AT + WRAP_BYTES + 32);
      } else {
        value.set(first, WRAP_AT + WRAP_BYTES);
      }
      envelope!.value = value;
      break;
    }
  }
  return records;
}

/** Signs a reshaped batch as its producer would (when it still has an envelope slot to sign into). */
function resign(records: RecordInput[]): void {
  const header = records[0]?.headers?.[0];
  if (header?.name !== ENVELOPE_HEADER || header.value === null || header.value.length < 64) return;
  const signer = signerOf(producer.signing)!;
  writeSignature(header.value, signInput(signer.key, signingInput(TOPIC, signedPart(header.value), records)));
}

export const envelopeResignedTarget: FuzzTarget = {
  name: 'envelope/hostile-producer',
  covers: 'EnvelopeGuard.check, verifyEnvelope, openRecords (src/broker, src/payload) on malformed batches signed with the producer\'s key',
  weight: 25,
  quickRuns: 300,
  async build() {
    return {
      property: fc.property(sealedBatch, fc.array(reshape, { minLength: 1, maxLength: 3 }), (batch, changes) => {
        const records = changes.reduce<RecordInput[]>((current, change) => applyReshape(current, change), batch.sealed);
        resign(records);
        timed('hostile producer', () => {
          checkParsed(records);
          checkAtBroker(records, batch.recipients);
          outcomeOf('verifyEnvelope', VERIFY_CODES, () => verifyEnvelope(TOPIC, records, producer.signing.publicKey));
          const plaintexts = new Set(values(batch.plain));
          for (const reader of [alice, bob, eve]) {
            const opened = openBoth(records, reader);
            if (!opened.ok) {
              if (opened.error.code === 'SEALBUS_ERR_ENVELOPE_NO_KEY') ensure(!(parseEnvelope(records)?.header.recipientKeyIds ?? []).includes(keyOf(reader)), 'NO_KEY for a batch sealed for the reader');
              continue;
            }
            // A reshaped batch may open (records dropped or reordered, and signed again), but only to values that were sealed.
            ensure(values(opened.value).every((value) => plaintexts.has(value)), 'a hostile batch opened to a value that was never sealed');
          }
        });
      }),
    };
  },
};
