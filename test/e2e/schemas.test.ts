import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import { adminPolicy } from '../helpers/policies.js';
import { connectRawSession, roundTrip } from '../helpers/raw-session.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';

const POLICIES = {
  'admin.yaml': adminPolicy('admin'),
  'apps.yaml': `
version: 1
rules:
  - id: alice-produces
    effect: allow
    principals: [{name: alice}]
    resources: [{topic: "orders.>"}]
    actions: [produce]
  - id: carol-owns-order-schemas
    effect: allow
    principals: [{name: carol}]
    resources: [{topic: "orders.>"}]
    actions: [manage-schemas]
  - id: bob-reads-payments
    effect: allow
    principals: [{name: bob}]
    resources: [{topic: "payments"}]
    actions: [consume, describe]
`,
};

const ORDER_V1 = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'amount'],
  properties: { id: { type: 'integer' }, amount: { type: 'number', minimum: 0 }, note: { type: 'string', maxLength: 100 } },
};

type Client = ClientCredentials & { token: string };

describe('schema registry and validation at the broker', () => {
  let t: TestBroker;
  let alice: Client;
  let bob: Client;
  let carol: Client;
  let valueSchemaId: number;

  const produce = (topic: string, records: unknown[], credentials?: Client) =>
    t.request('POST', `/v1/topics/${topic}/records`, { body: { records }, ...(credentials !== undefined && { credentials }) });
  const fetchAll = async (topic: string, partition = 0) =>
    (await t.request('GET', `/v1/topics/${topic}/partitions/${partition}/records?offset=0`)).body.records as Array<Record<string, any>>;
  const highWatermark = async (topic: string) => (await t.request('GET', `/v1/topics/${topic}`)).body.partitions[0].highWatermark as number;

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES });
    alice = await t.client('alice');
    bob = await t.client('bob');
    carol = await t.client('carol');
    for (const name of ['orders.eu', 'orders.dlq', 'payments']) {
      expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1 } })).status).toBe(201);
    }
    const registered = await t.request('POST', '/v1/topics/orders.eu/schemas', { body: { schema: ORDER_V1 } });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ topic: 'orders.eu', subject: 'value', version: 1, created: true });
    valueSchemaId = registered.body.id;
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('registering', () => {
    it('registering the latest version again writes nothing', async () => {
      const again = await t.request('POST', '/v1/topics/orders.eu/schemas', { body: { schema: ORDER_V1 } });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id: valueSchemaId, version: 1, created: false });
    });

    it('an incompatible version is refused with what breaks (BACKWARD by default)', async () => {
      const narrowed = { ...ORDER_V1, properties: { ...ORDER_V1.properties, id: { type: 'string' } } };
      const refused = await t.request('POST', '/v1/topics/orders.eu/schemas', { body: { schema: narrowed } });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('SEALBUS_ERR_SCHEMA_INCOMPATIBLE');
      expect(refused.body.details.problems[0]).toMatchObject({ version: 1, direction: 'backward' });
      expect(refused.body.details.problems[0].pointer).toContain('/properties/id');
      const check = await t.request('POST', '/v1/topics/orders.eu/schemas/check', { body: { schema: narrowed } });
      expect(check.status).toBe(200);
      expect(check.body).toMatchObject({ compatible: false, mode: 'BACKWARD' });
      expect((await t.request('GET', '/v1/topics/orders.eu/schemas')).body.value).toHaveLength(1);
    });

    it.each([
      ['a remote $ref', { $ref: 'https://evil.example/schema.json' }, 'refers outside the schema'],
      ['a pattern that backtracks catastrophically', { type: 'string', pattern: '^(a+)+$' }, 'backtrack'],
      ['an unknown keyword', { type: 'object', requird: ['id'] }, 'requird'],
      ['another draft', { $schema: 'http://json-schema.org/draft-04/schema#' }, 'draft 2020-12'],
      ['a non-schema', [1, 2], 'JSON object'],
    ])('a schema with %s is refused: SCHEMA_INVALID', async (_name, schema, reason) => {
      const refused = await t.request('POST', '/v1/topics/payments/schemas', { body: { schema } });
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('SEALBUS_ERR_SCHEMA_INVALID');
      expect(refused.body.message).toContain(reason);
    });

    it('registering needs manage-schemas on the topic: a producer is refused', async () => {
      const refused = await t.request('POST', '/v1/topics/orders.eu/schemas', { credentials: alice, body: { schema: true } });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    });

    it('reading schemas needs a right on the topic: a producer may, a stranger may not', async () => {
      const listed = await t.request('GET', '/v1/topics/orders.eu/schemas', { credentials: alice });
      expect(listed.status).toBe(200);
      expect(listed.body.value[0]).toMatchObject({ id: valueSchemaId, version: 1, registeredBy: 'admin' });
      expect((await t.request('GET', `/v1/schemas/${valueSchemaId}`, { credentials: alice })).body.schema).toEqual(ORDER_V1);
      const stranger = await t.request('GET', `/v1/schemas/${valueSchemaId}`, { credentials: bob });
      expect(stranger.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
      expect((await t.request('GET', '/v1/schemas/999999')).body.code).toBe('SEALBUS_ERR_SCHEMA_NOT_FOUND');
    });
  });

  describe('producing', () => {
    it('valid records are stored carrying the schema id', async () => {
      const placed = await produce('orders.eu', [{ value: { id: 1, amount: 9.5 } }], alice);
      expect(placed.status).toBe(200);
      const stored = await fetchAll('orders.eu');
      expect(stored.at(-1)).toMatchObject({ value: { id: 1, amount: 9.5 }, headers: { 'sealbus-schema': String(valueSchemaId) } });
    });

    it('a batch with an invalid record is refused whole, naming the record and the field', async () => {
      const before = await highWatermark('orders.eu');
      const refused = await produce('orders.eu', [{ value: { id: 2, amount: 1 } }, { value: { id: 3, amount: -4 } }], alice);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ code: 'SEALBUS_ERR_SCHEMA_VALIDATION', details: { record: 1, pointer: '/amount', schemaId: valueSchemaId } });
      expect(refused.body.message).toContain('Record 1');
      const missing = await produce('orders.eu', [{ value: { amount: 1 } }], alice);
      expect(missing.body.details).toMatchObject({ record: 0, pointer: '/id' });
      const extra = await produce('orders.eu', [{ value: { id: 4, amount: 1, admin: true } }], alice);
      expect(extra.body.details).toMatchObject({ pointer: '/admin' });
      expect(await highWatermark('orders.eu')).toBe(before);
    });

    it('hostile JSON values are refused without harm', async () => {
      const deep = '['.repeat(5000) + ']'.repeat(5000);
      const refusedDeep = await produce('orders.eu', [{ valueBase64: Buffer.from(deep).toString('base64') }], alice);
      expect(refusedDeep.body).toMatchObject({ code: 'SEALBUS_ERR_SCHEMA_VALIDATION', details: { pointer: '/' } });
      const polluting = Buffer.from('{"id":5,"amount":1,"__proto__":{"polluted":true}}').toString('base64');
      expect((await produce('orders.eu', [{ valueBase64: polluting }], alice)).body.code).toBe('SEALBUS_ERR_SCHEMA_VALIDATION');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const huge = Buffer.from('{"id":9007199254740993,"amount":1}').toString('base64');
      expect((await produce('orders.eu', [{ valueBase64: huge }], alice)).body.details.reason).toContain('2^53');
    });

    describe('over the binary protocol, from the attacker side', () => {
      async function produceRaw(records: readonly RecordInput[], requestId: number) {
        const session = await connectRawSession(t, alice);
        try {
          return await roundTrip(session, { type: 'PRODUCE', requestId, topic: 'orders.eu', partition: 0, producer: null, records: encodeRecords(records) });
        } finally {
          session.close();
        }
      }
      const value = Buffer.from(JSON.stringify({ id: 7, amount: 2 }));

      it('a record without the schema id is refused as stale (the SDK fetches and stamps it)', async () => {
        expect(await produceRaw([{ value }], 1)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_SCHEMA_STALE' });
      });

      it('a record naming another schema id is refused as stale', async () => {
        const other = [{ value, headers: [{ name: 'sealbus-schema', value: Buffer.from(String(valueSchemaId + 1)) }] }];
        expect(await produceRaw(other, 2)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_SCHEMA_STALE' });
      });

      it('a stamped invalid record is refused, a stamped valid one stored', async () => {
        const stamp = [{ name: 'sealbus-schema', value: Buffer.from(String(valueSchemaId)) }];
        const invalid = [{ value: Buffer.from('{"id":"x","amount":1}'), headers: stamp }];
        expect(await produceRaw(invalid, 3)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_SCHEMA_VALIDATION' });
        expect(await produceRaw([{ value, headers: stamp }], 4)).toMatchObject({ type: 'PRODUCE_ACK' });
      });
    });
  });

  describe('dead-letter topic', () => {
    beforeAll(async () => {
      await t.request('POST', '/v1/topics', { body: { name: 'orders.us', partitions: 1 } });
      expect((await t.request('POST', '/v1/topics/orders.us/schemas', { body: { schema: ORDER_V1 } })).status).toBe(201);
    });

    it('settings are checked: the topic must exist and be one the setter may produce to', async () => {
      const missing = await t.request('PUT', '/v1/topics/orders.us/schemas/settings', { body: { onInvalid: 'dead-letter', deadLetterTopic: 'nowhere' } });
      expect(missing.body.code).toBe('SEALBUS_ERR_SCHEMA_SETTINGS_INVALID');
      const itself = await t.request('PUT', '/v1/topics/orders.us/schemas/settings', { body: { onInvalid: 'dead-letter', deadLetterTopic: 'orders.us' } });
      expect(itself.body.code).toBe('SEALBUS_ERR_SCHEMA_SETTINGS_INVALID');
      const internal = await t.request('PUT', '/v1/topics/orders.us/schemas/settings', { body: { onInvalid: 'dead-letter', deadLetterTopic: '__sealbus.audit' } });
        expect(internal.body.code).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
      // carol manages the schemas of orders.* but may not produce to payments: she cannot send records there.
      const elsewhere = await t.request('PUT', '/v1/topics/orders.us/schemas/settings', { credentials: carol, body: { onInvalid: 'dead-letter', deadLetterTopic: 'payments' } });
      expect(elsewhere.body).toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN', details: { action: 'produce' } });
      expect((await t.request('GET', '/v1/topics/orders.us/schemas')).body.settings.onInvalid).toBe('reject');
    });

    it('invalid records go to the dead-letter topic with the reason; the valid ones to the topic, a marker in place of each invalid one', async () => {
      const set = await t.request('PUT', '/v1/topics/orders.us/schemas/settings', { body: { onInvalid: 'dead-letter', deadLetterTopic: 'orders.dlq' } });
      expect(set.body.settings).toEqual({ compatibility: 'BACKWARD', onInvalid: 'dead-letter', deadLetterTopic: 'orders.dlq' });
      const placed = await produce('orders.us', [{ key: 'a', value: { id: 1, amount: 1 } }, { key: 'b', value: { id: 2, amount: 'lots' } }, { key: 'c', value: { id: 3, amount: 3 } }], alice);
      expect(placed.status).toBe(200);
      expect(placed.body.records[0].deadLetter).toBeUndefined();
      expect(placed.body.records[1]).toMatchObject({ offset: 1, deadLetter: { topic: 'orders.dlq', partition: 0, offset: 0, pointer: '/amount' } });
      const stored = await fetchAll('orders.us');
      expect(stored.map((record) => record.value)).toEqual([{ id: 1, amount: 1 }, null, { id: 3, amount: 3 }]);
      expect(stored[1]!.headers['sealbus-dead-letter']).toBe('orders.dlq/0/0');
      const letters = await fetchAll('orders.dlq');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ key: 'b', value: { id: 2, amount: 'lots' } });
      expect(letters[0]!.headers).toMatchObject({
        'sealbus-dead-letter-source': 'orders.us/0',
        'sealbus-dead-letter-pointer': '/amount',
        'sealbus-dead-letter-producer': 'alice',
        'sealbus-schema': String((await t.request('GET', '/v1/topics/orders.us/schemas')).body.value[0].id),
      });
      expect(letters[0]!.headers['sealbus-dead-letter-reason']).toContain('number');
    });

    it('a stale schema id is never dead-lettered: the producer must fetch the schema', async () => {
      const session = await connectRawSession(t, alice);
      try {
        const frame = await roundTrip(session, { type: 'PRODUCE', requestId: 9, topic: 'orders.us', partition: 0, producer: null, records: encodeRecords([{ value: Buffer.from('{}') }]) });
        expect(frame).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_SCHEMA_STALE' });
      } finally {
        session.close();
      }
    });
  });

  it('the registry survives a restart with the same ids, and its changes are audited', async () => {
    const before = (await t.request('GET', '/v1/topics/orders.eu/schemas')).body;
    await t.restart();
    const after = (await t.request('GET', '/v1/topics/orders.eu/schemas')).body;
    expect(after).toEqual(before);
    const rejected = await produce('orders.eu', [{ value: { id: 'x', amount: 1 } }]);
    expect(rejected.body.code).toBe('SEALBUS_ERR_SCHEMA_VALIDATION');
    const events = (await t.request('GET', '/v1/audit?type=sealbus.admin.schema.&limit=100')).body.events as Array<{ data: Record<string, unknown> }>;
    expect(events.map((event) => event.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ principal: 'admin', resource: 'topic:orders.eu', version: 1, schemaId: valueSchemaId }),
        expect.objectContaining({ principal: 'admin', resource: 'topic:orders.us', onInvalid: 'dead-letter', deadLetterTopic: 'orders.dlq' }),
      ]),
    );
  });
});
