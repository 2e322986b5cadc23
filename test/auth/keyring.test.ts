import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, importPKCS8, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ISSUER_KEY_FILE,
  KEYRING_FILE,
  Keyring,
  type KeyringEntry,
  LocalIssuer,
  MAX_KEYRING_BYTES,
  RETIRED_KEY_KEPT_MS,
  TokenVerifier,
} from '../../src/auth/index.js';
import { codeOf, rejectionOf } from '../helpers/error-code.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { certificateIdentity } from './helpers/tokens.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = 1_700_000_000_000;

const tempDir = useTempDirs('sealbus-keys-');

async function folder(): Promise<string> {
  return join(await tempDir(), 'keys');
}

function testClock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let current = start;
  return { now: () => current, advance: (ms) => (current += ms) };
}

const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;


async function keyringOnDisk(dir: string): Promise<{ version: number; keys: KeyringEntry[] }> {
  return JSON.parse(await readFile(join(dir, KEYRING_FILE), 'utf8')) as { version: number; keys: KeyringEntry[] };
}

async function writeKeyring(dir: string, document: unknown): Promise<void> {
  await writeFile(join(dir, KEYRING_FILE), typeof document === 'string' ? document : JSON.stringify(document), { mode: 0o600 });
}

/** A key pair as keyring.json records it (public part) plus its PEM. */
async function keyEntry(fields: Partial<KeyringEntry> = {}): Promise<{ entry: KeyringEntry; pem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: String(publicKey.export({ format: 'jwk' }).x) } as const;
  const kid = await calculateJwkThumbprint(publicJwk);
  const entry: KeyringEntry = { kid, publicJwk, createdAt: T0, retireAt: null, privateKeyFile: `issuer-${kid}.key`, ...fields };
  return { entry, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Verifies as a relying party would, with nothing but the served JWKS. */
async function verifyWithJwks(keyring: Keyring, token: string, nowMs = T0): Promise<void> {
  await jwtVerify(token, createLocalJWKSet({ keys: [...keyring.jwks().keys] }), { currentDate: new Date(nowMs) });
}

async function signWith(keyring: Keyring, sub = 'alice', nowMs = T0): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid: keyring.activeKid, typ: 'sealbus+jwt' })
    .setIssuer('local')
    .setSubject(sub)
    .setAudience('sealbus')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(keyring.signingKey());
}

describe('Keyring: creation and loading', () => {
  it('creates a keyring and one active key, both readable by the owner only, and loads them again', async () => {
    const dir = await folder();
    const keyring = await Keyring.loadOrCreate(dir, { now: () => T0 });
    expect(await readdir(dir)).toEqual(expect.arrayContaining([KEYRING_FILE, `issuer-${keyring.activeKid}.key`]));
    expect(await modeOf(join(dir, KEYRING_FILE))).toBe(0o600);
    expect(await modeOf(keyring.activeKeyFile)).toBe(0o600);
    expect((await stat(dir)).mode & 0o077).toBe(0);

    const [entry, ...others] = (await keyringOnDisk(dir)).keys;
    expect(others).toEqual([]);
    expect(entry).toEqual({ kid: keyring.activeKid, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: expect.any(String) }, createdAt: T0, retireAt: null, privateKeyFile: `issuer-${keyring.activeKid}.key` });
    expect(await calculateJwkThumbprint(entry!.publicJwk)).toBe(keyring.activeKid);

    const again = await Keyring.loadOrCreate(dir);
    expect(again.activeKid).toBe(keyring.activeKid);
    const token = await signWith(again);
    await verifyWithJwks(keyring, token);
  });

  it('serves public keys only, as one frozen object while the set does not change', async () => {
    const keyring = await Keyring.loadOrCreate(await folder(), { now: () => T0 });
    const jwks = keyring.jwks();
    expect(jwks.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: keyring.activeKid, alg: 'EdDSA', use: 'sig' }]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(Object.isFrozen(jwks) && Object.isFrozen(jwks.keys) && Object.isFrozen(jwks.keys[0])).toBe(true);
    expect(keyring.jwks()).toBe(jwks);
    expect(keyring.status(keyring.activeKid)).toBe('active');
    expect(keyring.status('no-such-key')).toBe('unknown');
    expect(keyring.nextRetirement()).toBeNull();
    expect(keyring.list()).toEqual([{ kid: keyring.activeKid, createdAt: T0, retireAt: null, status: 'active' }]);
  });

  it('agrees on one key when two processes create the keyring at once, leaving no stray private key', async () => {
    const dir = await folder();
    const [a, b, c] = await Promise.all([Keyring.loadOrCreate(dir), Keyring.loadOrCreate(dir), Keyring.loadOrCreate(dir)]);
    expect(new Set([a.activeKid, b.activeKid, c.activeKid]).size).toBe(1);
    expect((await readdir(dir)).filter((name) => name.endsWith('.key'))).toEqual([`issuer-${a.activeKid}.key`]);
  });
});

