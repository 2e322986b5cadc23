import { afterEach, describe, expect, it } from 'vitest';
import type { AuditAppendInput } from '../../src/audit/index.js';
import type { Actor } from '../../src/broker/access.js';
import { AuditTrail } from '../../src/broker/audit-trail.js';
import { KEYS_TOPIC, KeyDirectory, REGISTRATION_CLOCK_SKEW_MS, type RegisteredSubject } from '../../src/broker/key-directory.js';
import { SealbusError, isSealbusError } from '../../src/errors/index.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import type { LogStore } from '../../src/log/types.js';
import { generateClientKeys, publicKeysOf, registrationProof, rotateEncryptionKey, type ClientKeys } from '../../src/payload/keys.js';
import { codeOf } from '../helpers/error-code.js';
import { waitFor } from '../helpers/wait-for.js';

const clock = { now: Date.now() };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

function actor(name: string, groups: string[] = []): Actor {
  return { name, token: { groups, scopes: null, bound: true }, certificate: { spiffeId: null, subject: `CN=${name}`, fingerprint256: 'thumb' } };
}

async function openStore(): Promise<LogStore> {
  const store = new MemoryLogStore();
  await store.open();
  cleanups.push(() => store.close());
  return store;
}

interface Node {
  readonly directory: KeyDirectory;
  readonly errors: unknown[];
  readonly audit: AuditAppendInput[];
  readonly changes: number[];
}

async function openNode(store: LogStore): Promise<Node> {
  const errors: unknown[] = [];
  const audit: AuditAppendInput[] = [];
  const changes: number[] = [];
  const trail = new AuditTrail({
    sink: { available: true, unavailableReason: null, append: async (input) => audit.push(input) },
    failMode: 'closed',
    dataAccess: 'none',
  });
  const directory = new KeyDirectory({
    store,
    clock: () => clock.now,
    audit: trail,
    authorize: (who, action, resource) => {
      if (who.name !== 'admin') throw new SealbusError('SEALBUS_ERR_FORBIDDEN', { principal: who.name, action, resource: resource.kind });
    },
    onChanged: (version) => changes.push(version),
    onError: (err) => errors.push(err),
  });
  cleanups.push(() => directory.close());
  await directory.open();
  return { directory, errors, audit, changes };
}

/** What `registerKeys` of the SDK sends: the public halves, the time, and the proof. */
function request(principal: string, keys: ClientKeys, time = clock.now) {
  const pub = publicKeysOf(keys);
  return { encryptionKey: pub.encryption.publicKey, signingKey: pub.signing.publicKey, time, proof: registrationProof(principal, keys, time) };
}

