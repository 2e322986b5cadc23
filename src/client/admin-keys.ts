/**
 * The key directory API of the SDK (`/v1/keys`): register this client's end-to-end public keys,
 * list and look up anyone's, revoke, and fetch the recipients a topic's batches are sealed to.
 * These are the clients' keys; the token issuer's signing keys are `Admin.listKeys()`.
 */
import type { DirectoryKey, Recipient } from '../broker/key-directory.js';
import type { EncryptionMode } from '../broker/topic-encryption.js';
import { SealbusError } from '../errors/index.js';
import { registrationProof, publicKeysOf, type ClientKeys } from '../payload/keys.js';
import type { HttpClient } from './https-client.js';

export type { DirectoryKey as ClientKeyInfo, KeyStatus as ClientKeyStatus, Recipient } from '../broker/key-directory.js';

/** What a registration returns: the two keys as the directory now holds them. */
export interface RegisteredClientKeys {
  readonly principal: string;
  readonly encryption: DirectoryKey;
  readonly signing: DirectoryKey;
}

/** Whether a topic requires encryption, the keys to seal its batches to, and the directory version they were chosen in. */
export interface TopicRecipients {
  readonly topic: string;
  /** `required`: the broker accepts only envelopes on this topic. */
  readonly encryption: EncryptionMode;
  readonly recipients: readonly Recipient[];
  readonly version: number;
}

/** Who the broker knows the caller as, and its clock: what a registration statement names. */
export interface RegistrationContext {
  readonly principal: string;
  readonly time: number;
}

function unexpected(what: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: `client: unexpected ${what}` });
}

function isKey(value: unknown): value is DirectoryKey {
  return typeof value === 'object' && value !== null && typeof (value as { keyId?: unknown }).keyId === 'string';
}

/** The principal the broker authenticated the caller as, and the broker's time. */
export async function registrationContext(http: HttpClient): Promise<RegistrationContext> {
  const { body } = await http.request('GET', '/v1/keys/registration');
  const context = body as { principal?: unknown; time?: unknown } | null;
  if (context === null || typeof context.principal !== 'string' || typeof context.time !== 'number') throw unexpected('registration context');
  return { principal: context.principal, time: context.time };
}

/**
 * Registers the public halves of `keys` for the authenticated principal, proving possession of
 * the signing key. Without `principal`, the broker is asked who the caller is (and its clock is
 * used for the statement's time); with it, the local clock is, and it must be the authenticated
 * name or the broker refuses (SEALBUS_ERR_KEY_REGISTRATION_INVALID). Registering the same keys
 * again changes nothing.
 *
 * @example
 * const keys = generateClientKeys();
 * await registerKeys(http, keys);
 */
export async function registerKeys(http: HttpClient, keys: ClientKeys, principal?: string): Promise<RegisteredClientKeys> {
  const context = principal === undefined ? await registrationContext(http) : { principal, time: Date.now() };
  const pub = publicKeysOf(keys);
  const { body } = await http.request('POST', '/v1/keys', {
    encryptionKey: pub.encryption.publicKey,
    signingKey: pub.signing.publicKey,
    time: context.time,
    proof: registrationProof(context.principal, keys, context.time),
  });
  const registered = body as Partial<RegisteredClientKeys> | null;
  if (registered === null || !isKey(registered.encryption) || !isKey(registered.signing)) throw unexpected('registration');
  return registered as RegisteredClientKeys;
}

/** Every registered key, or those of one principal (any authenticated principal may read them). */
export async function clientKeys(http: HttpClient, filter: { principal?: string } = {}): Promise<DirectoryKey[]> {
  const keys: DirectoryKey[] = [];
  let from: number | null = 0;
  while (from !== null) {
    const params = new URLSearchParams({ from: String(from) });
    if (filter.principal !== undefined) params.set('principal', filter.principal);
    const { body } = await http.request('GET', `/v1/keys?${params.toString()}`);
    const page = body as { keys?: unknown; next?: unknown } | null;
    if (page === null || !Array.isArray(page.keys) || !page.keys.every(isKey) || (page.next !== null && (typeof page.next !== 'number' || page.next <= from))) {
      throw unexpected('key list');
    }
    keys.push(...page.keys);
    from = page.next as number | null;
  }
  return keys;
}

/** One key by id; SEALBUS_ERR_KEY_NOT_FOUND when the directory has none. */
export async function clientKey(http: HttpClient, keyId: string): Promise<DirectoryKey> {
  const { body } = await http.request('GET', `/v1/keys/${encodeURIComponent(keyId)}`);
  if (!isKey(body)) throw unexpected('key');
  return body;
}

/**
 * Revokes a key: one's own, or anyone's with `manage-keys`. A revoked signing key signs no new
 * batch and a revoked encryption key gets no wrap; `revoked` is false if it was revoked already.
 */
export async function revokeClientKey(http: HttpClient, keyId: string, reason?: string): Promise<{ key: DirectoryKey; revoked: boolean }> {
  const { body } = await http.request('POST', `/v1/keys/${encodeURIComponent(keyId)}/revoke`, reason === undefined ? {} : { reason });
  const result = body as { key?: unknown; revoked?: unknown } | null;
  if (result === null || !isKey(result.key) || typeof result.revoked !== 'boolean') throw unexpected('revocation');
  return { key: result.key, revoked: result.revoked };
}

/** The encryption keys a producer seals `topic`'s batches to (`produce` on the topic). */
export async function topicRecipients(http: HttpClient, topic: string): Promise<TopicRecipients> {
  const { body } = await http.request('GET', `/v1/topics/${encodeURIComponent(topic)}/recipients`);
  const result = body as { topic?: unknown; encryption?: unknown; recipients?: unknown; version?: unknown } | null;
  if (
    result === null ||
    typeof result.topic !== 'string' ||
    (result.encryption !== 'none' && result.encryption !== 'required') ||
    !Array.isArray(result.recipients) ||
    typeof result.version !== 'number'
  ) {
    throw unexpected('recipients');
  }
  return result as TopicRecipients;
}