describe('Keyring: migration from the single key of older versions', () => {
  it('adopts issuer-ed25519.key with the same kid, so tokens signed before the upgrade stay valid', async () => {
    const dir = await folder();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { entry, pem } = await keyEntry();
    await writeFile(join(dir, ISSUER_KEY_FILE), pem, { mode: 0o600 });
    // What the previous LocalIssuer signed: kid = RFC 7638 thumbprint, typ sealbus+jwt.
    const now = Math.floor(T0 / 1000);
    const oldToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: entry.kid, typ: 'sealbus+jwt' })
      .setIssuer('sealbus-local')
      .setSubject('alice')
      .setAudience('sealbus')
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(await importPKCS8(pem, 'EdDSA'));

    const issuer = await LocalIssuer.loadOrCreate(dir, { issuer: 'sealbus-local', now: () => T0 });
    expect(issuer.kid).toBe(entry.kid);
    expect(issuer.keyFile).toBe(join(dir, ISSUER_KEY_FILE));
    expect((await keyringOnDisk(dir)).keys).toEqual([{ ...entry, privateKeyFile: ISSUER_KEY_FILE }]);
    expect(await readFile(join(dir, ISSUER_KEY_FILE), 'utf8')).toBe(pem);
    const verifier = new TokenVerifier({ issuers: [issuer.trust({ requireBinding: false })], audience: 'sealbus', now: () => T0 });
    expect(await verifier.verify(oldToken, certificateIdentity('alice'))).toMatchObject({ principal: 'alice', keyId: entry.kid });

    // The first rotation retires the legacy key like any other and deletes its file.
    await issuer.rotate(HOUR);
    expect(await readdir(dir)).not.toContain(ISSUER_KEY_FILE);
    expect(await verifier.verify(oldToken, certificateIdentity('alice'))).toMatchObject({ keyId: entry.kid });
  });

  it('refuses a legacy key others can read, and one that is not Ed25519', async () => {
    const dir = await folder();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, ISSUER_KEY_FILE), (await keyEntry()).pem, { mode: 0o644 });
    await chmod(join(dir, ISSUER_KEY_FILE), 0o644);
    expect(await codeOf(Keyring.loadOrCreate(dir))).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');

    const p256Dir = await folder();
    await mkdir(p256Dir, { recursive: true });
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(p256Dir, ISSUER_KEY_FILE), p256, { mode: 0o600 });
    const err = await rejectionOf(Keyring.loadOrCreate(p256Dir));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toContain('Ed25519');
    expect(await readdir(p256Dir)).not.toContain(KEYRING_FILE);
  });
});

