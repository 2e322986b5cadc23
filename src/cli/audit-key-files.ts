/**
 * Audit public keys as an operator handles them: a PEM (SPKI) file or a JWK / JWKS JSON file given
 * with `--pubkey`, the key file next to a data directory, or the JWKs the broker serves.
 */
import { type KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { type AuditPublicJwk, importAuditPublicKeys } from '../audit/checkpoint.js';
import { AUDIT_KEY_FILE } from '../audit/signer.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';

const MAX_KEY_FILE_BYTES = 64 * 1024;
const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/** A key with the id (RFC 7638 thumbprint) checkpoints name it by. */
export interface AuditKey {
  readonly keyId: string;
  readonly key: KeyObject;
}

async function readBounded(file: string): Promise<string> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a file`);
  if (info.size > MAX_KEY_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_KEY_FILE_BYTES} bytes: not a key file`);
  return readFile(file, 'utf8');
}

/** Ids the keys; throws (naming `what`) unless each is an Ed25519 key. */
export async function auditKeysOf(keys: readonly (KeyObject | JWK)[], what: string): Promise<AuditKey[]> {
  let byId: Map<string, KeyObject>;
  try {
    byId = await importAuditPublicKeys(keys);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  return [...byId].map(([keyId, key]) => ({ keyId, key }));
}

function jwksOf(parsed: unknown): JWK[] {
  if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { keys?: unknown }).keys)) return (parsed as { keys: JWK[] }).keys;
  return [parsed as JWK];
}

/**
 * The keys of a `--pubkey` file: one or more PEM public keys (SPKI), a JWK, a JWKS
 * (`{"keys": [...]}`), or the answer of `GET /v1/audit/keys`. A private key is refused: it has no
 * business on the machine that checks the broker.
 */
export async function readPublicKeyFile(file: string): Promise<AuditKey[]> {
  let text: string;
  try {
    text = await readBounded(file);
  } catch (err) {
    throw new Error(`cannot read the public key file ${file}: ${(err as Error).message}`);
  }
  const trimmed = text.trim();
  let keys: (KeyObject | JWK)[];
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = parseJson(trimmed, 'public key file');
    } catch (err) {
      const limit = jsonLimitReason(err);
      throw new Error(limit === null ? `${file} is neither a PEM public key nor JSON (a JWK or JWKS)` : `${file} ${limit}`);
    }
    keys = jwksOf(parsed);
    if (keys.some((jwk) => typeof jwk === 'object' && jwk !== null && 'd' in jwk)) throw new Error(`${file} holds a private JWK: give the public key only`);
  } else {
    const blocks = [...trimmed.matchAll(PEM_BLOCK)];
    if (blocks.length === 0) throw new Error(`${file} holds no PEM block: expected a public key (-----BEGIN PUBLIC KEY-----) or a JWK`);
    keys = blocks.map((block) => {
      if (block[1] !== 'PUBLIC KEY') throw new Error(`${file} holds a ${block[1]}: give the public key (sealbus audit key prints it)`);
      try {
        return createPublicKey(block[0]);
      } catch {
        throw new Error(`${file}: a PEM block is not a readable public key`);
      }
    });
  }
  if (keys.length === 0) throw new Error(`${file} holds no key`);
  return auditKeysOf(keys, file);
}

/** `<dataDir>/audit/audit-ed25519.key`: where a broker keeps its audit key by default. */
export function dataDirKeyFile(dataDir: string): string {
  return join(dataDir, 'audit', AUDIT_KEY_FILE);
}

/** The public half of the audit key kept next to a data directory, or null when there is none. */
export async function readDataDirKey(dataDir: string): Promise<{ file: string; key: AuditKey } | null> {
  const file = dataDirKeyFile(dataDir);
  let text: string;
  try {
    text = await readBounded(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the audit key ${file}: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(createPrivateKey(text));
  } catch {
    throw new Error(`${file} is not a PEM private key`);
  }
  const [audit] = await auditKeysOf([key], file);
  return { file, key: audit! };
}

/** SPKI PEM of a public key, as `--pubkey` reads it. */
export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** Ids and keys of the JWKs a broker serves. */
export async function brokerKeys(keys: readonly AuditPublicJwk[]): Promise<AuditKey[]> {
  return auditKeysOf(keys as unknown as JWK[], "the broker's audit keys");
}
