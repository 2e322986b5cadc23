/**
 * The key directory in memory: what the entries of `__sealbus.keys`, applied in log order, say.
 * Pure and synchronous (the broker's produce path looks keys up here); the same entries in the
 * same order give the same state on every broker.
 */
import type { KeyKind } from '../payload/keys.js';
import type { KeyDirectoryEntry, RegisterEntry, RegisteredSubject, RevokeEntry } from './key-directory-entry.js';

/**
 * `active`: the principal's latest registration. `retired`: replaced by a later one; a retired
 * signing key still verifies what it signed, a retired encryption key gets no new wraps.
 * `revoked`: refused for new batches (signing) and never wrapped to (encryption).
 */
export type KeyStatus = 'active' | 'retired' | 'revoked';

/** A key as listed: public material and state, nothing secret. */
export interface DirectoryKey {
  readonly principal: string;
  readonly kind: KeyKind;
  readonly keyId: string;
  readonly publicKey: string;
  readonly status: KeyStatus;
  readonly registeredAt: number;
  readonly revokedAt?: number;
  readonly revokedBy?: string;
  readonly reason?: string;
}

/** What the hot path needs of a key. `publicKey` is a copy: changing it changes nothing here. */
export interface KeyLookup {
  readonly principal: string;
  readonly publicKey: Uint8Array;
  readonly status: KeyStatus;
}

/** A key to seal a topic's content keys to. */
export interface Recipient {
  readonly principal: string;
  readonly keyId: string;
  /** X25519 public key, base64url. */
  readonly publicKey: string;
}

export interface RecipientOptions {
  /**
   * Whether the policy lets `principal` consume the topic, judged on the subject it registered
   * with (no source address, no live session: conditions that need one do not hold).
   */
  readonly isAllowedToConsume: (principal: string, subject: RegisteredSubject) => boolean;
  /** The topic's explicit recipients (its settings), or null: every principal the policy allows. */
  readonly explicit?: readonly string[] | null;
  /**
   * The version of the policy `isAllowedToConsume` applies. Given, answers are cached per topic
   * until the policy or the directory changes; absent, nothing is cached.
   */
  readonly policyVersion?: string;
}

export interface ApplyOutcome {
  readonly changed: boolean;
  /** Why the entry was refused (it changed nothing), or null. */
  readonly problem: string | null;
}

interface StoredKey {
  readonly kind: KeyKind;
  readonly keyId: string;
  readonly principal: string;
  readonly publicKey: string;
  readonly bytes: Uint8Array;
  readonly registeredAt: number;
  revoked: { readonly at: number; readonly by: string; readonly reason: string | null } | null;
}

interface PrincipalKeys {
  encryption: string;
  signing: string;
  subject: RegisteredSubject;
  readonly keyIds: string[];
}

interface CachedRecipients {
  readonly policyVersion: string;
  readonly directoryVersion: number;
  readonly explicit: string | null;
  readonly recipients: readonly Recipient[];
  readonly keyIds: ReadonlySet<string>;
}

/** Topics whose recipients are kept; beyond it, the oldest answer goes. */
const MAX_CACHED_TOPICS = 1024;
const UNCHANGED: ApplyOutcome = Object.freeze({ changed: false, problem: null });

function sameSubject(a: RegisteredSubject, b: RegisteredSubject): boolean {
  return a.spiffeId === b.spiffeId && a.groups.length === b.groups.length && a.groups.every((group, index) => group === b.groups[index]);
}

function byKeyId(a: { keyId: string }, b: { keyId: string }): number {
  return a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
}

export class KeyDirectoryState {
  readonly #keys = new Map<string, StoredKey>();
  readonly #principals = new Map<string, PrincipalKeys>();
  readonly #cache = new Map<string, CachedRecipients>();
  #version = 0;

  /** Grows by one with every entry that changed something: a cache of anything derived keys on it. */
  get version(): number {
    return this.#version;
  }

