/**
 * The key directory: every principal's public end-to-end keys (an X25519 encryption key that
 * producers seal content keys to, an Ed25519 signing key that verifies what it produced), kept
 * durably in the internal topic `__sealbus.keys` and in memory for the produce path.
 *
 * Who may do what:
 *
 * - Register: any authenticated principal, its own keys only (the principal is the session's,
 *   never the request's), proving that it holds the signing key by signing a statement that names
 *   it, both keys and the time. Registering grants no right: a key is bound to the principal that
 *   proved possession of it, and the policy alone decides what that principal may produce or
 *   consume. A key already registered by another principal is refused (SEALBUS_ERR_KEY_CONFLICT):
 *   nobody takes over a key someone else published.
 * - Revoke: one's own keys, or any key with `manage-keys` on the cluster.
 * - Read: any authenticated principal; public keys are public, and a producer needs them to seal.
 */
import { createPublicKey, verify } from 'node:crypto';
import nacl from 'tweetnacl';
import { isPrintableName } from '../auth/text.js';
import { SealbusError } from '../errors/index.js';
import type { LogStore } from '../log/types.js';
import { keyIdOf, registrationStatement, type PublicClientKeys } from '../payload/keys.js';
import type { Actor } from './access.js';
import { auditText } from './audit-event-data.js';
import { silentAuditTrail, type AuditTrail } from './audit-trail.js';
import { MAX_REASON_LENGTH, decodePublicKey, isKeyId, validateSubject, type KeyDirectoryEntry, type RegisteredSubject } from './key-directory-entry.js';
import { KeyDirectoryLog } from './key-directory-log.js';
import { KeyDirectoryState, type DirectoryKey, type KeyLookup, type Recipient, type RecipientOptions } from './key-directory-state.js';

export { KEYS_TOPIC, type RegisteredSubject } from './key-directory-entry.js';
export type { DirectoryKey, KeyLookup, KeyStatus, Recipient, RecipientOptions } from './key-directory-state.js';

const CLUSTER = { kind: 'cluster' } as const;
/** How far the time of a registration may be from the broker's clock. */
export const REGISTRATION_CLOCK_SKEW_MS = 5 * 60_000;
const PROOF = /^[A-Za-z0-9_-]{86}$/;
const DEFAULT_MAX_KEYS = 100_000;
const DEFAULT_MAX_KEYS_PER_PRINCIPAL = 1_000;

/** What a principal sends to register its keys (the public halves, base64url). */
export interface KeyRegistrationRequest {
  readonly encryptionKey: string;
  readonly signingKey: string;
  /** Milliseconds since the epoch, as signed in the statement. */
  readonly time: number;
  /** Ed25519 signature (base64url) over `registrationStatement(principal, keys, time)`. */
  readonly proof: string;
}

export interface RegisteredKeys {
  readonly principal: string;
  readonly encryption: DirectoryKey;
  readonly signing: DirectoryKey;
  /** False when these keys were already the principal's active keys (nothing was written). */
  readonly created: boolean;
}

export interface KeyDirectoryOptions {
  readonly store: LogStore;
  /** Throws SEALBUS_ERR_FORBIDDEN unless the actor may (the broker's authorize). */
  readonly authorize: (actor: Actor, action: 'manage-keys', resource: { kind: 'cluster' }) => void;
  readonly clock?: () => number;
  /** Records registrations and revocations (public key ids only); default: nowhere. */
  readonly audit?: AuditTrail;
  /** The directory changed (from this broker or another): caches of recipients are stale. */
  readonly onChanged?: (version: number) => void;
  /** Malformed or refused records (skipped), read failures (retried), a throwing onChanged. Never fatal. */
  readonly onError?: (err: unknown) => void;
  /** Bounds on what registrations may add (entries from the log are applied regardless). */
  readonly maxKeys?: number;
  readonly maxKeysPerPrincipal?: number;
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_KEY_REGISTRATION_INVALID', { reason }, { details: { reason } });
}

