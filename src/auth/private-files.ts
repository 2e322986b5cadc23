import { type KeyObject, generateKeyPair, randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SealbusError } from '../errors/index.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A new Ed25519 private key (the audit log's, the local token issuer's). Generated as a job off the
 * main thread: on Node 20.20, `generateKeyPairSync` sometimes deadlocks the process for good, when
 * a collection during the call runs the destructor of an earlier key generation job, which takes a
 * lock the call already holds (a loop of 1,024 calls hung 5 to 15 runs in 40;
 * test/source/no-sync-keygen.test.ts keeps it out of src).
 */
export async function newEd25519PrivateKey(): Promise<KeyObject> {
  return (await generateKeyPairAsync('ed25519')).privateKey;
}

/** File mode of every private key sealbus writes: readable by the owner only. */
export const PRIVATE_MODE = 0o600;
export const PUBLIC_MODE = 0o644;

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

async function writeTemp(dir: string, name: string, data: string, mode: number): Promise<string> {
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  // The mode is given at creation: a key must never exist, even briefly, with looser permissions.
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return temp;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a complete file under `path` or fails with SEALBUS_ERR_AUTH_FILE_EXISTS. The content is
 * written to a temporary file and published with link(2), which refuses to replace an existing
 * name: a concurrent writer or an existing key is never overwritten and no reader sees half a file.
 */
export async function writeNewFile(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = await writeTemp(dir, basename(path), data, mode);
  try {
    await link(temp, path);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw new SealbusError('SEALBUS_ERR_AUTH_FILE_EXISTS', { file: path });
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDir(dir);
}

/** Replaces a public file atomically (rename), so a watcher never reads a torn CRL. */
export async function replaceFile(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = await writeTemp(dir, basename(path), data, mode);
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/**
 * Refuses a private key that others may read or write: sealbus created it with mode 0600, so
 * looser permissions mean someone changed them, and the key may already be copied.
 */
export async function assertPrivateFile(path: string): Promise<void> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', {
      file: path,
      reason: `a private key must not be accessible to group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600`,
    });
  }
}
