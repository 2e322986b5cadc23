/**
 * The on-disk format of the keyring: keyring.json (schema, parsing, serialization, limits) and
 * the private key files it names, read with their size and permission checks.
 */
import { type KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { open } from 'node:fs/promises';
import { calculateJwkThumbprint } from 'jose';
import { createAjv, firstProblem } from '../config/index.js';
import { SealbusError } from '../errors/index.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';
import { assertPrivateFile } from './private-files.js';

/** The keyring: every signing key of the local issuer, public parts only (mode 0600). */
export const KEYRING_FILE = 'keyring.json';
/** The single key of sealbus before key rotation; adopted as the first key of the keyring. */
export const ISSUER_KEY_FILE = 'issuer-ed25519.key';
export const MAX_KEYRING_BYTES = 256 * 1024;
export const MAX_KEYRING_KEYS = 100;
const MAX_PRIVATE_KEY_BYTES = 16 * 1024;
const KEY_ID = '^[A-Za-z0-9_-]{43}$';

/** One key as keyring.json stores it. Times are milliseconds since the epoch. */
export interface KeyringEntry {
  /** RFC 7638 thumbprint of `publicJwk`. */
  readonly kid: string;
  readonly publicJwk: { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string };
  readonly createdAt: number;
  /** null for the active key; for the others, when their tokens stop being accepted. */
  readonly retireAt: number | null;
  /** File name (in the keyring folder) of the private key: the active key only. */
  readonly privateKeyFile: string | null;
}

const timestamp = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

const keyringSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'keys'],
  properties: {
    version: { type: 'integer', const: 1 },
    keys: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_KEYRING_KEYS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['kid', 'publicJwk', 'createdAt', 'retireAt', 'privateKeyFile'],
        properties: {
          kid: { type: 'string', pattern: KEY_ID },
          publicJwk: {
            type: 'object',
            additionalProperties: false,
            required: ['kty', 'crv', 'x'],
            properties: { kty: { type: 'string', const: 'OKP' }, crv: { type: 'string', const: 'Ed25519' }, x: { type: 'string', pattern: KEY_ID } },
          },
          createdAt: timestamp,
          retireAt: { anyOf: [timestamp, { type: 'null' }] },
          // A bare name: keyring.json must not be able to point at a file outside the folder.
          privateKeyFile: { anyOf: [{ type: 'string', pattern: '^issuer-(ed25519|[A-Za-z0-9_-]{43})\\.key$' }, { type: 'null' }] },
        },
      },
    },
  },
} as const;

const validateKeyring = createAjv().compile(keyringSchema);

export function invalid(file: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file, reason });
}

export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

export const privateKeyFileOf = (kid: string): string => `issuer-${kid}.key`;

/** Reads at most `max` bytes; null when the file does not exist. */
async function readBounded(file: string, max: number, what: string): Promise<{ text: string; mode: number } | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(file, `the ${what} is not a regular file`);
    if (info.size > max) throw invalid(file, `the ${what} is larger than ${max} bytes`);
    const buffer = Buffer.alloc(info.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > info.size) throw invalid(file, `the ${what} changed while it was read`);
    return { text: buffer.toString('utf8', 0, length), mode: info.mode };
  } finally {
    await handle.close();
  }
}

export async function readKeyringText(file: string): Promise<string | null> {
  const read = await readBounded(file, MAX_KEYRING_BYTES, 'keyring');
  if (read === null) return null;
  // Public keys only, but whoever can write this file can make the broker accept their tokens.
  if ((read.mode & 0o022) !== 0) {
    throw invalid(file, `the keyring must not be writable by group or others (mode ${(read.mode & 0o777).toString(8)}); run chmod 600`);
  }
  return read.text;
}

export async function publicJwkOf(key: KeyObject): Promise<{ publicJwk: KeyringEntry['publicJwk']; kid: string }> {
  const exported = createPublicKey(key).export({ format: 'jwk' });
  const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: String(exported.x) } as const;
  return { publicJwk, kid: await calculateJwkThumbprint(publicJwk) };
}

/** Reads an Ed25519 private key (mode 0600 required) and checks it against the public key on record. */
export async function readPrivateKey(file: string, expectedX: string | null): Promise<{ pem: string; key: KeyObject }> {
  await assertPrivateFile(file).catch((err: unknown) => {
    throw isErrno(err, 'ENOENT') ? invalid(file, 'the private key of the active signing key is missing') : err;
  });
  const read = await readBounded(file, MAX_PRIVATE_KEY_BYTES, 'private key');
  if (read === null) throw invalid(file, 'the private key of the active signing key is missing');
  let key: KeyObject;
  try {
    key = createPrivateKey(read.text);
  } catch {
    throw invalid(file, 'not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw invalid(file, 'the issuer key must be Ed25519');
  if (expectedX !== null && createPublicKey(key).export({ format: 'jwk' }).x !== expectedX) {
    throw invalid(file, `the private key does not match the public key recorded in ${KEYRING_FILE}`);
  }
  return { pem: read.text, key };
}

/** Schema first, then what a schema cannot say: thumbprints, one active key, no duplicates. */
export async function parseKeyring(file: string, text: string): Promise<KeyringEntry[]> {
  let document: unknown;
  try {
    document = parseJson(text, KEYRING_FILE);
  } catch (err) {
    throw invalid(file, jsonLimitReason(err) ?? 'not JSON');
  }
  if (!validateKeyring(document)) {
    const problem = firstProblem(validateKeyring);
    throw invalid(file, problem === null ? 'not a keyring' : `${problem.key} ${problem.reason}`);
  }
  const entries = (document as { keys: KeyringEntry[] }).keys;
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    if (seen.has(entry.kid)) throw invalid(file, `keys.${index}.kid ${entry.kid} appears twice`);
    seen.add(entry.kid);
    try {
      createPublicKey({ key: { ...entry.publicJwk }, format: 'jwk' });
    } catch {
      throw invalid(file, `keys.${index}.publicJwk is not an Ed25519 public key`);
    }
    if ((await calculateJwkThumbprint(entry.publicJwk)) !== entry.kid) throw invalid(file, `keys.${index}.kid is not the thumbprint of its publicJwk`);
    if (entry.retireAt === null) {
      if (entry.privateKeyFile !== privateKeyFileOf(entry.kid) && entry.privateKeyFile !== ISSUER_KEY_FILE) {
        throw invalid(file, `keys.${index}.privateKeyFile must be ${privateKeyFileOf(entry.kid)} for the active key`);
      }
    } else if (entry.privateKeyFile !== null) {
      throw invalid(file, `keys.${index}.privateKeyFile must be null: a retiring key signs nothing`);
    }
  }
  const active = entries.filter((entry) => entry.retireAt === null);
  if (active.length !== 1) throw invalid(file, `exactly one key must be active (retireAt null); found ${active.length}`);
  return entries;
}

export function serialize(entries: readonly KeyringEntry[]): string {
  return `${JSON.stringify({ version: 1, keys: entries }, null, 2)}\n`;
}
