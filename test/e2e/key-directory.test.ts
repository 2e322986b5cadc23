import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../src/client/index.js';
import { KEYS_TOPIC } from '../../src/broker/key-directory.js';
import { generateClientKeys, publicKeysOf, registrationProof, rotateEncryptionKey, type ClientKeys } from '../../src/payload/keys.js';
import { codeOf } from '../helpers/error-code.js';
import { adminPolicy } from '../helpers/policies.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';

const POLICIES = {
  'admin.yaml': adminPolicy(),
  'apps.yaml': `
version: 1
rules:
  - id: team-orders
    effect: allow
    principals: [{name: alice}, {name: bob}, {name: carol}, {name: dave}]
    resources: [{topic: "orders.>"}]
    actions: [produce, consume, describe]
  - id: reader-orders
    effect: allow
    principals: [{name: reader}]
    resources: [{topic: "orders.>"}]
    actions: [consume, describe]
`,
};

type Credentials = ClientCredentials & { token: string };

/** The body of POST /v1/keys, as the SDK builds it. */
function registration(principal: string, keys: ClientKeys, time = Date.now()) {
  const pub = publicKeysOf(keys);
  return { encryptionKey: pub.encryption.publicKey, signingKey: pub.signing.publicKey, time, proof: registrationProof(principal, keys, time) };
}