async function highWatermark(store: LogStore): Promise<number> {
  return (await store.describeTopic(KEYS_TOPIC)).partitions[0]!.highWatermark;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
async function appendRaw(store: LogStore, value: Buffer | null): Promise<number> {
  return (await store.append(KEYS_TOPIC, 0, { records: encodeRecords([{ key: null, value }]) })).baseOffset;
}

describe('KeyDirectory', () => {
  it('keeps its topic forever: one partition, fsync always, no retention', async () => {
    const store = await openStore();
    await openNode(store);
    const { config, partitions } = await store.describeTopic(KEYS_TOPIC);
    expect(partitions).toHaveLength(1);
    expect(config).toMatchObject({ fsync: { mode: 'always' }, retentionMs: null, retentionBytes: null });
  });

  it('registers a principal’s own keys with ids it computes, records the event, and is idempotent', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const keys = generateClientKeys();
    const pub = publicKeysOf(keys);
    const registered = await a.directory.register(actor('alice', ['readers']), request('alice', keys));
    expect(registered).toMatchObject({
      principal: 'alice',
      created: true,
      encryption: { keyId: pub.encryption.keyId, publicKey: pub.encryption.publicKey, status: 'active', kind: 'encryption' },
      signing: { keyId: pub.signing.keyId, status: 'active', kind: 'signing' },
    });
    const signer = a.directory.signingKey(pub.signing.keyId)!;
    expect(signer).toMatchObject({ principal: 'alice', status: 'active' });
    expect(Buffer.from(signer.publicKey).equals(Buffer.from(keys.signing.publicKey))).toBe(true);
    expect(a.directory.encryptionKey(pub.encryption.keyId)?.principal).toBe('alice');
    // Ids name a kind: a signing key id is no encryption key.
    expect(a.directory.encryptionKey(pub.signing.keyId)).toBeNull();
    expect(a.audit.map((event) => [event.type, event.data?.['principal'], event.data?.['keyId'], event.data?.['encryptionKeyId']])).toEqual([
      ['sealbus.keys.register', 'alice', pub.signing.keyId, pub.encryption.keyId],
    ]);

    const again = await a.directory.register(actor('alice', ['readers']), request('alice', keys));
    expect(again.created).toBe(false);
    expect(await highWatermark(store)).toBe(1);
    expect(a.audit).toHaveLength(1);
  });

  it('rotation: the latest registration is active, earlier keys stay known as retired', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const first = generateClientKeys();
    await a.directory.register(actor('alice'), request('alice', first));
    const rotated = rotateEncryptionKey(first);
    await a.directory.register(actor('alice'), request('alice', rotated));
    const [oldEnc, newEnc, signing] = [publicKeysOf(first).encryption.keyId, publicKeysOf(rotated).encryption.keyId, publicKeysOf(first).signing.keyId];
    expect(a.directory.encryptionKey(oldEnc)?.status).toBe('retired');
    expect(a.directory.encryptionKey(newEnc)?.status).toBe('active');
    expect(a.directory.signingKey(signing)?.status).toBe('active');

    const second = { ...generateClientKeys(), previousEncryption: [] };
    await a.directory.register(actor('alice'), request('alice', second));
    // A retired signing key still verifies what it signed.
    expect(a.directory.signingKey(signing)).toMatchObject({ principal: 'alice', status: 'retired' });
    expect(a.directory.activeKeys('alice').signing?.keyId).toBe(publicKeysOf(second).signing.keyId);
    expect(a.directory.list({ principal: 'alice' }).map((key) => key.status).sort()).toEqual(['active', 'active', 'retired', 'retired', 'retired']);
    expect(a.directory.list({ principal: 'nobody' })).toEqual([]);
  });

  it('refuses a registration without proof of possession, with the exact code, writing nothing', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const keys = generateClientKeys();
    const other = generateClientKeys();
    const alice = actor('alice');
    // Signed by another key than the one registered.
    const wrongKey = { ...request('alice', keys), proof: request('alice', other).proof };
    // A proof bob made for his own registration, replayed by alice.
    const forBob = request('bob', keys);
    // Stale and future statements, correctly signed.
    const stale = request('alice', keys, clock.now - REGISTRATION_CLOCK_SKEW_MS - 1000);
    const future = request('alice', keys, clock.now + REGISTRATION_CLOCK_SKEW_MS + 1000);
    const zeroKey = { ...request('alice', keys), encryptionKey: Buffer.alloc(32).toString('base64url') };
    const notCanonical = { ...request('alice', keys), signingKey: `${request('alice', keys).signingKey.slice(0, 42)}B` };
    for (const bad of [wrongKey, forBob, stale, future, zeroKey, notCanonical, { ...request('alice', keys), proof: 'short' }]) {
      expect(await codeOf(a.directory.register(alice, bad))).toBe('SEALBUS_ERR_KEY_REGISTRATION_INVALID');
    }
    const refusal = await a.directory.register(alice, forBob).catch((err: SealbusError) => err);
    expect((refusal as SealbusError).message).toContain('proof does not verify');
    expect((await a.directory.register(alice, stale).catch((err: SealbusError) => err) as SealbusError).message).toContain("from the broker's clock");
    expect(await highWatermark(store)).toBe(0);
    expect(a.directory.list()).toEqual([]);
  });

  it('refuses a key another principal registered (KEY_CONFLICT), for either kind', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const aliceKeys = generateClientKeys();
    await a.directory.register(actor('alice'), request('alice', aliceKeys));
    // Bob got hold of alice's signing key: he still cannot publish it as his.
    const stolen = { ...generateClientKeys(), signing: aliceKeys.signing };
    expect(await codeOf(a.directory.register(actor('bob'), request('bob', stolen)))).toBe('SEALBUS_ERR_KEY_CONFLICT');
    // Alice's public encryption key under bob's own signing key: refused too.
    const copied = { ...generateClientKeys(), encryption: aliceKeys.encryption };
    const err = await a.directory.register(actor('bob'), request('bob', copied)).catch((caught: SealbusError) => caught);
    expect(isSealbusError(err, 'SEALBUS_ERR_KEY_CONFLICT')).toBe(true);
    expect((err as SealbusError).details?.['keyId']).toBe(publicKeysOf(aliceKeys).encryption.keyId);
    expect(await highWatermark(store)).toBe(1);
  });

  it('revokes own keys, others’ only with manage-keys, and never registers a revoked key again', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const keys = generateClientKeys();
    const { encryption, signing } = publicKeysOf(keys);
    await a.directory.register(actor('alice'), request('alice', keys));
    await a.directory.register(actor('bob'), request('bob', generateClientKeys()));
    const bobSigning = a.directory.activeKeys('bob').signing!.keyId;

    expect(await codeOf(a.directory.revoke(actor('alice'), bobSigning))).toBe('SEALBUS_ERR_FORBIDDEN');
    expect(a.directory.signingKey(bobSigning)?.status).toBe('active');
    expect(await codeOf(a.directory.revoke(actor('alice'), 'A'.repeat(43)))).toBe('SEALBUS_ERR_KEY_NOT_FOUND');

    const own = await a.directory.revoke(actor('alice'), signing.keyId, 'laptop lost');
    expect(own).toMatchObject({ revoked: true, key: { status: 'revoked', revokedBy: 'alice', reason: 'laptop lost', revokedAt: clock.now } });
    expect(a.directory.signingKey(signing.keyId)?.status).toBe('revoked');
    expect(a.directory.activeKeys('alice')).toMatchObject({ signing: null, encryption: { keyId: encryption.keyId } });
    expect((await a.directory.revoke(actor('alice'), signing.keyId)).revoked).toBe(false);

    expect((await a.directory.revoke(actor('admin'), bobSigning)).key.revokedBy).toBe('admin');
    expect(a.audit.filter((event) => event.type === 'sealbus.keys.revoke').map((event) => [event.data?.['principal'], event.data?.['keyId'], event.data?.['action']])).toEqual([
      ['alice', signing.keyId, undefined],
      ['admin', bobSigning, 'manage-keys'],
    ]);
    expect(await codeOf(a.directory.register(actor('alice'), request('alice', keys)))).toBe('SEALBUS_ERR_KEY_REGISTRATION_INVALID');
    expect(await highWatermark(store)).toBe(4);
  });

  it('replays the topic on open, and a second directory on the same store learns entries through the tail', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const b = await openNode(store);
    const keys = generateClientKeys();
    await a.directory.register(actor('alice', ['readers']), request('alice', keys));
    const signing = publicKeysOf(keys).signing.keyId;
    await waitFor(() => b.directory.signingKey(signing) !== null, 'b learns alice’s key');
    expect(b.changes).toEqual([1]);
    await b.directory.revoke(actor('alice'), signing);
    await waitFor(() => a.directory.signingKey(signing)?.status === 'revoked', 'a learns the revocation');

    const c = await openNode(store);
    expect(c.directory.list()).toEqual(a.directory.list());
    expect(c.directory.version).toBe(a.directory.version);
    expect(c.changes).toEqual([]);
    expect([...a.errors, ...b.errors, ...c.errors]).toEqual([]);
  });

  it('two brokers racing for one key: the log order decides, and both agree', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const b = await openNode(store);
    const shared = generateClientKeys().encryption;
    const alice = { ...generateClientKeys(), encryption: shared };
    const bob = { ...generateClientKeys(), encryption: shared };
    const codes = await Promise.all([codeOf(a.directory.register(actor('alice'), request('alice', alice))), codeOf(b.directory.register(actor('bob'), request('bob', bob)))]);
    expect(codes.filter((code) => code === 'accepted')).toHaveLength(1);
    expect(codes.filter((code) => code === 'SEALBUS_ERR_KEY_CONFLICT')).toHaveLength(1);
    const keyId = publicKeysOf(alice).encryption.keyId;
    await waitFor(() => a.directory.version === b.directory.version, 'both brokers applied every entry');
    expect(a.directory.encryptionKey(keyId)?.principal).toBe(b.directory.encryptionKey(keyId)?.principal);
    expect(a.directory.list()).toEqual(b.directory.list());
  });

  it('skips and reports malformed or refused records, live and on replay', async () => {
    const store = await openStore();
    const a = await openNode(store);
    const keys = generateClientKeys();
    const pub = publicKeysOf(keys);
    const entry = { kind: 'register', principal: 'alice', encryption: pub.encryption, signing: pub.signing, registeredAt: clock.now, subject: { groups: [], spiffeId: null } };
    const bad = [
      Buffer.from('not json'),
      null,
      json({ v: 2, ...entry }),
      json({ v: 1, ...entry, signing: { ...pub.signing, keyId: pub.encryption.keyId } }),
      json({ v: 1, ...entry, admin: true }),
      json({ v: 1, kind: 'revoke', keyId: pub.signing.keyId, principal: 'alice', revokedAt: 1, by: 'x', reason: null }),
    ];
    const offsets: number[] = [];
    for (const value of bad) offsets.push(await appendRaw(store, value));
    await appendRaw(store, json({ v: 1, ...entry }));
    // The same keys claimed by mallory later in the log: refused, the first registration stands.
    offsets.push(await appendRaw(store, json({ v: 1, ...entry, principal: 'mallory' })));
    await waitFor(() => a.errors.length === offsets.length, 'every bad record is reported');
    expect(a.directory.signingKey(pub.signing.keyId)).toMatchObject({ principal: 'alice', status: 'active' });
    const reported = (errors: unknown[]) => errors.map((err) => (isSealbusError(err) ? `${err.code}@${String(err.details?.['offset'])}` : String(err)));
    const expected = offsets.map((offset) => `SEALBUS_ERR_KEY_REGISTRATION_INVALID@${offset}`);
    expect(reported(a.errors)).toEqual(expected);
    expect(String((a.errors[3] as Error).message)).toContain('signing.keyId is not the id of signing.publicKey');

    const c = await openNode(store);
    expect(reported(c.errors)).toEqual(expected);
    expect(c.directory.list()).toEqual(a.directory.list());
  });
});