  get keyCount(): number {
    return this.#keys.size;
  }

  keyCountOf(principal: string): number {
    return this.#principals.get(principal)?.keyIds.length ?? 0;
  }

  apply(entry: KeyDirectoryEntry): ApplyOutcome {
    const outcome = entry.kind === 'register' ? this.#register(entry) : this.#revoke(entry);
    if (outcome.changed) {
      this.#version += 1;
      this.#cache.clear();
    }
    return outcome;
  }

  /** Who registered the key (either kind), or null. */
  owner(keyId: string): string | null {
    return this.#keys.get(keyId)?.principal ?? null;
  }

  lookup(kind: KeyKind, keyId: string): KeyLookup | null {
    const key = this.#keys.get(keyId);
    if (key === undefined || key.kind !== kind) return null;
    return { principal: key.principal, publicKey: key.bytes.slice(), status: this.#status(key) };
  }

  describe(keyId: string): DirectoryKey | null {
    const key = this.#keys.get(keyId);
    return key === undefined ? null : this.#describe(key);
  }

  subjectOf(principal: string): RegisteredSubject | null {
    return this.#principals.get(principal)?.subject ?? null;
  }

  /** The principal's latest registration; a revoked key is reported as null (it is not usable). */
  activeKeys(principal: string): { encryption: DirectoryKey | null; signing: DirectoryKey | null } {
    const state = this.#principals.get(principal);
    if (state === undefined) return { encryption: null, signing: null };
    const usable = (keyId: string): DirectoryKey | null => {
      const key = this.#keys.get(keyId)!;
      return key.revoked === null ? this.#describe(key) : null;
    };
    return { encryption: usable(state.encryption), signing: usable(state.signing) };
  }

  /** Every key (of one principal), by principal, newest registration first. */
  list(principal?: string): DirectoryKey[] {
    const principals = principal === undefined ? [...this.#principals.keys()].sort() : this.#principals.has(principal) ? [principal] : [];
    const listed: DirectoryKey[] = [];
    for (const name of principals) {
      const keys = this.#principals.get(name)!.keyIds.map((keyId) => this.#keys.get(keyId)!);
      keys.sort((a, b) => b.registeredAt - a.registeredAt || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : byKeyId(a, b)));
      for (const key of keys) listed.push(this.#describe(key));
    }
    return listed;
  }

  /**
   * The active, unrevoked encryption keys of the principals allowed to consume `topic` (the whole
   * directory, or only the explicit list), sorted by key id. Principals without such a key are
   * left out: a revoked or retired key gets no wrap.
   */
  recipients(topic: string, options: RecipientOptions): readonly Recipient[] {
    return this.#recipients(topic, options).recipients;
  }

  /** The key ids of `recipients`, as a set (what the produce path compares an envelope with). */
  recipientKeyIds(topic: string, options: RecipientOptions): ReadonlySet<string> {
    return this.#recipients(topic, options).keyIds;
  }

  #recipients(topic: string, options: RecipientOptions): CachedRecipients {
    const explicit = options.explicit === undefined || options.explicit === null ? null : JSON.stringify([...new Set(options.explicit)].sort());
    const cached = this.#cache.get(topic);
    if (
      cached !== undefined &&
      options.policyVersion !== undefined &&
      cached.policyVersion === options.policyVersion &&
      cached.directoryVersion === this.#version &&
      cached.explicit === explicit
    ) {
      return cached;
    }
    const candidates = options.explicit === undefined || options.explicit === null ? this.#principals.keys() : new Set(options.explicit);
    const recipients: Recipient[] = [];
    for (const principal of candidates) {
      const state = this.#principals.get(principal);
      if (state === undefined) continue;
      const key = this.#keys.get(state.encryption)!;
      if (key.revoked !== null) continue;
      if (!options.isAllowedToConsume(principal, state.subject)) continue;
      recipients.push({ principal, keyId: key.keyId, publicKey: key.publicKey });
    }
    recipients.sort(byKeyId);
    const entry: CachedRecipients = {
      policyVersion: options.policyVersion ?? '',
      directoryVersion: this.#version,
      explicit,
      recipients: Object.freeze(recipients.map((recipient) => Object.freeze(recipient))),
      keyIds: new Set(recipients.map((recipient) => recipient.keyId)),
    };
    if (options.policyVersion !== undefined) {
      this.#cache.delete(topic);
      if (this.#cache.size >= MAX_CACHED_TOPICS) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(topic, entry);
    }
    return entry;
  }

  #status(key: StoredKey): KeyStatus {
    if (key.revoked !== null) return 'revoked';
    const state = this.#principals.get(key.principal)!;
    return (key.kind === 'encryption' ? state.encryption : state.signing) === key.keyId ? 'active' : 'retired';
  }

  #describe(key: StoredKey): DirectoryKey {
    return {
      principal: key.principal,
      kind: key.kind,
      keyId: key.keyId,
      publicKey: key.publicKey,
      status: this.#status(key),
      registeredAt: key.registeredAt,
      ...(key.revoked !== null && { revokedAt: key.revoked.at, revokedBy: key.revoked.by }),
      ...(key.revoked !== null && key.revoked.reason !== null && { reason: key.revoked.reason }),
    };
  }

