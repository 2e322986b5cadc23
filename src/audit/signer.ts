/**
 * The broker's audit key: an Ed25519 key kept in `<dir>/audit-ed25519.key` (PKCS#8 PEM, mode
 * 0600), apart from the token issuer's keys: whoever may sign tokens need not be able to vouch for
 * the audit log, and rotating one never touches the other. The key is created once and never
 * overwritten; its public half verifies the log offline.
 */
import { type KeyObject, createPrivateKey, createPublicKey, randomUUID as nodeRandomUUID, sign as signBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_MODE, assertPrivateFile, fileExists, newEd25519PrivateKey, writeNewFile } from '../auth/private-files.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { AUDIT_CHECKPOINT_TYPE, type AuditCheckpoint, type AuditPublicJwk, checkStatement, checkpointStatementBytes, publicJwkOf } from './checkpoint.js';
import type { AuditEventEnvironment } from './event.js';

export const AUDIT_KEY_FILE = 'audit-ed25519.key';
const MAX_KEY_FILE_BYTES = 16 * 1024;
const SOURCE = /^[^\s\u0000-\u001f\u007f-\u009f]{1,1024}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a checkpoint covers (an `AuditChain` head) and who writes it. */
export interface CheckpointInput {
  readonly count: number;
  readonly headHash: string;
  /** The broker, `sealbus://<broker-id>`, as in its events. */
  readonly source: string;
  /** Defaults to the signer's clock. */
  readonly time?: Date | string;
  /** Defaults to a random UUID. */
  readonly id?: string;
}

function unusable(file: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file, reason });
}

async function readKeyFile(file: string): Promise<KeyObject> {
  // Checked before reading: a key others could read may already be copied.
  await assertPrivateFile(file);
  const handle = await open(file, 'r');
  let text: string;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw unusable(file, 'the audit key is not a regular file');
    if (info.size > MAX_KEY_FILE_BYTES) throw unusable(file, `the audit key is larger than ${MAX_KEY_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
    text = buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw unusable(file, 'not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw unusable(file, 'the audit key must be Ed25519');
  return key;
}

/** Signs checkpoints with the audit key. The private key never leaves this object. */
export class AuditSigner {
  readonly #privateKey: KeyObject;
  readonly #jwk: AuditPublicJwk;
  readonly #now: () => Date;
  readonly #randomUUID: () => string;
  /** RFC 7638 thumbprint of the public key: the `keyId` of every checkpoint this signer writes. */
  readonly keyId: string;
  readonly publicKey: KeyObject;

  private constructor(privateKey: KeyObject, jwk: AuditPublicJwk, environment: AuditEventEnvironment) {
    this.#privateKey = privateKey;
    this.#jwk = jwk;
    this.#now = environment.now ?? (() => new Date());
    this.#randomUUID = environment.randomUUID ?? nodeRandomUUID;
    this.keyId = jwk.kid;
    this.publicKey = createPublicKey(privateKey);
  }

  /** A signer over a key held elsewhere (tests, an HSM-less key store). */
  static async fromPrivateKey(privateKey: KeyObject, environment: AuditEventEnvironment = {}): Promise<AuditSigner> {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw unusable('the audit key', 'an audit key is an Ed25519 private key');
    }
    return new AuditSigner(privateKey, await publicJwkOf(privateKey), environment);
  }

  /**
   * Loads `<dir>/audit-ed25519.key`, or creates it (mode 0600, folder 0700) when absent. An
   * existing key is never replaced; a key readable by group or others, or not an Ed25519 PEM key,
   * throws SEALBUS_ERR_AUTH_MATERIAL_INVALID.
   */
  static async loadOrCreate(dir: string, environment: AuditEventEnvironment = {}): Promise<AuditSigner> {
    const file = join(dir, AUDIT_KEY_FILE);
    if (!(await fileExists(file))) {
      const privateKey = await newEd25519PrivateKey();
      try {
        await writeNewFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), PRIVATE_MODE);
        return await AuditSigner.fromPrivateKey(privateKey, environment);
      } catch (err) {
        // Another process created the key between the check and the write: use that one.
        if (!isSealbusError(err, 'SEALBUS_ERR_AUTH_FILE_EXISTS')) throw err;
      }
    }
    return AuditSigner.fromPrivateKey(await readKeyFile(file), environment);
  }

  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  publicJwk(): AuditPublicJwk {
    return { ...this.#jwk };
  }

  /** A signed checkpoint covering the first `count` events, the last of which hashes to `headHash`. */
  sign(input: CheckpointInput): AuditCheckpoint {
    const date = typeof input.time === 'string' ? null : (input.time ?? this.#now());
    if (date !== null && Number.isNaN(date.getTime())) throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'checkpoint time must be a valid date' });
    const time = date === null ? (input.time as string) : date.toISOString();
    checkStatement({ count: input.count, headHash: input.headHash, time, keyId: this.keyId });
    if (typeof input.source !== 'string' || !SOURCE.test(input.source)) {
      throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'checkpoint source must be a URI without spaces, at most 1024 characters' });
    }
    const id = input.id ?? this.#randomUUID();
    if (!UUID.test(id)) throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'checkpoint id must be a UUID' });
    const statement = { type: AUDIT_CHECKPOINT_TYPE, count: input.count, headHash: input.headHash, time, keyId: this.keyId } as const;
    const signature = signBytes(null, checkpointStatementBytes(statement), this.#privateKey).toString('base64url');
    return Object.freeze({
      specversion: '1.0',
      id,
      source: input.source,
      type: AUDIT_CHECKPOINT_TYPE,
      time,
      datacontenttype: 'application/json',
      data: Object.freeze({ count: input.count, headHash: input.headHash, keyId: this.keyId, signature }),
    });
  }
}
