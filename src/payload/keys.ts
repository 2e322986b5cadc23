/**
 * A client's end-to-end keys: an X25519 key pair that others seal content keys to (tweetnacl
 * `box` format, 32-byte keys) and an Ed25519 key pair that signs what it produces (tweetnacl `sign`
 * format: a 64-byte secret key, seed then public key). Key ids name public keys in envelopes and in
 * the broker's key directory. The secret keys stay with the client: in a key file (mode 0600) or
 * behind a callback; the broker only ever sees public keys.
 */
import { createHash, createPrivateKey, sign as signBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import nacl from 'tweetnacl';
import { assertPrivateFile, PRIVATE_MODE, writeNewFile } from '../auth/private-files.js';
import { SealbusError } from '../errors/index.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';

export type KeyKind = 'encryption' | 'signing';

export interface EncryptionKeyPair {
  /** X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** X25519 secret key, 32 bytes. */
  readonly secretKey: Uint8Array;
}

export interface SigningKeyPair {
  /** Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** Ed25519 secret key in tweetnacl's form, 64 bytes: the 32-byte seed, then the public key. */
  readonly secretKey: Uint8Array;
}

export interface ClientKeys {
  readonly encryption: EncryptionKeyPair;
  readonly signing: SigningKeyPair;
  /** Encryption keys replaced by a rotation, kept to open what was sealed to them. */
  readonly previousEncryption: readonly EncryptionKeyPair[];
}

/** The public half, as registered with the broker. */
export interface PublicClientKeys {
  readonly encryption: { readonly keyId: string; readonly publicKey: string };
  readonly signing: { readonly keyId: string; readonly publicKey: string };
}

const KEY_FILE_VERSION = 1;
const MAX_KEY_FILE_BYTES = 64 * 1024;
const MAX_PREVIOUS_KEYS = 64;
/** PKCS#8 DER prefix of an Ed25519 private key: what node:crypto needs around a 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The id of a public key: base64url SHA-256 over a domain tag and the key (43 characters). The tag
 * keeps an encryption key and a signing key with the same bytes from sharing an id.
 */
export function keyIdOf(kind: KeyKind, publicKey: Uint8Array): string {
  return createHash('sha256').update(`sealbus-${kind}-key-v1\0`).update(publicKey).digest('base64url');
}

export function generateClientKeys(): ClientKeys {
  const box = nacl.box.keyPair();
  const signing = nacl.sign.keyPair();
  return { encryption: { publicKey: box.publicKey, secretKey: box.secretKey }, signing: { publicKey: signing.publicKey, secretKey: signing.secretKey }, previousEncryption: [] };
}

/** A new encryption key; the current one moves to `previousEncryption` so older batches still open. */
export function rotateEncryptionKey(keys: ClientKeys): ClientKeys {
  const box = nacl.box.keyPair();
  const previous = [keys.encryption, ...keys.previousEncryption].slice(0, MAX_PREVIOUS_KEYS);
  return { ...keys, encryption: { publicKey: box.publicKey, secretKey: box.secretKey }, previousEncryption: previous };
}

export function publicKeysOf(keys: ClientKeys): PublicClientKeys {
  return {
    encryption: { keyId: keyIdOf('encryption', keys.encryption.publicKey), publicKey: Buffer.from(keys.encryption.publicKey).toString('base64url') },
    signing: { keyId: keyIdOf('signing', keys.signing.publicKey), publicKey: Buffer.from(keys.signing.publicKey).toString('base64url') },
  };
}

/** The signing key as a node:crypto KeyObject (node signs about 160 times faster than tweetnacl). */
export function signingKeyObject(pair: SigningKeyPair) {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(pair.secretKey.subarray(0, 32))]), format: 'der', type: 'pkcs8' });
}

/** The statement a registration signs: who registers which keys, and when. */
export function registrationStatement(principal: string, keys: PublicClientKeys, time: number): Buffer {
  return Buffer.from(
    `sealbus-key-registration-v1\0${JSON.stringify({ principal, encryptionKey: keys.encryption.publicKey, signingKey: keys.signing.publicKey, time })}`,
    'utf8',
  );
}

/** Proof that the registrant holds the signing key: its Ed25519 signature over the statement (base64url). */
export function registrationProof(principal: string, keys: ClientKeys, time: number): string {
  return signBytes(null, registrationStatement(principal, publicKeysOf(keys), time), signingKeyObject(keys.signing)).toString('base64url');
}

function fileInvalid(file: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_KEY_FILE_INVALID', { file, reason });
}

function encodePair(pair: EncryptionKeyPair | SigningKeyPair): { publicKey: string; secretKey: string } {
  return { publicKey: Buffer.from(pair.publicKey).toString('base64url'), secretKey: Buffer.from(pair.secretKey).toString('base64url') };
}

