import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, type JWK, importPKCS8 } from 'jose';
import { SealbusError } from '../errors/index.js';
import {
  ISSUER_KEY_FILE,
  KEYRING_FILE,
  type KeyringEntry,
  MAX_KEYRING_KEYS,
  invalid,
  isErrno,
  parseKeyring,
  privateKeyFileOf,
  publicJwkOf,
  readKeyringText,
  readPrivateKey,
  serialize,
} from './keyring-file.js';
import { PRIVATE_MODE, fileExists, newEd25519PrivateKey, replaceFile, writeNewFile } from './private-files.js';
import type { JwkSet } from './types.js';

export { ISSUER_KEY_FILE, KEYRING_FILE, MAX_KEYRING_BYTES, MAX_KEYRING_KEYS, type KeyringEntry } from './keyring-file.js';

/** Longer than the longest token life (366 days): a retired key is remembered while its tokens could still be presented. */
export const RETIRED_KEY_KEPT_MS = 400 * 86_400_000;
const MAX_OVERLAP_MS = 366 * 86_400_000;
const LOCK_FILE = 'keyring.lock';
/** A rotation takes milliseconds; a lock this old was left by a process that died mid-rotation. */
const STALE_LOCK_MS = 60_000;

export type KeyStatus = 'active' | 'previous' | 'retired' | 'unknown';

export interface KeyInfo {
  readonly kid: string;
  readonly createdAt: number;
  readonly retireAt: number | null;
  readonly status: KeyStatus;
}

export interface KeyRotation {
  /** The new active key. */
  readonly kid: string;
  /** The key it replaces, accepted until `retireAt`. */
  readonly retiring: string;
  readonly retireAt: number;
}

export interface KeyringOptions {
  /** Clock in milliseconds since the epoch (default Date.now). */
  readonly now?: (() => number) | undefined;
}

interface KeyringState {
  /** keyring.json as read, to tell whether it changed. */
  readonly content: string;
  /** Newest first. */
  readonly entries: readonly KeyringEntry[];
  readonly active: KeyringEntry & { readonly privateKeyFile: string };
  readonly signingKey: CryptoKey;
}


/** Forgets keys retired long enough ago that no token of theirs can still be valid, within the count limit. */
function prune(entries: readonly KeyringEntry[], now: number): KeyringEntry[] {
  let kept = entries.filter((entry) => entry.retireAt === null || entry.retireAt >= now - RETIRED_KEY_KEPT_MS);
  const excess = kept.length - MAX_KEYRING_KEYS;
  if (excess > 0) {
    const oldest = kept.filter((entry) => entry.retireAt !== null).sort((a, b) => (a.retireAt ?? 0) - (b.retireAt ?? 0) || a.createdAt - b.createdAt);
    const dropped = new Set(oldest.slice(0, excess).map((entry) => entry.kid));
    kept = kept.filter((entry) => !dropped.has(entry.kid));
  }
  return kept;
}

async function removeIfPresent(file: string): Promise<void> {
  await unlink(file).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
}

async function generateKey(dir: string, now: number): Promise<KeyringEntry & { privateKeyFile: string }> {
  const privateKey = await newEd25519PrivateKey();
  const { publicJwk, kid } = await publicJwkOf(privateKey);
  const privateKeyFile = privateKeyFileOf(kid);
  await writeNewFile(join(dir, privateKeyFile), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), PRIVATE_MODE);
  return { kid, publicJwk, createdAt: now, retireAt: null, privateKeyFile };
}

/**
 * Excludes other processes (the CLI, another broker on the same folder) from rotating at the same
 * time: two rotations racing would each write a keyring naming its own new key.
 */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', PRIVATE_MODE);
      await handle.close();
      return () => removeIfPresent(file);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      const info = await stat(file).catch(() => null);
      // File times come from the file system's clock, not the injected one.
      if (info !== null && Date.now() - info.mtimeMs < STALE_LOCK_MS) break;
      await removeIfPresent(file);
    }
  }
  throw new SealbusError('SEALBUS_ERR_KEYS_UNAVAILABLE', { reason: `another key rotation is in progress (${file})` });
}