describe('KeyDirectory.recipients', () => {
  /** The policy of these tests: members of `readers` (and carol by name) may consume `orders`. */
  function policy(calls: string[] = []) {
    return (principal: string, subject: RegisteredSubject): boolean => {
      calls.push(principal);
      return subject.groups.includes('readers') || principal === 'carol';
    };
  }

  async function directoryWith(): Promise<{ a: Node; keys: Record<string, ClientKeys> }> {
    const a = await openNode(await openStore());
    const keys: Record<string, ClientKeys> = {};
    for (const [name, groups] of [['alice', ['readers']], ['bob', []], ['carol', []], ['dave', ['readers']]] as const) {
      keys[name] = generateClientKeys();
      await a.directory.register(actor(name, [...groups]), request(name, keys[name]));
    }
    return { a, keys };
  }

  const idOf = (keys: ClientKeys): string => publicKeysOf(keys).encryption.keyId;

  it('picks the active encryption keys of every principal the policy allows, sorted by key id', async () => {
    const { a, keys } = await directoryWith();
    const recipients = a.directory.recipients('orders', { isAllowedToConsume: policy() });
    expect(recipients.map((r) => r.principal).sort()).toEqual(['alice', 'carol', 'dave']);
    expect(recipients.map((r) => r.keyId)).toEqual([...recipients.map((r) => r.keyId)].sort());
    expect(recipients.find((r) => r.principal === 'alice')).toEqual({ principal: 'alice', keyId: idOf(keys['alice']!), publicKey: publicKeysOf(keys['alice']!).encryption.publicKey });
  });

  it('with an explicit list: exactly those principals, and still only if the policy allows them', async () => {
    const { a } = await directoryWith();
    const recipients = a.directory.recipients('orders', { isAllowedToConsume: policy(), explicit: ['alice', 'bob', 'unregistered'] });
    expect(recipients.map((r) => r.principal)).toEqual(['alice']);
  });

  it('gives no wrap to a retired or revoked encryption key', async () => {
    const { a, keys } = await directoryWith();
    const rotated = rotateEncryptionKey(keys['alice']!);
    await a.directory.register(actor('alice', ['readers']), request('alice', rotated));
    await a.directory.revoke(actor('dave'), idOf(keys['dave']!));
    const recipients = a.directory.recipients('orders', { isAllowedToConsume: policy() });
    expect(recipients.map((r) => [r.principal, r.keyId]).sort()).toEqual(
      [['alice', idOf(rotated)], ['carol', idOf(keys['carol']!)]].sort(),
    );
  });

  it('caches per topic and policy version until the directory changes', async () => {
    const { a, keys } = await directoryWith();
    const calls: string[] = [];
    const options = { isAllowedToConsume: policy(calls), policyVersion: 'v1' };
    const first = a.directory.recipients('orders', options);
    expect(calls).toHaveLength(4);
    expect(a.directory.recipients('orders', options)).toBe(first);
    expect(a.directory.recipientKeyIds('orders', options)).toEqual(new Set(first.map((r) => r.keyId)));
    expect(calls).toHaveLength(4);
    a.directory.recipients('orders', { ...options, policyVersion: 'v2' });
    expect(calls).toHaveLength(8);
    a.directory.recipients('orders', { ...options, policyVersion: 'v2', explicit: ['alice'] });
    expect(calls).toHaveLength(9);
    await a.directory.revoke(actor('carol'), idOf(keys['carol']!));
    const after = a.directory.recipients('orders', { ...options, policyVersion: 'v2' });
    expect(calls).toHaveLength(12);
    expect(after.map((r) => r.principal).sort()).toEqual(['alice', 'dave']);
  });
});