describe('Keyring: rotation', () => {
  it('signs with a new key at once, keeps the previous one in the JWKS for the overlap, and deletes its private key', async () => {
    const clock = testClock();
    const dir = await folder();
    const keyring = await Keyring.loadOrCreate(dir, { now: clock.now });
    const before = keyring.jwks();
    const oldKid = keyring.activeKid;
    const oldKeyFile = keyring.activeKeyFile;
    const oldToken = await signWith(keyring);

    clock.advance(1000);
    const rotation = await keyring.rotate({ overlapMs: HOUR });
    expect(rotation).toEqual({ kid: keyring.activeKid, retiring: oldKid, retireAt: T0 + 1000 + HOUR });
    expect(rotation.kid).not.toBe(oldKid);

    expect(await readdir(dir)).not.toContain(`issuer-${oldKid}.key`);
    await expect(stat(oldKeyFile)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await modeOf(keyring.activeKeyFile)).toBe(0o600);
    expect(await modeOf(join(dir, KEYRING_FILE))).toBe(0o600);
    expect((await keyringOnDisk(dir)).keys).toMatchObject([
      { kid: rotation.kid, retireAt: null, privateKeyFile: `issuer-${rotation.kid}.key`, createdAt: T0 + 1000 },
      { kid: oldKid, retireAt: rotation.retireAt, privateKeyFile: null },
    ]);

    const during = keyring.jwks();
    expect(during).not.toBe(before);
    expect(during.keys.map((key) => key.kid)).toEqual([rotation.kid, oldKid]);
    expect(decodeProtectedHeader(await signWith(keyring)).kid).toBe(rotation.kid);
    await verifyWithJwks(keyring, oldToken, clock.now());
    expect(keyring.status(oldKid)).toBe('previous');
    expect(keyring.status(rotation.kid)).toBe('active');
    expect(keyring.nextRetirement()).toBe(rotation.retireAt);
  });

  it('retires the previous key when the overlap ends: it leaves the JWKS and its status is retired', async () => {
    const clock = testClock();
    const keyring = await Keyring.loadOrCreate(await folder(), { now: clock.now });
    const oldKid = keyring.activeKid;
    const { kid, retireAt } = await keyring.rotate({ overlapMs: HOUR });

    clock.advance(HOUR - 1);
    expect(keyring.jwks().keys).toHaveLength(2);
    clock.advance(1);
    expect(clock.now()).toBe(retireAt);
    expect(keyring.jwks().keys.map((key) => key.kid)).toEqual([kid]);
    expect(keyring.status(oldKid)).toBe('retired');
    expect(keyring.nextRetirement()).toBeNull();
    expect(keyring.list()).toEqual([
      { kid, createdAt: T0, retireAt: null, status: 'active' },
      { kid: oldKid, createdAt: T0, retireAt, status: 'retired' },
    ]);
  });

  it('retires at once with overlapMs 0, and refuses a negative or fractional overlap', async () => {
    const keyring = await Keyring.loadOrCreate(await folder(), { now: () => T0 });
    const oldKid = keyring.activeKid;
    await keyring.rotate({ overlapMs: 0 });
    expect(keyring.status(oldKid)).toBe('retired');
    expect(keyring.jwks().keys).toHaveLength(1);
    for (const overlapMs of [-1, 1.5, Number.NaN, 400 * DAY]) {
      expect(await codeOf(keyring.rotate({ overlapMs }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    }
  });

  it('starts from the keyring on disk when another process rotated, and sees that rotation on reload', async () => {
    const clock = testClock();
    const dir = await folder();
    const broker = await Keyring.loadOrCreate(dir, { now: clock.now });
    const cli = await Keyring.loadOrCreate(dir, { now: clock.now });
    const first = broker.activeKid;
    expect(await broker.reload()).toBe(false);

    const rotation = await cli.rotate({ overlapMs: HOUR });
    expect(broker.activeKid).toBe(first);
    const jwksBefore = broker.jwks();
    expect(await broker.reload()).toBe(true);
    expect(broker.activeKid).toBe(rotation.kid);
    expect(broker.status(first)).toBe('previous');
    expect(broker.jwks()).not.toBe(jwksBefore);
    expect(await broker.reload()).toBe(false);
    const token = await signWith(broker);
    await verifyWithJwks(cli, token, clock.now());

    // A rotation by a process that had not reloaded keeps the other's key instead of overwriting it.
    const stale = await Keyring.loadOrCreate(dir, { now: clock.now });
    await cli.rotate({ overlapMs: HOUR });
    const third = await stale.rotate({ overlapMs: HOUR });
    expect(third.retiring).toBe(cli.activeKid);
    expect((await keyringOnDisk(dir)).keys.map((entry) => entry.kid)).toEqual([third.kid, cli.activeKid, rotation.kid, first]);
    expect((await readdir(dir)).filter((name) => name.endsWith('.key'))).toEqual([`issuer-${third.kid}.key`]);
  });

  it('refuses to rotate while another rotation holds the lock, and breaks a lock left by a crash', async () => {
    const dir = await folder();
    const keyring = await Keyring.loadOrCreate(dir);
    const lock = join(dir, 'keyring.lock');
    await writeFile(lock, '');
    expect(await codeOf(keyring.rotate({ overlapMs: 0 }))).toBe('SEALBUS_ERR_KEYS_UNAVAILABLE');
    expect((await readdir(dir)).filter((name) => name.endsWith('.key'))).toEqual([`issuer-${keyring.activeKid}.key`]);
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(lock, old, old);
    expect(await codeOf(keyring.rotate({ overlapMs: 0 }))).toBe('accepted');
    expect(await readdir(dir)).not.toContain('keyring.lock');
  });

  it('forgets keys retired more than 400 days ago and keeps at most 100 keys, dropping the oldest retired', async () => {
    const clock = testClock(T0 + 1000 * DAY);
    const dir = await folder();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const active = await keyEntry({ createdAt: clock.now() - DAY });
    await writeFile(join(dir, active.entry.privateKeyFile!), active.pem, { mode: 0o600 });
    const expired = await keyEntry({ retireAt: clock.now() - RETIRED_KEY_KEPT_MS - 1, privateKeyFile: null });
    const remembered = await keyEntry({ retireAt: clock.now() - RETIRED_KEY_KEPT_MS + 1, privateKeyFile: null });
    const retired: KeyringEntry[] = [];
    for (let i = 0; i < 97; i++) retired.push((await keyEntry({ retireAt: clock.now() - (i + 2) * DAY, createdAt: T0 + i, privateKeyFile: null })).entry);
    await writeKeyring(dir, { version: 1, keys: [active.entry, expired.entry, remembered.entry, ...retired] });
    const keyring = await Keyring.loadOrCreate(dir, { now: clock.now });
    expect(keyring.list()).toHaveLength(100);
    expect(keyring.status(expired.entry.kid)).toBe('retired');

    // 100 + the new key: the key retired more than 400 days ago goes, the one retired 399 days ago stays.
    const first = await keyring.rotate({ overlapMs: HOUR });
    let kids = (await keyringOnDisk(dir)).keys.map((entry) => entry.kid);
    expect(kids).toHaveLength(100);
    expect(kids).not.toContain(expired.entry.kid);
    expect(kids).toContain(remembered.entry.kid);
    expect(keyring.status(expired.entry.kid)).toBe('unknown');

    // 100 + the new key again, none old enough: the oldest retirement goes, never a key in its overlap.
    await keyring.rotate({ overlapMs: HOUR });
    kids = (await keyringOnDisk(dir)).keys.map((entry) => entry.kid);
    expect(kids).toHaveLength(100);
    expect(kids).not.toContain(remembered.entry.kid);
    expect(kids).toEqual(expect.arrayContaining([keyring.activeKid, first.kid, active.entry.kid, retired[96]!.kid]));
  });
});

describe('Keyring: a keyring.json that cannot be trusted', () => {
  async function loadedFolder(): Promise<{ dir: string; entry: KeyringEntry }> {
    const dir = await folder();
    await Keyring.loadOrCreate(dir);
    const [entry] = (await keyringOnDisk(dir)).keys;
    return { dir, entry: entry! };
  }

  it.each<[string, (entry: KeyringEntry, other: KeyringEntry) => unknown, RegExp]>([
    ['not JSON', () => '{"version": 1, "keys": [', /not JSON/],
    ['another version', (entry) => ({ version: 2, keys: [entry] }), /version/],
    ['an unknown property', (entry) => ({ version: 1, keys: [{ ...entry, note: 'x' }] }), /note is not a known setting/],
    ['no keys', () => ({ version: 1, keys: [] }), /keys/],
    ['a kid that is not the thumbprint of its key', (entry, other) => ({ version: 1, keys: [{ ...entry, kid: other.kid }] }), /thumbprint/],
    ['two active keys', (entry, other) => ({ version: 1, keys: [entry, other] }), /exactly one key must be active \(retireAt null\); found 2/],
    ['no active key', (entry) => ({ version: 1, keys: [{ ...entry, retireAt: T0, privateKeyFile: null }] }), /exactly one key must be active/],
    ['a private key path outside the folder', (entry) => ({ version: 1, keys: [{ ...entry, privateKeyFile: '../../etc/key.pem' }] }), /privateKeyFile/],
    ['a retired key that keeps a private key', (entry, other) => ({ version: 1, keys: [entry, { ...other, retireAt: T0 }] }), /must be null/],
    ['the same key twice', (entry) => ({ version: 1, keys: [entry, { ...entry, retireAt: T0, privateKeyFile: null }] }), /twice/],
    ['a public key that is not Ed25519', (entry) => ({ version: 1, keys: [{ ...entry, publicJwk: { ...entry.publicJwk, crv: 'X25519' } }] }), /crv/],
    ['a fractional time', (entry) => ({ version: 1, keys: [{ ...entry, createdAt: 1.5 }] }), /createdAt/],
  ])('%s: AUTH_MATERIAL_INVALID naming the file and the reason', async (_what, build, reason) => {
    const { dir, entry } = await loadedFolder();
    const other = (await keyEntry()).entry;
    await writeKeyring(dir, build(entry, other));
    const err = await rejectionOf(Keyring.loadOrCreate(dir));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toContain(join(dir, KEYRING_FILE));
    expect(err.message).toMatch(reason);
  });

  it('refuses a file over 256 KiB and more than 100 keys', async () => {
    const { dir, entry } = await loadedFolder();
    await writeKeyring(dir, `${JSON.stringify({ version: 1, keys: [entry] })}${' '.repeat(MAX_KEYRING_BYTES)}`);
    expect((await rejectionOf(Keyring.loadOrCreate(dir))).message).toContain(`larger than ${MAX_KEYRING_BYTES} bytes`);

    const retired = { ...entry, retireAt: T0, privateKeyFile: null };
    await writeKeyring(dir, { version: 1, keys: [entry, ...Array.from({ length: 100 }, () => retired)] });
    const err = await rejectionOf(Keyring.loadOrCreate(dir));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toMatch(/keys must NOT have more than 100 items/);
  });

  it('refuses a keyring others may write: they could add a key of their own', async () => {
    const { dir } = await loadedFolder();
    await chmod(join(dir, KEYRING_FILE), 0o666);
    const err = await rejectionOf(Keyring.loadOrCreate(dir));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toContain('chmod 600');
  });

  it('refuses an active private key that does not match the public key on record, or is missing', async () => {
    const { dir, entry } = await loadedFolder();
    await writeFile(join(dir, entry.privateKeyFile!), (await keyEntry()).pem, { mode: 0o600 });
    expect((await rejectionOf(Keyring.loadOrCreate(dir))).message).toContain('does not match');

    const other = await loadedFolder();
    await writeFile(join(other.dir, other.entry.privateKeyFile!), '', { mode: 0o600 });
    expect(await codeOf(Keyring.loadOrCreate(other.dir))).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
  });

  it('keeps the current keys when a reload finds a broken keyring, and throws', async () => {
    const dir = await folder();
    const keyring = await Keyring.loadOrCreate(dir);
    const kid = keyring.activeKid;
    const jwks = keyring.jwks();
    await writeKeyring(dir, '{"version": 1, "keys": "oops"}');
    const err = await rejectionOf(keyring.reload());
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toContain(KEYRING_FILE);
    expect(keyring.activeKid).toBe(kid);
    expect(keyring.jwks()).toBe(jwks);
    await signWith(keyring);
  });
});