/**
 * The signing keys of the local issuer: one active key that signs, previous keys still accepted
 * until their `retireAt`, and retired keys remembered so their tokens are refused by name.
 *
 * Folder layout: `keyring.json` (public keys and their states) and the private key of the active
 * key only (`issuer-<kid>.key`, PKCS#8 PEM, mode 0600). A rotation deletes the previous private
 * key: nothing can sign with it again, whatever its retirement date.
 */
export class Keyring {
  readonly dir: string;
  readonly #file: string;
  readonly #now: () => number;
  #state: KeyringState;
  /** Serializes reload and rotate within this process, so an older read never overwrites a newer one. */
  #queue: Promise<unknown> = Promise.resolve();
  #jwks: JwkSet = Object.freeze({ keys: Object.freeze([]) });
  #jwksKids: string | null = null;

  private constructor(dir: string, now: () => number, state: KeyringState) {
    this.dir = dir;
    this.#file = join(dir, KEYRING_FILE);
    this.#now = now;
    this.#state = state;
  }

  /**
   * Loads the keyring of `dir`. Without one, adopts the legacy `issuer-ed25519.key` (same kid, so
   * its tokens stay valid) or generates a first key. Concurrent starts agree on one keyring.
   */
  static async loadOrCreate(dir: string, opts: KeyringOptions = {}): Promise<Keyring> {
    const now = opts.now ?? Date.now;
    const file = join(dir, KEYRING_FILE);
    let text = await readKeyringText(file);
    if (text === null) {
      await createKeyring(dir, now());
      text = await readKeyringText(file);
      if (text === null) throw invalid(file, 'the keyring disappeared just after it was created');
    }
    return new Keyring(dir, now, await loadState(dir, text));
  }

  get activeKid(): string {
    return this.#state.active.kid;
  }

