/**
 * Signed checkpoints. A checkpoint states "the chain holds `count` events and the last one hashes
 * to `headHash`", signed with the broker's Ed25519 audit key. It is a record of the same log, a
 * CloudEvents event of type `sealbus.audit.checkpoint`, but it is not part of the chain: it has no
 * `sealbusseq` or `sealbusprev`, and no event links to it. A checkpoint is written right after the
 * event it covers, so at its place in the log it covers every event before it; verification then
 * compares each checkpoint with the chain as read so far, and a lost checkpoint costs coverage,
 * never the chain.
 *
 * The signature covers the canonical JSON of `{type, count, headHash, time, keyId}` and nothing
 * else: the checkpoint's `id` and `source` are informative only.
 */
import { KeyObject, createPublicKey, verify as verifySignature } from 'node:crypto';
import { type JWK, calculateJwkThumbprint } from 'jose';
import { SealbusError } from '../errors/index.js';
import { canonicalBytes } from './canonical-json.js';

export const AUDIT_CHECKPOINT_TYPE = 'sealbus.audit.checkpoint';

/** The signed statement. */
export interface CheckpointStatement {
  readonly type: typeof AUDIT_CHECKPOINT_TYPE;
  readonly count: number;
  readonly headHash: string;
  /** RFC 3339, the same as the checkpoint record's `time`. */
  readonly time: string;
  /** RFC 7638 thumbprint of the signing key. */
  readonly keyId: string;
}

/** A checkpoint as stored in the log. */
export interface AuditCheckpoint {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: typeof AUDIT_CHECKPOINT_TYPE;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: {
    readonly count: number;
    readonly headHash: string;
    readonly keyId: string;
    /** base64url Ed25519 signature (64 bytes) over `checkpointStatementBytes`. */
    readonly signature: string;
  };
}

/** The public half of an audit key as a JWK; `kid` is its RFC 7638 thumbprint. */
export interface AuditPublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const KEY_ID = /^[A-Za-z0-9_-]{43}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason });
}

export function checkpointStatementBytes(statement: CheckpointStatement): Buffer {
  const { type, count, headHash, time, keyId } = statement;
  return canonicalBytes({ type, count, headHash, time, keyId });
}

export function statementOf(checkpoint: AuditCheckpoint): CheckpointStatement {
  const { count, headHash, keyId } = checkpoint.data;
  return { type: AUDIT_CHECKPOINT_TYPE, count, headHash, time: checkpoint.time, keyId };
}

export function checkStatement(statement: { count: unknown; headHash: unknown; time: unknown; keyId: unknown }): void {
  const { count, headHash, time, keyId } = statement;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) throw invalid('checkpoint count must be an integer >= 0');
  if (typeof headHash !== 'string' || !HEX_SHA256.test(headHash)) throw invalid('checkpoint headHash must be a lowercase hex SHA-256');
  if (typeof time !== 'string' || !RFC3339.test(time) || Number.isNaN(Date.parse(time))) throw invalid('checkpoint time must be an RFC 3339 timestamp');
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) throw invalid('checkpoint keyId must be an RFC 7638 thumbprint');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the shape of a checkpoint record read from a log (not its signature) and returns it;
 * throws SEALBUS_ERR_AUDIT_INVALID. Extra attributes are tolerated except the chain attributes.
 */
export function parseCheckpoint(value: unknown): AuditCheckpoint {
  if (!isPlainObject(value)) throw invalid('a checkpoint must be an object');
  if (value['type'] !== AUDIT_CHECKPOINT_TYPE) throw invalid(`a checkpoint has type ${AUDIT_CHECKPOINT_TYPE}`);
  if (value['specversion'] !== '1.0') throw invalid('specversion must be "1.0"');
  if ('sealbusseq' in value || 'sealbusprev' in value) throw invalid('a checkpoint is not part of the chain: it has no sealbusseq or sealbusprev');
  if (typeof value['id'] !== 'string' || typeof value['source'] !== 'string') throw invalid('a checkpoint has a string id and source');
  const data = value['data'];
  if (!isPlainObject(data)) throw invalid('checkpoint data must be an object');
  checkStatement({ count: data['count'], headHash: data['headHash'], time: value['time'], keyId: data['keyId'] });
  if (typeof data['signature'] !== 'string' || !SIGNATURE.test(data['signature'])) throw invalid('checkpoint signature must be a base64url Ed25519 signature');
  return value as unknown as AuditCheckpoint;
}

/** Whether the signature of `checkpoint` verifies with `publicKey` (an Ed25519 key). */
export function checkpointSignatureValid(checkpoint: AuditCheckpoint, publicKey: KeyObject): boolean {
  const signature = Buffer.from(checkpoint.data.signature, 'base64url');
  return verifySignature(null, checkpointStatementBytes(statementOf(checkpoint)), publicKey, signature);
}

export async function publicJwkOf(key: KeyObject): Promise<AuditPublicJwk> {
  const x = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw invalid('the audit key has no public x coordinate');
  return { kty: 'OKP', crv: 'Ed25519', x, kid: await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x }) };
}

function badKey(index: number, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file: `audit public key ${index}`, reason });
}

/**
 * The verification keys by key id. Accepts Ed25519 KeyObjects (a private key is reduced to its
 * public half) and OKP JWKs (only kty, crv and x are used); anything else throws
 * SEALBUS_ERR_AUTH_MATERIAL_INVALID.
 */
export async function importAuditPublicKeys(keys: readonly (KeyObject | JWK)[]): Promise<Map<string, KeyObject>> {
  const byId = new Map<string, KeyObject>();
  for (const [index, key] of keys.entries()) {
    let publicKey: KeyObject;
    try {
      if (key instanceof KeyObject) {
        publicKey = key.type === 'public' ? key : createPublicKey(key);
      } else {
        const jwk = key as JWK;
        if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw badKey(index, 'an audit key is an Ed25519 JWK (kty OKP, crv Ed25519)');
        publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
      }
    } catch (err) {
      if (err instanceof SealbusError) throw err;
      throw badKey(index, 'not a public key');
    }
    if (publicKey.asymmetricKeyType !== 'ed25519') throw badKey(index, 'an audit key is Ed25519');
    byId.set((await publicJwkOf(publicKey)).kid, publicKey);
  }
  return byId;
}