/** The key directory over HTTPS, from the attacker's side as much as the owner's. */
describe('the key directory API', () => {
  let t: TestBroker;
  const people: Record<string, Credentials> = {};
  const admins: Admin[] = [];

  function adminAs(name: string): Admin {
    const who = people[name]!;
    const admin = new Admin({ connection: { url: t.url, ca: t.ca, cert: who.cert, key: who.key, token: () => who.token } });
    admins.push(admin);
    return admin;
  }

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES });
    for (const name of ['alice', 'bob', 'carol', 'dave', 'reader', 'mallory']) people[name] = await t.client(name);
    expect((await t.request('POST', '/v1/topics', { body: { name: 'orders.eu', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => {
    for (const admin of admins) admin.close();
    await t?.close();
  });

  it('registers two principals through the SDK; anyone authenticated reads the public keys', async () => {
    const aliceKeys = generateClientKeys();
    const bobKeys = generateClientKeys();
    const alice = await adminAs('alice').registerClientKeys(aliceKeys);
    expect(alice).toMatchObject({ principal: 'alice', encryption: { keyId: publicKeysOf(aliceKeys).encryption.keyId, status: 'active' } });
    await adminAs('bob').registerClientKeys(bobKeys, 'bob');

    const listed = await t.request('GET', '/v1/keys?principal=bob', { credentials: people['mallory']! });
    expect(listed.status).toBe(200);
    expect(listed.body.keys.map((key: { keyId: string }) => key.keyId).sort()).toEqual(
      [publicKeysOf(bobKeys).encryption.keyId, publicKeysOf(bobKeys).signing.keyId].sort(),
    );
    const one = await adminAs('mallory').clientKey(publicKeysOf(aliceKeys).signing.keyId);
    expect(one).toMatchObject({ principal: 'alice', kind: 'signing', status: 'active', publicKey: publicKeysOf(aliceKeys).signing.publicKey });
    expect(await codeOf(adminAs('mallory').clientKey('A'.repeat(43)))).toBe('SEALBUS_ERR_KEY_NOT_FOUND');
    // Registering the same keys again is no new registration.
    expect((await t.request('POST', '/v1/keys', { credentials: people['alice']!, body: registration('alice', aliceKeys) })).status).toBe(200);
    // The directory lives in an internal topic no client reaches.
    expect((await t.request('GET', `/v1/topics/${KEYS_TOPIC}`)).status).not.toBe(200);
  });

  it('refuses what an attacker tries, with the exact code', async () => {
    const carolKeys = generateClientKeys();
    const mallory = people['mallory']!;
    // A registration carol signed, replayed by mallory as hers: the statement names carol.
    const replayed = await t.request('POST', '/v1/keys', { credentials: mallory, body: registration('carol', carolKeys) });
    expect([replayed.status, replayed.body.code]).toEqual([400, 'SEALBUS_ERR_KEY_REGISTRATION_INVALID']);
    // Carol registers; mallory, holding a copy of carol's signing key, cannot register it as hers.
    expect((await t.request('POST', '/v1/keys', { credentials: people['carol']!, body: registration('carol', carolKeys) })).status).toBe(201);
    const stolen = { ...generateClientKeys(), signing: carolKeys.signing };
    const conflict = await t.request('POST', '/v1/keys', { credentials: mallory, body: registration('mallory', stolen) });
    expect([conflict.status, conflict.body.code]).toEqual([409, 'SEALBUS_ERR_KEY_CONFLICT']);
    // Nor carol's public encryption key under her own signing key.
    const copied = { ...generateClientKeys(), encryption: carolKeys.encryption };
    expect((await t.request('POST', '/v1/keys', { credentials: mallory, body: registration('mallory', copied) })).body.code).toBe('SEALBUS_ERR_KEY_CONFLICT');
    // A signature by another key than the one registered.
    const forged = { ...registration('mallory', generateClientKeys()), proof: registration('mallory', generateClientKeys()).proof };
    expect((await t.request('POST', '/v1/keys', { credentials: mallory, body: forged })).body.code).toBe('SEALBUS_ERR_KEY_REGISTRATION_INVALID');
    // Fields the broker would have to trust are not accepted at all.
    const withKeyId = { ...registration('mallory', generateClientKeys()), keyId: publicKeysOf(carolKeys).signing.keyId };
    expect((await t.request('POST', '/v1/keys', { credentials: mallory, body: withKeyId })).status).toBe(400);
    // Without a token, nothing.
    const tokenless = await t.request('POST', '/v1/keys', { credentials: { cert: mallory.cert, key: mallory.key }, body: registration('mallory', generateClientKeys()) });
    expect(tokenless.status).toBe(401);
    // Revoking carol's key needs manage-keys.
    const revoke = await t.request('POST', `/v1/keys/${publicKeysOf(carolKeys).signing.keyId}/revoke`, { credentials: mallory, body: {} });
    expect([revoke.status, revoke.body.code]).toEqual([403, 'SEALBUS_ERR_FORBIDDEN']);
    expect((await adminAs('mallory').clientKey(publicKeysOf(carolKeys).signing.keyId)).status).toBe('active');
  });

  it('revokes one’s own key, and anyone’s with manage-keys; both are audited', async () => {
    const daveKeys = generateClientKeys();
    await adminAs('dave').registerClientKeys(daveKeys);
    const { signing, encryption } = publicKeysOf(daveKeys);
    const own = await adminAs('dave').revokeClientKey(signing.keyId, 'laptop lost');
    expect(own).toMatchObject({ revoked: true, key: { status: 'revoked', revokedBy: 'dave', reason: 'laptop lost' } });
    const byAdmin = await t.request('POST', `/v1/keys/${encryption.keyId}/revoke`, { body: { reason: 'offboarding' } });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.key).toMatchObject({ status: 'revoked', revokedBy: 'admin' });
    const audit = await t.request('GET', '/v1/audit?type=sealbus.keys.&limit=1000');
    const events = audit.body.events.filter((event: { data: { keyId?: string } }) => [signing.keyId, encryption.keyId].includes(event.data.keyId ?? ''));
    expect(events.map((event: { type: string; data: { principal: string } }) => [event.type, event.data.principal])).toEqual([
      ['sealbus.keys.register', 'dave'],
      ['sealbus.keys.revoke', 'dave'],
      ['sealbus.keys.revoke', 'admin'],
    ]);
  });

  it('gives producers the recipients of a topic: those the policy lets consume, or the explicit list', async () => {
    const keys: Record<string, ClientKeys> = {};
    for (const name of ['alice', 'bob', 'reader', 'mallory']) {
      keys[name] = generateClientKeys();
      // alice and bob may have registered in another test: this registration replaces theirs.
      await adminAs(name).registerClientKeys(keys[name]!);
    }
    const denied = await t.request('GET', '/v1/topics/orders.eu/recipients', { credentials: people['reader']! });
    expect([denied.status, denied.body.code]).toEqual([403, 'SEALBUS_ERR_FORBIDDEN']);
    expect(await codeOf(adminAs('mallory').topicRecipients('orders.eu'))).toBe('SEALBUS_ERR_FORBIDDEN');

    const recipients = await adminAs('alice').topicRecipients('orders.eu');
    expect(recipients.encryption).toBe('none');
    expect(await codeOf(adminAs('alice').topicRecipients('orders.missing'))).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    const mine = recipients.recipients.filter((r) => ['alice', 'bob', 'reader', 'mallory'].includes(r.principal));
    expect(mine.map((r) => [r.principal, r.keyId]).sort()).toEqual(
      ['alice', 'bob', 'reader'].map((name) => [name, publicKeysOf(keys[name]!).encryption.keyId]).sort(),
    );
    expect(recipients.recipients.map((r) => r.keyId)).toEqual(recipients.recipients.map((r) => r.keyId).sort());

    // A rotated encryption key replaces the old one in new batches.
    const rotated = rotateEncryptionKey(keys['bob']!);
    await adminAs('bob').registerClientKeys(rotated);
    const after = await adminAs('alice').topicRecipients('orders.eu');
    expect(after.version).toBeGreaterThan(recipients.version);
    expect(after.recipients.find((r) => r.principal === 'bob')?.keyId).toBe(publicKeysOf(rotated).encryption.keyId);

    // An explicit list narrows to those principals, and still only those the policy lets consume.
    const created = await t.request('POST', '/v1/topics', { body: { name: 'orders.secret', partitions: 1, encryption: 'required', recipients: ['bob', 'mallory'] } });
    expect(created.status).toBe(201);
    const explicit = await adminAs('alice').topicRecipients('orders.secret');
    expect(explicit).toMatchObject({ topic: 'orders.secret', encryption: 'required' });
    expect(explicit.recipients.map((r) => r.principal)).toEqual(['bob']);
  });
});
