/**
 * The records of the key directory's internal topic: one JSON entry per record, `{"v":1, ...entry}`,
 * validated on every read. A record a broker cannot trust entirely (an unknown version, a key id
 * that is not the hash of its key, a field out of bounds) is refused whole, never half applied.
 */
import { displayValue, isPrintableName } from '../auth/text.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';
import { keyIdOf, type KeyKind } from '../payload/keys.js';

/**
 * The internal topic of the key directory. The `__` prefix is reserved: the Broker refuses it to
 * clients, the store accepts it from the broker itself.
 */
export const KEYS_TOPIC = '__sealbus.keys';
/** Largest record value written or accepted back (groups dominate: 64 of at most 256 characters). */
export const KEY_RECORD_MAX_BYTES = 32 * 1024;
/** Groups kept with a registration: the subject the policy sees when it picks recipients. */
export const MAX_SUBJECT_GROUPS = 64;
export const MAX_REASON_LENGTH = 256;
const MAX_SPIFFE_ID_LENGTH = 2048;
const RECORD_VERSION = 1;
const KEY_ID = /^[A-Za-z0-9_-]{43}$/;
const PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;

/** A public key as the directory keeps it: its id (recomputed, never taken from a client) and base64url bytes. */
export interface PublicKeyRef {
  readonly keyId: string;
  readonly publicKey: string;
}

/**
 * Who registered, as the policy saw them then: the recipients of a topic are chosen by evaluating
 * the policy with this subject (there is no live session to ask when someone else produces).
 */
export interface RegisteredSubject {
  readonly groups: readonly string[];
  readonly spiffeId: string | null;
}

export interface RegisterEntry {
  readonly kind: 'register';
  readonly principal: string;
  readonly encryption: PublicKeyRef;
  readonly signing: PublicKeyRef;
  readonly registeredAt: number;
  readonly subject: RegisteredSubject;
}

export interface RevokeEntry {
  readonly kind: 'revoke';
  readonly keyId: string;
  /** The key's owner (not who revoked it: that is `by`). */
  readonly principal: string;
  readonly revokedAt: number;
  readonly by: string;
  readonly reason: string | null;
}

export type KeyDirectoryEntry = RegisterEntry | RevokeEntry;

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_KEY_REGISTRATION_INVALID', { reason }, { details: { reason } });
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function onlyFields(record: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const field of Object.keys(record)) if (!allowed.includes(field)) throw invalid(`${what} has an unknown field ${displayValue(field)}`);
}

function name(value: unknown, what: string, max = 256): string {
  if (typeof value !== 'string' || !isPrintableName(value, max)) throw invalid(`${what} must be printable text of at most ${max} characters`);
  return value;
}

