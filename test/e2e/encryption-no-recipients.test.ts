/**
 * An encrypted topic nobody may read has no recipients: the producer cannot seal a batch for it.
 * send() must reject with a clear code (and the process must not crash on an unhandled rejection),
 * and the producer must go on serving other topics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, type ConnectionOptions } from '../../src/client/index.js';
import { generateClientKeys } from '../../src/payload/index.js';
import { adminPolicy } from '../helpers/policies.js';
import { rejectionOf } from '../helpers/error-code.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const POLICY = `
version: 1
rules:
  - id: alice-produces
    effect: allow
    principals: [{name: alice}]
    resources: [{topic: "sealed.>"}, {topic: "open.>"}]
    actions: [produce, describe]
`;

describe('a producer on an encrypted topic without recipients', () => {
  let t: TestBroker;
  let alice: ConnectionOptions;

  beforeAll(async () => {
    t = await startTestBroker({ policies: { 'admin.yaml': adminPolicy('admin', 'admin-all'), 'alice.yaml': POLICY } });
    const creds = await t.client('alice');
    alice = { url: t.url, ca: t.ca, cert: creds.cert, key: creds.key, token: creds.token };
    const admin = new Admin({ connection: { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token } });
    await admin.createTopic({ name: 'sealed.unread', partitions: 1, encryption: 'required' });
    await admin.createTopic({ name: 'open.plain', partitions: 1 });
    admin.close();
  });
  afterAll(async () => t?.close());

  it('rejects send() with SEALBUS_ERR_ENVELOPE_INVALID, and keeps serving other topics', async () => {
    const keys = generateClientKeys();
    const registrar = new Admin({ connection: alice });
    await registrar.registerClientKeys(keys);
    registrar.close();
    const producer = new Producer({ connection: alice, encryption: { keys } });
    try {
      const refused = await rejectionOf(producer.send({ topic: 'sealed.unread', value: Buffer.from('for nobody') }));
      expect(refused.code).toBe('SEALBUS_ERR_ENVELOPE_INVALID');
      expect(refused.message).toMatch(/recipient/);
      const sent = await producer.send({ topic: 'open.plain', value: Buffer.from('still working') });
      expect(sent.offset).toBe(0);
    } finally {
      await producer.close();
    }
  });
});
