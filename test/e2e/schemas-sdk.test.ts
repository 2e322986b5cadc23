import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConnectionOptions, type ConsumedRecord } from '../../src/client/index.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import { generateClientKeys, sealRecords, type ClientKeys } from '../../src/payload/index.js';
import { adminPolicy } from '../helpers/policies.js';
import { rejectionOf } from '../helpers/error-code.js';
import { connectRawSession, roundTrip } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const ORDER = { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } };
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const header = (record: ConsumedRecord, name: string): string | undefined => record.headers.find((h) => h.name === name)?.value?.toString();

describe('the SDK on topics with a schema', () => {
  let t: TestBroker;
  let connection: ConnectionOptions;
  let admin: Admin;
  let keys: ClientKeys;

  const consume = async (topic: string, count: number, options: { keys?: ClientKeys; onUndecryptable?: 'throw' | 'skip' | 'mark' } = {}): Promise<ConsumedRecord[]> => {
    const consumer = new Consumer({ connection, ...(options.keys !== undefined && { decryption: { keys: options.keys, onUndecryptable: options.onUndecryptable ?? 'throw' } }) });
    consumer.assign([{ topic, partition: 0, start: 'earliest' }]);
    const received: ConsumedRecord[] = [];
    try {
      for await (const record of consumer) {
        received.push(record);
        if (received.length === count) break;
      }
    } finally {
      await consumer.close();
    }
    return received;
  };

  beforeAll(async () => {
    t = await startTestBroker({ policies: { 'admin.yaml': adminPolicy() } });
    connection = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token };
    admin = new Admin({ connection });
    keys = generateClientKeys();
    await admin.registerClientKeys(keys);
    await admin.createTopic({ name: 'plain', partitions: 1 });
    await admin.createTopic({ name: 'sealed', partitions: 1, encryption: 'required' });
    await admin.registerSchema('plain', ORDER);
    await admin.registerSchema('sealed', ORDER);
  });

  afterAll(async () => {
    admin?.close();
    await t?.close();
  });

  it('the producer stamps the current schema id, and follows a new version (STALE, then stamped anew)', async () => {
    const producer = new Producer({ connection, lingerMs: 0 });
    try {
      await producer.send({ topic: 'plain', value: json({ id: 1 }) });
      const v2 = await admin.registerSchema('plain', { ...ORDER, properties: { ...ORDER.properties, note: {} } });
      expect(v2.version).toBe(2);
      await producer.send({ topic: 'plain', value: json({ id: 2 }) });
      const refused = await rejectionOf(producer.send({ topic: 'plain', value: json({ id: 'three' }) }));
      // Over the binary protocol an error carries its code and message (which names the record and the field).
      expect(refused.code).toBe('SEALBUS_ERR_SCHEMA_VALIDATION');
      expect(refused.message).toContain('Record 0 does not match');
      expect(refused.message).toContain('/id');
    } finally {
      await producer.close();
    }
    const records = await consume('plain', 2);
    const ids = records.map((record) => header(record, 'sealbus-schema'));
    const list = await admin.listSchemas('plain');
    expect(ids).toEqual([String(list.value[0]!.id), String(list.value[1]!.id)]);
  });

  it('on an encrypted topic the producer validates before sealing: the broker never sees an invalid value', async () => {
    const before = (await admin.describeTopic('sealed')).partitions[0]!.highWatermark;
    const producer = new Producer({ connection, lingerMs: 0, encryption: { keys } });
    try {
      const refused = await rejectionOf(producer.send({ topic: 'sealed', value: json({ id: 'x' }) }));
      expect(refused).toMatchObject({ code: 'SEALBUS_ERR_SCHEMA_VALIDATION', details: { record: 0, pointer: '/id' } });
      expect((await admin.describeTopic('sealed')).partitions[0]!.highWatermark).toBe(before);
      await producer.send({ topic: 'sealed', value: json({ id: 10 }) });
    } finally {
      await producer.close();
    }
    const [record] = await consume('sealed', 1, { keys });
    expect(JSON.parse(record!.value!.toString())).toEqual({ id: 10 });
    expect(record!.producer?.principal).toBe('admin');
  });

  it('a hostile producer that seals an invalid value itself gets it stored, and consumers refuse it', async () => {
    const schemaId = (await admin.listSchemas('sealed')).value[0]!.id;
    const recipients = (await admin.topicRecipients('sealed')).recipients.map((r) => ({ keyId: r.keyId, publicKey: new Uint8Array(Buffer.from(r.publicKey, 'base64url')) }));
    const sealed = sealRecords([{ value: json({ id: 'not a number' }), headers: [{ name: 'sealbus-schema', value: Buffer.from(String(schemaId)) }] }], { topic: 'sealed', recipients, keys });
    const session = await connectRawSession(t);
    try {
      expect(await roundTrip(session, { type: 'PRODUCE', requestId: 1, topic: 'sealed', partition: 0, producer: null, records: encodeRecords(sealed) })).toMatchObject({ type: 'PRODUCE_ACK' });
    } finally {
      session.close();
    }
    const marked = await consume('sealed', 2, { keys, onUndecryptable: 'mark' });
    expect(marked[0]!.undecryptable).toBeUndefined();
    expect(marked[1]!.undecryptable?.code).toBe('SEALBUS_ERR_SCHEMA_VALIDATION');
    const consumer = new Consumer({ connection, decryption: { keys } });
    consumer.assign([{ topic: 'sealed', partition: 0, start: 'earliest' }]);
    const thrown = await rejectionOf(
      (async () => {
        for await (const record of consumer) void record;
      })(),
    );
    await consumer.close();
    expect(thrown).toMatchObject({ code: 'SEALBUS_ERR_SCHEMA_VALIDATION', details: { pointer: '/id' } });
  });

  it('consumers pass over the markers of dead-lettered records', async () => {
    await admin.createTopic({ name: 'lettered', partitions: 1 });
    await admin.createTopic({ name: 'lettered.dlq', partitions: 1 });
    await admin.registerSchema('lettered', ORDER);
    await admin.updateSchemaSettings('lettered', { onInvalid: 'dead-letter', deadLetterTopic: 'lettered.dlq' });
    const producer = new Producer({ connection, lingerMs: 50 });
    try {
      await Promise.all([1, 'two', 3].map((id) => producer.send({ topic: 'lettered', value: json({ id }) })));
    } finally {
      await producer.close();
    }
    expect((await admin.describeTopic('lettered')).partitions[0]!.highWatermark).toBe(3);
    const records = await consume('lettered', 2);
    expect(records.map((record) => [record.offset, JSON.parse(record.value!.toString()).id])).toEqual([
      [0, 1],
      [2, 3],
    ]);
    const [letter] = await consume('lettered.dlq', 1);
    expect(JSON.parse(letter!.value!.toString())).toEqual({ id: 'two' });
    expect(header(letter!, 'sealbus-dead-letter-source')).toBe('lettered/0');
  });
});