function time(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${what} must be a time in milliseconds since the epoch`);
  return value;
}

/**
 * Decodes a 32-byte public key given as base64url; only the canonical spelling is accepted, so
 * that one key has one text (and one id) everywhere.
 */
export function decodePublicKey(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !PUBLIC_KEY.test(value)) throw invalid(`${what} must be a 32-byte key in base64url (43 characters)`);
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length !== 32 || bytes.toString('base64url') !== value) throw invalid(`${what} is not canonical base64url of 32 bytes`);
  return new Uint8Array(bytes);
}

export function isKeyId(value: unknown): value is string {
  return typeof value === 'string' && KEY_ID.test(value);
}

function keyRef(value: unknown, kind: KeyKind): PublicKeyRef {
  const record = object(value, kind);
  onlyFields(record, ['keyId', 'publicKey'], kind);
  const bytes = decodePublicKey(record['publicKey'], `${kind}.publicKey`);
  const keyId = keyIdOf(kind, bytes);
  if (record['keyId'] !== keyId) throw invalid(`${kind}.keyId is not the id of ${kind}.publicKey`);
  return { keyId, publicKey: record['publicKey'] as string };
}

/** The subject of a registration, bounded; throws SEALBUS_ERR_KEY_REGISTRATION_INVALID. */
export function validateSubject(value: unknown): RegisteredSubject {
  const record = object(value, 'subject');
  onlyFields(record, ['groups', 'spiffeId'], 'subject');
  const groups = record['groups'];
  if (!Array.isArray(groups) || groups.length > MAX_SUBJECT_GROUPS) throw invalid(`subject.groups must be a list of at most ${MAX_SUBJECT_GROUPS} groups`);
  const spiffeId = record['spiffeId'];
  return {
    groups: groups.map((group) => name(group, 'subject.groups[]')),
    spiffeId: spiffeId === null ? null : name(spiffeId, 'subject.spiffeId', MAX_SPIFFE_ID_LENGTH),
  };
}

/** Validates an entry (from a record, or before writing one); throws SEALBUS_ERR_KEY_REGISTRATION_INVALID. */
export function validateKeyEntry(value: unknown): KeyDirectoryEntry {
  const record = object(value, 'the entry');
  if (record['kind'] === 'register') {
    onlyFields(record, ['kind', 'principal', 'encryption', 'signing', 'registeredAt', 'subject'], 'a register entry');
    return {
      kind: 'register',
      principal: name(record['principal'], 'principal'),
      encryption: keyRef(record['encryption'], 'encryption'),
      signing: keyRef(record['signing'], 'signing'),
      registeredAt: time(record['registeredAt'], 'registeredAt'),
      subject: validateSubject(record['subject']),
    };
  }
  if (record['kind'] === 'revoke') {
    onlyFields(record, ['kind', 'keyId', 'principal', 'revokedAt', 'by', 'reason'], 'a revoke entry');
    if (!isKeyId(record['keyId'])) throw invalid('keyId must be a key id (43 base64url characters)');
    const reason = record['reason'];
    return {
      kind: 'revoke',
      keyId: record['keyId'],
      principal: name(record['principal'], 'principal'),
      revokedAt: time(record['revokedAt'], 'revokedAt'),
      by: name(record['by'], 'by'),
      reason: reason === null ? null : name(reason, 'reason', MAX_REASON_LENGTH),
    };
  }
  throw invalid(`kind ${displayValue(record['kind'] ?? null)} is neither register nor revoke`);
}

/** Encodes an entry as the record value `{"v":1, ...entry}`. */
export function encodeKeyEntry(entry: KeyDirectoryEntry): Buffer {
  const value = Buffer.from(JSON.stringify({ v: RECORD_VERSION, ...entry }), 'utf8');
  if (value.length > KEY_RECORD_MAX_BYTES) throw invalid(`the entry encodes to more than ${KEY_RECORD_MAX_BYTES} bytes`);
  return value;
}

/** Decodes a record value; throws SEALBUS_ERR_KEY_REGISTRATION_INVALID saying what is wrong. */
export function decodeKeyEntry(value: Buffer | null): KeyDirectoryEntry {
  if (value === null) throw invalid('the record has no value');
  if (value.length > KEY_RECORD_MAX_BYTES) throw invalid(`the record value exceeds ${KEY_RECORD_MAX_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = parseJson(value, 'key directory record');
  } catch (err) {
    throw invalid(`the record value ${jsonLimitReason(err) ?? 'is not JSON'}`);
  }
  const { v, ...entry } = object(parsed, 'the record value');
  if (v !== RECORD_VERSION) throw invalid(`the record version ${displayValue(v ?? null)} is not ${RECORD_VERSION}`);
  return validateKeyEntry(entry);
}

/** The error reported for a record that is skipped. */
export function malformedKeyRecord(offset: number, err: unknown): SealbusError {
  const why = isSealbusError(err) ? err.message : String(err);
  const reason = `key directory record ${offset} of ${KEYS_TOPIC} is skipped: ${why}`;
  return new SealbusError('SEALBUS_ERR_KEY_REGISTRATION_INVALID', { reason }, { details: { reason, topic: KEYS_TOPIC, offset }, cause: err });
}