/** The key file: JSON with base64url keys. Holds secret keys: write it mode 0600 (writeKeyFile). */
export function encodeKeyFile(keys: ClientKeys, principal?: string): string {
  return `${JSON.stringify(
    {
      v: KEY_FILE_VERSION,
      ...(principal !== undefined && { principal }),
      encryption: encodePair(keys.encryption),
      signing: encodePair(keys.signing),
      previousEncryption: keys.previousEncryption.map(encodePair),
    },
    null,
    2,
  )}\n`;
}

function bytes(file: string, value: unknown, what: string, length: number): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value)) throw fileInvalid(file, `${what} is not base64url`);
  const decoded = Buffer.from(value, 'base64url');
  if (decoded.length !== length) throw fileInvalid(file, `${what} is ${decoded.length} bytes, not ${length}`);
  return new Uint8Array(decoded);
}

function decodeEncryption(file: string, value: unknown, what: string): EncryptionKeyPair {
  if (typeof value !== 'object' || value === null) throw fileInvalid(file, `${what} is missing`);
  const pair = value as Record<string, unknown>;
  const secretKey = bytes(file, pair['secretKey'], `${what}.secretKey`, 32);
  const publicKey = bytes(file, pair['publicKey'], `${what}.publicKey`, 32);
  if (!Buffer.from(nacl.box.keyPair.fromSecretKey(secretKey).publicKey).equals(Buffer.from(publicKey))) {
    throw fileInvalid(file, `${what}.publicKey does not belong to its secret key`);
  }
  return { publicKey, secretKey };
}

/** Parses a key file; throws SEALBUS_ERR_KEY_FILE_INVALID naming what is wrong (never a key). */
export function parseKeyFile(text: string, file = 'the key file'): ClientKeys & { principal?: string } {
  if (text.length > MAX_KEY_FILE_BYTES) throw fileInvalid(file, `it is larger than ${MAX_KEY_FILE_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = parseJson(text, 'key file');
  } catch (err) {
    throw fileInvalid(file, `it ${jsonLimitReason(err) ?? 'is not JSON'}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fileInvalid(file, 'it is not a JSON object');
  const record = parsed as Record<string, unknown>;
  if (record['v'] !== KEY_FILE_VERSION) throw fileInvalid(file, `its version is not ${KEY_FILE_VERSION}`);
  const signingValue = record['signing'];
  if (typeof signingValue !== 'object' || signingValue === null) throw fileInvalid(file, 'signing is missing');
  const signingRecord = signingValue as Record<string, unknown>;
  const signingSecret = bytes(file, signingRecord['secretKey'], 'signing.secretKey', 64);
  const signingPublic = bytes(file, signingRecord['publicKey'], 'signing.publicKey', 32);
  // fromSecretKey only copies the secret key's second half: the public key is checked against the
  // one its seed (the first half, what signs) makes, so that a file cannot sign for another key.
  const derived = nacl.sign.keyPair.fromSeed(signingSecret.subarray(0, 32));
  if (!Buffer.from(derived.secretKey).equals(Buffer.from(signingSecret)) || !Buffer.from(derived.publicKey).equals(Buffer.from(signingPublic))) {
    throw fileInvalid(file, 'signing.publicKey does not belong to its secret key');
  }
  const previous = record['previousEncryption'] ?? [];
  if (!Array.isArray(previous) || previous.length > MAX_PREVIOUS_KEYS) throw fileInvalid(file, `previousEncryption is not a list of at most ${MAX_PREVIOUS_KEYS} keys`);
  const principal = record['principal'];
  if (principal !== undefined && typeof principal !== 'string') throw fileInvalid(file, 'principal is not a string');
  return {
    encryption: decodeEncryption(file, record['encryption'], 'encryption'),
    signing: { publicKey: signingPublic, secretKey: signingSecret },
    previousEncryption: previous.map((pair, index) => decodeEncryption(file, pair, `previousEncryption[${index}]`)),
    ...(principal !== undefined && { principal }),
  };
}

/** Reads a key file, refusing one that others can read (it holds secret keys). */
export async function readKeyFile(file: string): Promise<ClientKeys & { principal?: string }> {
  await assertPrivateFile(file);
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return parseKeyFile(buffer.toString('utf8', 0, bytesRead), file);
  } finally {
    await handle.close();
  }
}

/** Writes a new key file, mode 0600; refuses to overwrite one (SEALBUS_ERR_AUTH_FILE_EXISTS). */
export async function writeKeyFile(file: string, keys: ClientKeys, principal?: string): Promise<void> {
  await writeNewFile(file, encodeKeyFile(keys, principal), PRIVATE_MODE);
}
