import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { AUDIT_KEY_FILE, AuditSigner, GENESIS_HASH, checkpointStatementBytes } from '../../src/audit/index.js';
import { rejectionOf } from '../helpers/error-code.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { SOURCE, T0, testEnvironment } from './helpers.js';

const tempDir = useTempDirs('sealbus-audit-');

describe('AuditSigner', () => {
  it('creates the key once, mode 0600 in a 0700 folder, as PKCS#8 PEM', async () => {
    const dir = join(await tempDir(), 'audit');
    const signer = await AuditSigner.loadOrCreate(dir);
    const file = join(dir, AUDIT_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(signer.keyId).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('reloads the same key, never overwrites it, and agrees with a racing creator', async () => {
    const dir = await tempDir();
    const [a, b] = await Promise.all([AuditSigner.loadOrCreate(dir), AuditSigner.loadOrCreate(dir)]);
    expect(a.keyId).toBe(b.keyId);
    const before = await readFile(join(dir, AUDIT_KEY_FILE), 'utf8');
    const again = await AuditSigner.loadOrCreate(dir);
    expect(again.keyId).toBe(a.keyId);
    expect(again.publicKeyPem()).toBe(a.publicKeyPem());
    expect(await readFile(join(dir, AUDIT_KEY_FILE), 'utf8')).toBe(before);
  });

  it('names its key by the RFC 7638 thumbprint of the public JWK, which matches the PEM', async () => {
    const signer = await AuditSigner.loadOrCreate(await tempDir());
    const jwk = signer.publicJwk();
    expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String) as string, kid: signer.keyId });
    expect(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x })).toBe(signer.keyId);
    expect(createPublicKey(signer.publicKeyPem()).export({ format: 'jwk' }).x).toBe(jwk.x);
    expect(JSON.stringify(signer)).not.toContain('PRIVATE');
  });

  it('refuses a key file that others may read', async () => {
    const dir = await tempDir();
    await AuditSigner.loadOrCreate(dir);
    await chmod(join(dir, AUDIT_KEY_FILE), 0o644);
    const err = await rejectionOf(AuditSigner.loadOrCreate(dir));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toContain('mode 644');
  });

  it('refuses a key that is not Ed25519, or not a key', async () => {
    const dir = await tempDir();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, AUDIT_KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    expect(await rejectionOf(AuditSigner.loadOrCreate(dir))).toMatchObject({
      code: 'SEALBUS_ERR_AUTH_MATERIAL_INVALID',
      message: `Cannot use ${join(dir, AUDIT_KEY_FILE)}: the audit key must be Ed25519`,
    });
    const other = await tempDir();
    await writeFile(join(other, AUDIT_KEY_FILE), 'not a key', { mode: 0o600 });
    expect(await rejectionOf(AuditSigner.loadOrCreate(other))).toMatchObject({ code: 'SEALBUS_ERR_AUTH_MATERIAL_INVALID' });
  });

  it('signs the canonical statement {type, count, headHash, time, keyId} with Ed25519', async () => {
    const signer = await AuditSigner.loadOrCreate(await tempDir(), testEnvironment());
    const checkpoint = signer.sign({ count: 0, headHash: GENESIS_HASH, source: SOURCE });
    expect(checkpoint).toMatchObject({
      specversion: '1.0',
      type: 'sealbus.audit.checkpoint',
      source: SOURCE,
      time: new Date(T0).toISOString(),
      datacontenttype: 'application/json',
      data: { count: 0, headHash: GENESIS_HASH, keyId: signer.keyId },
    });
    const statement = `{"count":0,"headHash":"${GENESIS_HASH}","keyId":"${signer.keyId}","time":"${checkpoint.time}","type":"sealbus.audit.checkpoint"}`;
    expect(checkpointStatementBytes({ type: 'sealbus.audit.checkpoint', count: 0, headHash: GENESIS_HASH, time: checkpoint.time, keyId: signer.keyId }).toString()).toBe(statement);
    const signature = Buffer.from(checkpoint.data.signature, 'base64url');
    expect(verify(null, Buffer.from(statement), createPublicKey(signer.publicKeyPem()), signature)).toBe(true);
    expect(verify(null, Buffer.from(statement.replace('"count":0', '"count":1')), signer.publicKey, signature)).toBe(false);
  });

  it('refuses to sign what is not a chain head', async () => {
    const signer = await AuditSigner.loadOrCreate(await tempDir());
    for (const input of [
      { count: -1, headHash: GENESIS_HASH, source: SOURCE },
      { count: 1.5, headHash: GENESIS_HASH, source: SOURCE },
      { count: 1, headHash: 'xyz', source: SOURCE },
      { count: 1, headHash: GENESIS_HASH, source: 'has space' },
    ]) {
      expect(() => signer.sign(input), JSON.stringify(input)).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_AUDIT_INVALID' }) as Error);
    }
  });
});
