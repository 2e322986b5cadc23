import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConnectionOptions, type ConsumedRecord } from '../../src/client/index.js';
import { decodeRecords, encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import { ENVELOPE_HEADER, generateClientKeys, keyIdOf, openRecords, sealRecords, type ClientKeys, type Recipient } from '../../src/payload/index.js';
import { adminPolicy } from '../helpers/policies.js';
import { connectRawSession, roundTrip } from '../helpers/raw-session.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

const CANARY = 'CANARY-7f3a9c1e-plaintext-must-never-reach-the-disk';

const readers = (names: string[]) => `
version: 1
rules:
  - id: alice-produces
    effect: allow
    principals: [{name: alice}, {name: mallory}]
    resources: [{topic: "secret.>"}]
    actions: [produce, describe]
  - id: readers-consume
    effect: allow
    principals: [${names.map((name) => `{name: ${name}}`).join(', ')}]
    resources: [{topic: "secret.>"}]
    actions: [consume, describe]
`;

const PAY_POLICY = `
version: 1
rules:
  - id: pay-only-sealed
    effect: deny
    principals: [{any: true}]
    resources: [{topic: secret.pay}]
    actions: [produce]
    conditions:
      encrypted: false
`;

type Client = ClientCredentials & { token: string };

function connectionOf(t: TestBroker, client: Client): ConnectionOptions {
  return { url: t.url, ca: t.ca, cert: client.cert, key: client.key, token: client.token };
}

async function registered(t: TestBroker, client: Client): Promise<ClientKeys> {
  const keys = generateClientKeys();
  const admin = new Admin({ connection: connectionOf(t, client) });
  try {
    await admin.registerClientKeys(keys);
  } finally {
    admin.close();
  }
  return keys;
}

async function consumeAll(t: TestBroker, client: Client, keys: ClientKeys, topic: string, count: number): Promise<ConsumedRecord[]> {
  const consumer = new Consumer({ connection: connectionOf(t, client), decryption: { keys } });
  consumer.assign([{ topic, partition: 0, start: 'earliest' }]);
  const received: ConsumedRecord[] = [];
  for await (const record of consumer) {
    received.push(record);
    if (received.length === count) break;
  }
  await consumer.close();
  return received;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function recipientsOf(t: TestBroker, client: Client, topic: string): Promise<Recipient[]> {
  const admin = new Admin({ connection: connectionOf(t, client) });
  try {
    const found = await admin.topicRecipients(topic);
    return found.recipients.map((r) => ({ keyId: r.keyId, publicKey: new Uint8Array(Buffer.from(r.publicKey, 'base64url')) }));
  } finally {
    admin.close();
  }
}

describe('end-to-end encryption through the broker', () => {
  let t: TestBroker;
  let alice: Client;
  let bob: Client;
  let carol: Client;
  let mallory: Client;
  let aliceKeys: ClientKeys;
  let bobKeys: ClientKeys;
  let carolKeys: ClientKeys;
  let malloryKeys: ClientKeys;

  beforeAll(async () => {
    t = await startTestBroker({ policies: { 'admin.yaml': adminPolicy(), 'secret.yaml': readers(['bob', 'carol']), 'pay.yaml': PAY_POLICY } });
    [alice, bob, carol, mallory] = (await Promise.all(['alice', 'bob', 'carol', 'mallory'].map((name) => t.client(name)))) as [Client, Client, Client, Client];
    [aliceKeys, bobKeys, carolKeys] = await Promise.all([registered(t, alice), registered(t, bob), registered(t, carol)]);
    malloryKeys = await registered(t, mallory);
    expect((await t.request('POST', '/v1/topics', { body: { name: 'secret.plain', partitions: 1 } })).status).toBe(201);
    for (const name of ['secret.orders', 'secret.other', 'secret.rotation', 'secret.pay']) {
      expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1, encryption: 'required' } })).status).toBe(201);
    }
    expect((await t.request('POST', '/v1/topics', { body: { name: 'secret.bulk', partitions: 3, encryption: 'required' } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('stores only ciphertext: the plaintext canary is nowhere in the data directory, and readers get it back with the verified producer', async () => {
    const producer = new Producer({ connection: connectionOf(t, alice), encryption: { keys: aliceKeys }, lingerMs: 0 });
    await Promise.all([producer.send({ topic: 'secret.orders', key: 'k1', value: CANARY }), producer.send({ topic: 'secret.orders', key: 'k2', value: `${CANARY}-2` })]);
    await producer.close();

    for (const [client, keys] of [[bob, bobKeys], [carol, carolKeys]] as const) {
      const records = await consumeAll(t, client, keys, 'secret.orders', 2);
      expect(records.map((r) => r.value?.toString())).toEqual([CANARY, `${CANARY}-2`]);
      expect(records.every((r) => r.producer?.principal === 'alice')).toBe(true);
    }
    const canary = Buffer.from(CANARY);
    const holding = [];
    for (const file of await filesUnder(t.env.config.store.dir)) if ((await readFile(file)).includes(canary)) holding.push(file);
    expect(holding).toEqual([]);
  });

  it('seals and opens batches of many records in worker threads, each partition in order', async () => {
    const topic = 'secret.bulk';
    const valueOf = (partition: number, index: number) => `${partition}:${index}:`.padEnd(1024, String.fromCharCode(97 + ((partition + index) % 26)));
    const producer = new Producer({ connection: connectionOf(t, alice), encryption: { keys: aliceKeys, threads: 2 }, maxBatchRecords: 40 });
    const sends = [];
    for (let index = 0; index < 200; index++) for (let partition = 0; partition < 3; partition++) sends.push(producer.send({ topic, partition, value: valueOf(partition, index) }));
    const acked = await Promise.all(sends);
    await producer.close();
    for (let partition = 0; partition < 3; partition++) {
      expect(acked.filter((metadata) => metadata.partition === partition).map((metadata) => metadata.offset)).toEqual(Array.from({ length: 200 }, (_, index) => index));
    }

    const consumer = new Consumer({ connection: connectionOf(t, bob), decryption: { keys: bobKeys, threads: 2 }, windowBytes: 256 * 1024 });
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, start: 'earliest' as const })));
    const received: ConsumedRecord[] = [];
    for await (const record of consumer) {
      received.push(record);
      if (received.length === 600) break;
    }
    await consumer.close();
    for (let partition = 0; partition < 3; partition++) {
      const records = received.filter((record) => record.partition === partition);
      expect(records.map((record) => record.offset)).toEqual(Array.from({ length: 200 }, (_, index) => index));
      expect(records.map((record) => record.value?.toString())).toEqual(Array.from({ length: 200 }, (_, index) => valueOf(partition, index)));
      expect(records.every((record) => record.producer?.principal === 'alice')).toBe(true);
    }
  });

  it('refuses plaintext on an encrypted topic, over HTTP and from a producer without keys', async () => {
    const http = await t.request('POST', '/v1/topics/secret.orders/records', { credentials: alice, body: { records: [{ value: 'plain' }] } });
    expect(http.body.code).toBe('SEALBUS_ERR_ENVELOPE_REQUIRED');
    const producer = new Producer({ connection: connectionOf(t, alice), retry: { maxAttempts: 1 } });
    await expect(producer.send({ topic: 'secret.orders', value: 'plain' })).rejects.toMatchObject({ code: 'SEALBUS_ERR_ENVELOPE_REQUIRED' });
    await producer.close();
  });

  it('the policy condition `encrypted` now sees what the broker verified: a sealed batch passes, plaintext is denied by the rule', async () => {
    const producer = new Producer({ connection: connectionOf(t, alice), encryption: { keys: aliceKeys }, lingerMs: 0 });
    expect((await producer.send({ topic: 'secret.pay', value: 'card 4111' })).offset).toBe(0);
    await producer.close();
    const plain = await t.request('POST', '/v1/topics/secret.pay/records', { credentials: alice, body: { records: [{ value: 'card 4111' }] } });
    expect(plain.body).toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN', details: { rule: 'pay-only-sealed' } });
  });

  describe('from the attacker side, over a raw session', () => {
    async function produceRaw(client: Client, topic: string, records: readonly RecordInput[], requestId: number) {
      const session = await connectRawSession(t, client);
      try {
        return await roundTrip(session, { type: 'PRODUCE', requestId, topic, partition: 0, producer: null, records: encodeRecords(records) });
      } finally {
        session.close();
      }
    }

    it('a producer signing with another principal\'s key is refused: SIGNER_MISMATCH', async () => {
      const sealed = sealRecords([{ value: Buffer.from('forged') }], { topic: 'secret.orders', recipients: await recipientsOf(t, alice, 'secret.orders'), keys: aliceKeys });
      expect(await produceRaw(mallory, 'secret.orders', sealed, 1)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_SIGNER_MISMATCH' });
    });

    it('an envelope replayed into another topic is refused: SIGNATURE_INVALID', async () => {
      const sealed = sealRecords([{ value: Buffer.from('for orders only') }], { topic: 'secret.orders', recipients: await recipientsOf(t, alice, 'secret.orders'), keys: aliceKeys });
      expect(await produceRaw(alice, 'secret.orders', sealed, 2)).toMatchObject({ type: 'PRODUCE_ACK' });
      expect(await produceRaw(alice, 'secret.other', sealed, 3)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID' });
    });

    it('a bit flipped in a ciphertext is refused: SIGNATURE_INVALID', async () => {
      const sealed = sealRecords([{ value: Buffer.from('intact') }], { topic: 'secret.orders', recipients: await recipientsOf(t, alice, 'secret.orders'), keys: aliceKeys });
      const value = Buffer.from(sealed[0]!.value!);
      value[value.length - 1]! ^= 1;
      expect(await produceRaw(alice, 'secret.orders', [{ ...sealed[0]!, value }], 4)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID' });
    });

    it('a signing key nobody registered is refused: UNKNOWN_SIGNER', async () => {
      const sealed = sealRecords([{ value: Buffer.from('x') }], { topic: 'secret.orders', recipients: await recipientsOf(t, alice, 'secret.orders'), keys: generateClientKeys() });
      expect(await produceRaw(alice, 'secret.orders', sealed, 6)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER' });
    });

    it('a revoked signing key signs nothing more, even for its owner: SIGNER_MISMATCH', async () => {
      const recipients = await recipientsOf(t, alice, 'secret.orders');
      const sealed = sealRecords([{ value: Buffer.from('before') }], { topic: 'secret.orders', recipients, keys: malloryKeys });
      expect(await produceRaw(mallory, 'secret.orders', sealed, 7)).toMatchObject({ type: 'PRODUCE_ACK' });
      const admin = new Admin({ connection: connectionOf(t, mallory) });
      await admin.revokeClientKey(keyIdOf('signing', malloryKeys.signing.publicKey), 'stolen');
      admin.close();
      const again = sealRecords([{ value: Buffer.from('after') }], { topic: 'secret.orders', recipients, keys: malloryKeys });
      expect(await produceRaw(mallory, 'secret.orders', again, 8)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_SIGNER_MISMATCH' });
    });

    it('a malformed envelope is refused: ENVELOPE_INVALID', async () => {
      const sealed = sealRecords([{ value: Buffer.from('x') }], { topic: 'secret.orders', recipients: await recipientsOf(t, alice, 'secret.orders'), keys: aliceKeys });
      const header = sealed[0]!.headers![0]!;
      const truncated = { ...sealed[0]!, headers: [{ name: header.name, value: header.value!.subarray(0, 100) }] };
      expect(await produceRaw(alice, 'secret.orders', [truncated], 9)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_INVALID' });
    });

    it('an envelope header hidden after a plaintext record is refused, even on a plaintext topic (consumers would refuse the batch)', async () => {
      const sealed = sealRecords([{ value: Buffer.from('x') }], { topic: 'secret.plain', recipients: await recipientsOf(t, alice, 'secret.orders'), keys: aliceKeys });
      const batch = [{ value: Buffer.from('innocent plaintext') }, ...sealed];
      expect(await produceRaw(alice, 'secret.plain', batch, 10)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_INVALID' });
    });

    it('an envelope header without a value is refused on a plaintext topic too: the broker finds it by name, not by searching the bytes', async () => {
      const batch = [{ value: Buffer.from('innocent plaintext') }, { value: Buffer.from('y'), headers: [{ name: ENVELOPE_HEADER, value: null }] }];
      expect(await produceRaw(alice, 'secret.plain', batch, 11)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_INVALID' });
    });

    it('a batch sealed for a recipient the topic does not have is refused as stale', async () => {
      const stranger = generateClientKeys();
      const recipients = [...(await recipientsOf(t, alice, 'secret.orders')), { keyId: keyIdOf('encryption', stranger.encryption.publicKey), publicKey: stranger.encryption.publicKey }];
      const sealed = sealRecords([{ value: Buffer.from('x') }], { topic: 'secret.orders', recipients, keys: aliceKeys });
      expect(await produceRaw(alice, 'secret.orders', sealed, 5)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE' });
    });
  });

  it('a recipient removed from the policy gets no key to new batches; the producer reseals for the new recipients by itself', async () => {
    const topic = 'secret.rotation';
    const producer = new Producer({ connection: connectionOf(t, alice), encryption: { keys: aliceKeys }, lingerMs: 0 });
    const first = await producer.send({ topic, value: 'before' });
    // Bob loses consume on secret.>: the policy reloads, the directory's recipients follow.
    const file = join(t.policyDir!, 'secret.yaml');
    await writeFile(`${file}.tmp`, readers(['carol']));
    await rename(`${file}.tmp`, file);
    await waitFor(async () => (await recipientsOf(t, alice, topic)).length === 1, 'the recipients follow the policy');
    // The producer still holds the old recipients: the broker says stale, the producer refetches and reseals.
    const second = await producer.send({ topic, value: 'after' });
    await producer.close();

    const batches = (await t.broker.store.read(topic, 0, 0, { maxBytes: 1 << 20 })).batches.map((batch) => decodeRecords(batch));
    const batchOf = (offset: number) => batches.find((records) => records.some((r) => r.offset === offset))!;
    const signingKey = () => aliceKeys.signing.publicKey;
    expect(openRecords(batchOf(first.offset), { topic, keys: bobKeys, signingKey }).records[0]!.value!.toString()).toBe('before');
    expect(() => openRecords(batchOf(second.offset), { topic, keys: bobKeys, signingKey })).toThrow(expect.objectContaining({ code: 'SEALBUS_ERR_ENVELOPE_NO_KEY' }));
    expect(openRecords(batchOf(second.offset), { topic, keys: carolKeys, signingKey }).records[0]!.value!.toString()).toBe('after');
    await writeFile(`${file}.tmp`, readers(['bob', 'carol']));
    await rename(`${file}.tmp`, file);
    await waitFor(async () => (await recipientsOf(t, alice, topic)).length === 2, 'bob is a recipient again');
  });

  it('a reader without a wrap: throw (default), skip, or mark the batch undecryptable', async () => {
    const outsider = generateClientKeys(); // never registered: no batch is sealed to it
    const thrower = new Consumer({ connection: connectionOf(t, bob), decryption: { keys: outsider } });
    thrower.assign([{ topic: 'secret.orders', partition: 0, start: 'earliest' }]);
    await expect(
      (async () => {
        for await (const _record of thrower) return;
      })(),
    ).rejects.toMatchObject({ code: 'SEALBUS_ERR_ENVELOPE_NO_KEY' });
    await thrower.close();

    const marker = new Consumer({ connection: connectionOf(t, bob), decryption: { keys: outsider, onUndecryptable: 'mark' } });
    marker.assign([{ topic: 'secret.orders', partition: 0, start: 'earliest' }]);
    for await (const record of marker) {
      expect(record.undecryptable?.code).toBe('SEALBUS_ERR_ENVELOPE_NO_KEY');
      expect(record.producer).toBeUndefined();
      expect(record.value?.toString()).not.toContain(CANARY);
      break;
    }
    await marker.close();
  });
});