  /**
   * A registration makes its two keys the principal's active ones (the previous ones retire). It is
   * refused whole when a key belongs to another principal (the first registration in the log
   * wins, on every broker alike) or was revoked (a revoked key never comes back).
   */
  #register(entry: RegisterEntry): ApplyOutcome {
    const refs = [
      { kind: 'encryption' as const, ref: entry.encryption },
      { kind: 'signing' as const, ref: entry.signing },
    ];
    for (const { kind, ref } of refs) {
      const existing = this.#keys.get(ref.keyId);
      if (existing === undefined) continue;
      if (existing.principal !== entry.principal) return { changed: false, problem: `${kind} key ${ref.keyId} is registered by another principal` };
      if (existing.kind !== kind) return { changed: false, problem: `key ${ref.keyId} is registered as a ${existing.kind} key` };
      if (existing.revoked !== null) return { changed: false, problem: `${kind} key ${ref.keyId} is revoked` };
    }
    let state = this.#principals.get(entry.principal);
    let changed = false;
    if (state === undefined) {
      state = { encryption: entry.encryption.keyId, signing: entry.signing.keyId, subject: entry.subject, keyIds: [] };
      this.#principals.set(entry.principal, state);
      changed = true;
    }
    for (const { kind, ref } of refs) {
      if (!this.#keys.has(ref.keyId)) {
        const bytes = new Uint8Array(Buffer.from(ref.publicKey, 'base64url'));
        this.#keys.set(ref.keyId, { kind, keyId: ref.keyId, principal: entry.principal, publicKey: ref.publicKey, bytes, registeredAt: entry.registeredAt, revoked: null });
        state.keyIds.push(ref.keyId);
        changed = true;
      }
    }
    if (state.encryption !== entry.encryption.keyId || state.signing !== entry.signing.keyId || !sameSubject(state.subject, entry.subject)) {
      state.encryption = entry.encryption.keyId;
      state.signing = entry.signing.keyId;
      state.subject = entry.subject;
      changed = true;
    }
    return changed ? { changed, problem: null } : UNCHANGED;
  }

  #revoke(entry: RevokeEntry): ApplyOutcome {
    const key = this.#keys.get(entry.keyId);
    if (key === undefined) return { changed: false, problem: `key ${entry.keyId} is not registered` };
    if (key.principal !== entry.principal) return { changed: false, problem: `key ${entry.keyId} is not a key of the principal the entry names` };
    if (key.revoked !== null) return UNCHANGED;
    key.revoked = { at: entry.revokedAt, by: entry.by, reason: entry.reason };
    return { changed: true, problem: null };
  }
}