  /** Path of the active key's private key file. */
  get activeKeyFile(): string {
    return join(this.dir, this.#state.active.privateKeyFile);
  }

  /** The active key, for EdDSA signatures. */
  signingKey(): CryptoKey {
    return this.#state.signingKey;
  }

  /**
   * Makes a new key active. The previous one stays in the JWKS for `overlapMs` (0: retired at
   * once) and its private key is deleted. Starts from the keyring on disk, which another process
   * may have rotated; fails with SEALBUS_ERR_KEYS_UNAVAILABLE while another rotation runs.
   */
  rotate(opts: { overlapMs: number }): Promise<KeyRotation> {
    const { overlapMs } = opts;
    if (!Number.isSafeInteger(overlapMs) || overlapMs < 0 || overlapMs > MAX_OVERLAP_MS) {
      return Promise.reject(new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `overlapMs must be an integer from 0 to ${MAX_OVERLAP_MS}` }));
    }
    return this.#exclusive(async () => {
      const release = await acquireLock(this.dir);
      try {
        const text = await readKeyringText(this.#file);
        if (text === null) throw invalid(this.#file, 'the keyring file is missing');
        if (text !== this.#state.content) this.#state = await loadState(this.dir, text);
        const now = this.#now();
        const previous = this.#state.active;
        const fresh = await generateKey(this.dir, now);
        const retireAt = now + overlapMs;
        const retiring = this.#state.entries.map((entry) => (entry.kid === previous.kid ? { ...entry, retireAt, privateKeyFile: null } : entry));
        const content = serialize(prune([fresh, ...retiring], now));
        try {
          await replaceFile(this.#file, content, PRIVATE_MODE);
        } catch (err) {
          await removeIfPresent(join(this.dir, fresh.privateKeyFile));
          throw err;
        }
        this.#state = await loadState(this.dir, content);
        // Only now that no keyring names it: the previous key never signs again. Keys of
        // rotations interrupted before this point are removed too.
        await removeIfPresent(join(this.dir, previous.privateKeyFile));
        for (const entry of this.#state.entries) if (entry.retireAt !== null) await removeIfPresent(join(this.dir, privateKeyFileOf(entry.kid)));
        return { kid: fresh.kid, retiring: previous.kid, retireAt };
      } finally {
        await release();
      }
    });
  }

  /**
   * Re-reads keyring.json; true when it changed (a rotation by another process). On error the
   * current keys stay in use and the error is thrown.
   */
  reload(): Promise<boolean> {
    return this.#exclusive(async () => {
      const text = await readKeyringText(this.#file);
      if (text === null) throw invalid(this.#file, 'the keyring file is missing');
      if (text === this.#state.content) return false;
      this.#state = await loadState(this.dir, text);
      return true;
    });
  }

  /**
   * Public keys not yet retired, active first. The same frozen object is returned until the set
   * changes, so verifiers rebuild their key resolver only then.
   */
  jwks(): JwkSet {
    const now = this.#now();
    const live = this.#state.entries.filter((entry) => entry.retireAt === null || entry.retireAt > now);
    const kids = live.map((entry) => entry.kid).join(' ');
    if (kids !== this.#jwksKids) {
      const keys = live.map((entry): JWK => Object.freeze({ ...entry.publicJwk, kid: entry.kid, alg: 'EdDSA', use: 'sig' }));
      this.#jwks = Object.freeze({ keys: Object.freeze(keys) });
      this.#jwksKids = kids;
    }
    return this.#jwks;
  }

  /** `previous`: replaced by a rotation but still accepted (overlap); `unknown`: not in the keyring. */
  status(kid: string): KeyStatus {
    const entry = this.#state.entries.find((candidate) => candidate.kid === kid);
    if (entry === undefined) return 'unknown';
    if (entry.retireAt === null) return 'active';
    return entry.retireAt > this.#now() ? 'previous' : 'retired';
  }

  /** The next time a key leaves the JWKS, or null: when to re-check live sessions. */
  nextRetirement(): number | null {
    const now = this.#now();
    let next: number | null = null;
    for (const { retireAt } of this.#state.entries) {
      if (retireAt !== null && retireAt > now && (next === null || retireAt < next)) next = retireAt;
    }
    return next;
  }

  /** Every key on record, newest first. */
  list(): KeyInfo[] {
    return this.#state.entries.map((entry) => ({ kid: entry.kid, createdAt: entry.createdAt, retireAt: entry.retireAt, status: this.status(entry.kid) }));
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

async function loadState(dir: string, content: string): Promise<KeyringState> {
  const file = join(dir, KEYRING_FILE);
  const entries = (await parseKeyring(file, content)).sort((a, b) => b.createdAt - a.createdAt);
  const active = entries.find((entry): entry is KeyringEntry & { privateKeyFile: string } => entry.retireAt === null && entry.privateKeyFile !== null);
  if (active === undefined) throw invalid(file, 'no active key');
  const { pem } = await readPrivateKey(join(dir, active.privateKeyFile), active.publicJwk.x);
  return { content, entries, active, signingKey: await importPKCS8(pem, 'EdDSA') };
}

/** First keyring of a folder. link(2) publishes it: when two processes race, the first one wins and the other adopts it. */
async function createKeyring(dir: string, now: number): Promise<void> {
  const legacyFile = join(dir, ISSUER_KEY_FILE);
  let entry: KeyringEntry;
  let generated: string | null = null;
  if (await fileExists(legacyFile)) {
    const { key } = await readPrivateKey(legacyFile, null);
    entry = { ...(await publicJwkOf(key)), createdAt: now, retireAt: null, privateKeyFile: ISSUER_KEY_FILE };
  } else {
    entry = await generateKey(dir, now);
    generated = join(dir, privateKeyFileOf(entry.kid));
  }
  try {
    await writeNewFile(join(dir, KEYRING_FILE), serialize([entry]), PRIVATE_MODE);
  } catch (err) {
    if (generated !== null) await removeIfPresent(generated);
    if (!(err instanceof SealbusError && err.code === 'SEALBUS_ERR_AUTH_FILE_EXISTS')) throw err;
  }
}