function conflict(keyId: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_KEY_CONFLICT', { keyId }, { details: { keyId } });
}

function notFound(keyId: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_KEY_NOT_FOUND', { keyId }, { details: { keyId } });
}

/** An X25519 key of small order gives every sender the same shared secret: whatever is sealed to it is open. */
function isWeakEncryptionKey(publicKey: Uint8Array): boolean {
  return nacl.scalarMult(nacl.randomBytes(32), publicKey).every((byte) => byte === 0);
}

function proofVerifies(statement: Buffer, signingKey: string, proof: string): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: signingKey }, format: 'jwk' });
    return verify(null, statement, key, Buffer.from(proof, 'base64url'));
  } catch {
    return false;
  }
}

/**
 * The public keys of a registration, with ids computed here, once its proof of possession holds:
 * a signature by the signing key over a statement naming the authenticated principal, both keys
 * and a time close to the broker's. Throws SEALBUS_ERR_KEY_REGISTRATION_INVALID saying what fails.
 */
function verifiedKeys(principal: string, request: KeyRegistrationRequest, now: number): PublicClientKeys {
  const encryptionBytes = decodePublicKey(request.encryptionKey, 'encryptionKey');
  const signingBytes = decodePublicKey(request.signingKey, 'signingKey');
  if (isWeakEncryptionKey(encryptionBytes)) throw invalid('encryptionKey is a point of small order: anything sealed to it could be opened by anyone');
  const keys: PublicClientKeys = {
    encryption: { keyId: keyIdOf('encryption', encryptionBytes), publicKey: request.encryptionKey },
    signing: { keyId: keyIdOf('signing', signingBytes), publicKey: request.signingKey },
  };
  if (typeof request.time !== 'number' || !Number.isSafeInteger(request.time)) throw invalid('time must be milliseconds since the epoch');
  if (Math.abs(request.time - now) > REGISTRATION_CLOCK_SKEW_MS) {
    throw invalid(`time is ${Math.round((request.time - now) / 1000)} s from the broker's clock (at most ±${REGISTRATION_CLOCK_SKEW_MS / 1000} s): sign a fresh statement, and check the clock`);
  }
  if (typeof request.proof !== 'string' || !PROOF.test(request.proof)) throw invalid('proof must be an Ed25519 signature in base64url (86 characters)');
  if (!proofVerifies(registrationStatement(principal, keys, request.time), request.signingKey, request.proof)) {
    throw invalid(`proof does not verify with signingKey over the registration statement of ${principal}: sign it with the key being registered, naming the principal you authenticate as`);
  }
  return keys;
}

/** The subject the policy will see for this principal when someone else produces. */
function subjectOf(actor: Actor): RegisteredSubject {
  try {
    return validateSubject({ groups: [...(actor.token?.groups ?? [])], spiffeId: actor.certificate?.spiffeId ?? null });
  } catch (err) {
    throw invalid(`your credentials cannot be kept with the keys: ${(err as SealbusError).details?.['reason'] ?? 'invalid subject'}`);
  }
}

/**
 * Open it before serving and close it before the store. Lookups are synchronous and in memory;
 * they answer from what this broker has applied, which includes every registration it
 * acknowledged and, within the tail's latency, those of other brokers.
 *
 * @example
 * const keys = new KeyDirectory({ store, authorize: (actor, action, resource) => broker.authorize(actor, action, resource), audit });
 * await keys.open();
 * const signer = keys.signingKey(envelope.signerKeyId); // null, or { principal, publicKey, status }
 */
export class KeyDirectory {
  readonly #state = new KeyDirectoryState();
  readonly #log: KeyDirectoryLog;
  readonly #authorize: KeyDirectoryOptions['authorize'];
  readonly #clock: () => number;
  readonly #audit: AuditTrail;
  readonly #onChanged: ((version: number) => void) | undefined;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #maxKeys: number;
  readonly #maxKeysPerPrincipal: number;

  constructor(options: KeyDirectoryOptions) {
    this.#authorize = options.authorize;
    this.#clock = options.clock ?? Date.now;
    this.#audit = options.audit ?? silentAuditTrail();
    this.#onChanged = options.onChanged;
    this.#onError = options.onError;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.#maxKeysPerPrincipal = options.maxKeysPerPrincipal ?? DEFAULT_MAX_KEYS_PER_PRINCIPAL;
    for (const [name, value] of [['maxKeys', this.#maxKeys], ['maxKeysPerPrincipal', this.#maxKeysPerPrincipal]] as const) {
      if (!Number.isSafeInteger(value) || value < 2) throw new RangeError(`${name} must be an integer of at least 2`);
    }
    this.#log = new KeyDirectoryLog({ store: options.store, apply: (entry, offset) => this.#apply(entry, offset), report: (err) => this.#report(err) });
  }

  /**
   * Creates the topic if missing and replays it; then follows it. Fails (fail closed) when the
   * store cannot be read: a broker must not check signatures against half a directory. Changes
   * replayed here are not passed to onChanged.
   */
  async open(): Promise<void> {
    await this.#log.open();
  }

  /** Stops following the topic; lookups keep answering from what was applied. */
  close(): void {
    this.#log.close();
  }

  /** Grows with every change: derive caches from it. */
  get version(): number {
    return this.#state.version;
  }

  /** Registers the actor's own keys; see the class comment for the checks. */
  async register(actor: Actor, request: KeyRegistrationRequest): Promise<RegisteredKeys> {
    this.#assertOpen();
    const principal = actor.name;
    if (typeof principal !== 'string' || !isPrintableName(principal)) throw invalid('the principal name is not printable text of at most 256 characters');
    const now = this.#clock();
    const keys = verifiedKeys(principal, request, now);
    const subject = subjectOf(actor);
    let fresh = 0;
    for (const ref of [keys.encryption, keys.signing]) {
      const known = this.#state.describe(ref.keyId);
      if (known === null) fresh += 1;
      else if (known.principal !== principal) throw conflict(ref.keyId);
      else if (known.status === 'revoked') throw invalid(`key ${ref.keyId} is revoked: generate a new one`);
    }
    const active = this.#state.activeKeys(principal);
    const current = this.#state.subjectOf(principal);
    if (
      active.encryption?.keyId === keys.encryption.keyId &&
      active.signing?.keyId === keys.signing.keyId &&
      current !== null &&
      JSON.stringify(current) === JSON.stringify(subject)
    ) {
      return { principal, encryption: active.encryption, signing: active.signing, created: false };
    }
    if (this.#state.keyCount + fresh > this.#maxKeys) throw invalid(`the key directory holds its maximum of ${this.#maxKeys} keys`);
    if (this.#state.keyCountOf(principal) + fresh > this.#maxKeysPerPrincipal) {
      throw invalid(`${principal} has registered its maximum of ${this.#maxKeysPerPrincipal} keys`);
    }

    this.#audit.assertAvailable();
    await this.#log.append({ kind: 'register', principal, encryption: keys.encryption, signing: keys.signing, registeredAt: now, subject });
    // Another broker may have written a conflicting entry first: the log order decides.
    const encryption = this.#state.describe(keys.encryption.keyId);
    const signing = this.#state.describe(keys.signing.keyId);
    for (const [ref, key] of [[keys.encryption, encryption], [keys.signing, signing]] as const) {
      if (key === null || key.principal !== principal) throw conflict(ref.keyId);
      if (key.status === 'revoked') throw invalid(`key ${ref.keyId} is revoked: generate a new one`);
    }
    await this.#audit.admin('sealbus.keys.register', actor, CLUSTER, {
      keyId: keys.signing.keyId,
      signingKeyId: keys.signing.keyId,
      encryptionKeyId: keys.encryption.keyId,
    });
    return { principal, encryption: encryption!, signing: signing!, created: true };
  }

  /**
   * Revokes a key: the actor's own, or any with `manage-keys` on the cluster. A revoked signing
   * key signs no new batch; a revoked encryption key gets no wrap. `revoked` is false when it was
   * revoked already (nothing is written).
   */
  async revoke(actor: Actor, keyId: string, reason?: string): Promise<{ key: DirectoryKey; revoked: boolean }> {
    this.#assertOpen();
    if (!isKeyId(keyId)) throw notFound(String(keyId).slice(0, 64));
    if (reason !== undefined && (typeof reason !== 'string' || !isPrintableName(reason, MAX_REASON_LENGTH))) {
      throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `reason must be printable text of at most ${MAX_REASON_LENGTH} characters` });
    }
    const key = this.#state.describe(keyId);
    if (key === null) throw notFound(keyId);
    if (key.principal !== actor.name) this.#authorize(actor, 'manage-keys', CLUSTER);
    if (key.status === 'revoked') return { key, revoked: false };
    this.#audit.assertAvailable();
    await this.#log.append({ kind: 'revoke', keyId, principal: key.principal, revokedAt: this.#clock(), by: actor.name, reason: reason ?? null });
    await this.#audit.admin('sealbus.keys.revoke', actor, CLUSTER, {
      // Revoking one's own key needs no right; someone else's is a use of manage-keys.
      ...(key.principal !== actor.name && { action: 'manage-keys' }),
      keyId,
      keyKind: key.kind,
      keyPrincipal: auditText(key.principal),
      ...(reason !== undefined && reason !== '' && { reason: auditText(reason) }),
    });
    return { key: this.#state.describe(keyId)!, revoked: true };
  }

  /** A signing key by id (hot path): its owner, bytes and status; null when unknown. */
  signingKey(keyId: string): KeyLookup | null {
    return this.#state.lookup('signing', keyId);
  }

  /** An encryption key by id (hot path); null when unknown. */
  encryptionKey(keyId: string): KeyLookup | null {
    return this.#state.lookup('encryption', keyId);
  }

  /** One key of either kind, as listed; null when unknown. */
  key(keyId: string): DirectoryKey | null {
    return this.#state.describe(keyId);
  }

  /** The principal's active keys; null for a kind it has none of (never registered, or revoked). */
  activeKeys(principal: string): { encryption: DirectoryKey | null; signing: DirectoryKey | null } {
    return this.#state.activeKeys(principal);
  }

  /** Every key, or those of one principal: by principal, newest registration first. */
  list(filter: { principal?: string } = {}): DirectoryKey[] {
    return this.#state.list(filter.principal);
  }

  /**
   * The keys to seal a topic's batches to: the active, unrevoked encryption key of every
   * registered principal the policy allows to consume the topic (judged on the subject it
   * registered with), or of the topic's explicit recipients, who still need the policy's consent:
   * an explicit list narrows, it never grants. Sorted by key id; cached per topic while the policy
   * version and the directory stay the same.
   */
  recipients(topic: string, options: RecipientOptions): readonly Recipient[] {
    return this.#state.recipients(topic, options);
  }

  /** The key ids of `recipients(topic, options)` as a set, from the same cache (the produce path's check). */
  recipientKeyIds(topic: string, options: RecipientOptions): ReadonlySet<string> {
    return this.#state.recipientKeyIds(topic, options);
  }

  #assertOpen(): void {
    if (!this.#log.isOpen) throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
  }

  #apply(entry: KeyDirectoryEntry, offset: number): void {
    const outcome = this.#state.apply(entry);
    if (outcome.problem !== null) {
      const reason = `key directory record ${offset} is not applied: ${outcome.problem}`;
      this.#report(new SealbusError('SEALBUS_ERR_KEY_REGISTRATION_INVALID', { reason }, { details: { reason, offset } }));
    }
    if (outcome.changed && this.#log.isOpen && this.#onChanged !== undefined) {
      try {
        this.#onChanged(this.#state.version);
      } catch (err) {
        this.#report(err);
      }
    }
  }

  #report(err: unknown): void {
    try {
      this.#onError?.(err);
    } catch {
      // A failing error hook must not stop the tail.
    }
  }
}
