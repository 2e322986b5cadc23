import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_EVENT_TYPES, exportAuditLog, verifyAuditLog } from '../../src/audit/index.js';
import { Admin, Consumer, Producer, type ConnectionOptions } from '../../src/client/index.js';
import { generateClientKeys } from '../../src/payload/index.js';
import type { LogStore } from '../../src/log/index.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { adminPolicy } from '../helpers/policies.js';
import { waitFor } from '../helpers/wait-for.js';

const POLICIES = { 'admin.yaml': adminPolicy('admin', 'admin-all') };

type Event = Record<string, any>;

async function auditEvents(store: LogStore): Promise<Event[]> {
  const events: Event[] = [];
  for await (const line of exportAuditLog(store)) {
    const record = JSON.parse(line) as Event;
    if (record['type'] !== 'sealbus.audit.checkpoint') events.push(record);
  }
  return events;
}

function count(events: readonly Event[], type: string, match: (data: Record<string, any>) => boolean = () => true): number {
  return events.filter((event) => event['type'] === type && match(event['data'])).length;
}

describe('the audit log records every kind of event when its action happens', () => {
  let t: TestBroker;
  let connection: ConnectionOptions;

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES });
    connection = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: () => t.admin.token };
  });
  afterAll(async () => t?.close());

  it('counts each event kind, and the whole log verifies with the broker public key', async () => {
    const before = await auditEvents(t.broker.store);
    expect(count(before, 'sealbus.broker.start')).toBe(1);

    // Admin: topics.
    expect((await t.request('POST', '/v1/topics', { body: { name: 'audit.orders', partitions: 1 } })).status).toBe(201);
    expect((await t.request('POST', '/v1/topics', { body: { name: 'audit.scratch', partitions: 1 } })).status).toBe(201);
    expect((await t.request('DELETE', '/v1/topics/audit.scratch')).status).toBe(204);

    // Data over HTTP: 2 records produced in one batch, then read back.
    const produced = await t.request('POST', '/v1/topics/audit.orders/records', { body: { records: [{ value: { n: 1 } }, { value: { n: 2 } }] } });
    expect(produced.status).toBe(200);
    expect((await t.request('GET', '/v1/topics/audit.orders/partitions/0/records?offset=0')).status).toBe(200);

    // Data over WebSocket: one producer session, one consumer session.
    const producer = new Producer({ connection, lingerMs: 0 });
    await producer.send({ topic: 'audit.orders', value: 'three' });
    await producer.close();
    const consumer = new Consumer({ connection });
    consumer.assign([{ topic: 'audit.orders', partition: 0, start: 'earliest' }]);
    let received = 0;
    for await (const _record of consumer) if (++received === 3) break;
    await consumer.close();

    // Groups: reset and delete.
    expect((await t.request('POST', '/v1/groups/audit.readers/reset', { body: { to: 'earliest', topics: ['audit.orders'] } })).status).toBe(200);
    expect((await t.request('DELETE', '/v1/groups/audit.readers')).status).toBe(204);

    // Authentication failures: a forged token, no token at all.
    expect((await t.request('GET', '/v1/topics', { credentials: { ...t.admin, token: 'not-a-token' } })).body.code).toMatch(/^SEALBUS_ERR_AUTH_/);
    expect((await t.request('GET', '/v1/topics', { credentials: { cert: t.admin.cert, key: t.admin.key } })).status).toBe(401);

    // Denials: a principal without rights.
    const mallory = await t.client('mallory');
    const refused = await t.request('POST', '/v1/topics/audit.orders/records', { credentials: mallory, body: { records: [{ value: 1 }] } });
    expect(refused.body.code).toBe('SEALBUS_ERR_FORBIDDEN');

    // Tokens and keys.
    const issued = await t.request('POST', '/v1/admin/tokens', { body: { sub: 'svc-audit', ttlSec: 600, bindCertificate: t.admin.cert } });
    expect(issued.status).toBe(201);
    expect((await t.request('POST', '/v1/admin/tokens/revoke', { body: { jti: issued.body.jti, reason: 'test' } })).status).toBe(200);
    expect((await t.request('POST', '/v1/admin/keys/rotate', { body: { overlapSec: 60 } })).status).toBe(200);

    // End-to-end keys: registered, then revoked.
    const keys = generateClientKeys();
    const keyAdmin = new Admin({ connection });
    const registeredKeys = await keyAdmin.registerClientKeys(keys);
    await keyAdmin.revokeClientKey(registeredKeys.signing.keyId, 'test');
    keyAdmin.close();

    // Schemas: a version registered, the settings changed.
    expect((await t.request('POST', '/v1/topics/audit.orders/schemas', { body: { schema: true } })).status).toBe(201);
    expect((await t.request('PUT', '/v1/topics/audit.orders/schemas/settings', { body: { compatibility: 'FULL' } })).status).toBe(200);

    // Policy reloads: one applied, one refused.
    const policyFile = join(t.policyDir!, 'admin.yaml');
    const policy = await readFile(policyFile, 'utf8');
    await writeFile(join(t.policyDir!, '.next.tmp'), `${policy}\n# edited\n`);
    await rename(join(t.policyDir!, '.next.tmp'), policyFile);
    await waitFor(async () => count(await auditEvents(t.broker.store), 'sealbus.policy.reload', (d) => d.outcome === 'applied') === 1, 'the reload is recorded');
    await writeFile(join(t.policyDir!, 'broken.yaml'), 'version: 1\nrules: [{id: x, effect: maybe}]\n');
    await waitFor(async () => count(await auditEvents(t.broker.store), 'sealbus.policy.reload', (d) => d.outcome === 'refused') === 1, 'the refused reload is recorded');

    await writeFile(join(t.policyDir!, 'broken.yaml'), 'version: 1\nrules: []\n');
    await waitFor(async () => count(await auditEvents(t.broker.store), 'sealbus.policy.reload', (d) => d.outcome === 'applied') === 2, 'the repaired set is applied');

    // Stop and start again: broker.stop, then broker.start of the second run.
    await t.restart();
    const events = await auditEvents(t.broker.store);
    const admin = (d: Record<string, any>) => d.principal === 'admin';

    expect(count(events, 'sealbus.broker.start')).toBe(2);
    expect(count(events, 'sealbus.broker.stop')).toBe(1);
    expect(count(events, 'sealbus.admin.topic.create', (d) => admin(d) && d.resource === 'topic:audit.orders')).toBe(1);
    expect(count(events, 'sealbus.admin.topic.delete', (d) => admin(d) && d.resource === 'topic:audit.scratch')).toBe(1);
    expect(count(events, 'sealbus.admin.group.reset', (d) => d.resource === 'group:audit.readers')).toBe(1);
    expect(count(events, 'sealbus.admin.group.delete', (d) => d.resource === 'group:audit.readers')).toBe(1);
    // Batch detail: the HTTP batch (2 records at 0..1) and the WebSocket batch (1 record at 2).
    expect(events.filter((e) => e['type'] === 'sealbus.data.produce').map((e) => [e['data'].records, e['data'].firstOffset, e['data'].lastOffset])).toEqual([
      [2, 0, 1],
      [1, 2, 2],
    ]);
    expect(count(events, 'sealbus.data.consume', (d) => d.resource === 'topic:audit.orders' && d.decision === 'allow')).toBeGreaterThanOrEqual(2);
    expect(count(events, 'sealbus.auth.failure')).toBeGreaterThanOrEqual(2);
    expect(count(events, 'sealbus.auth.failure', (d) => d.code === 'SEALBUS_ERR_AUTH_TOKEN_REQUIRED')).toBe(1);
    expect(count(events, 'sealbus.auth.success', admin)).toBeGreaterThanOrEqual(3);
    expect(count(events, 'sealbus.authz.decision', (d) => d.principal === 'mallory' && d.decision === 'deny' && d.action === 'produce')).toBe(1);
    expect(count(events, 'sealbus.authz.decision', (d) => admin(d) && d.decision === 'allow' && d.action === 'create' && d.rule === 'admin-all')).toBe(2);
    expect(count(events, 'sealbus.token.issue', (d) => d.tokenId === issued.body.jti && d.tokenSubject === 'svc-audit')).toBe(1);
    expect(count(events, 'sealbus.token.revoke', (d) => d.tokenId === issued.body.jti)).toBe(1);
    expect(count(events, 'sealbus.keys.rotate', admin)).toBe(1);
    expect(count(events, 'sealbus.policy.reload')).toBe(3);
    expect(count(events, 'sealbus.keys.register', (d) => admin(d) && d.keyId === registeredKeys.signing.keyId)).toBe(1);
    expect(count(events, 'sealbus.keys.revoke', (d) => admin(d) && d.keyId === registeredKeys.signing.keyId)).toBe(1);
    expect(count(events, 'sealbus.admin.schema.register', (d) => admin(d) && d.resource === 'topic:audit.orders' && d.version === 1)).toBe(1);
    expect(count(events, 'sealbus.admin.schema.settings', (d) => admin(d) && d.compatibility === 'FULL')).toBe(1);

    // Every kind of event the log knows was written.
    const seen = new Set(events.map((e) => e['type']));
    expect(AUDIT_EVENT_TYPES.filter((type) => !seen.has(type))).toEqual([]);

    // No secret reached the log: not the admin's token, not the issued one.
    const text = JSON.stringify(events);
    expect(text).not.toContain(t.admin.token);
    expect(text).not.toContain(issued.body.token);
    expect(text).not.toContain('not-a-token');

    // Everything the first run wrote is signed (its stop was followed by a checkpoint), and it verifies.
    const lines: string[] = [];
    for await (const line of exportAuditLog(t.broker.store)) lines.push(line);
    const report = await verifyAuditLog(lines, { publicKeys: [t.broker.audit.signer.publicJwk()] });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.events).toBe(events.length);
  });

  it('the audit topic is out of reach of every client, even one allowed everything on ">"', async () => {
    const topic = '__sealbus.audit';
    const attempts = [
      await t.request('GET', `/v1/topics/${topic}/partitions/0/records?offset=0`),
      await t.request('POST', `/v1/topics/${topic}/records`, { body: { records: [{ value: { forged: true } }] } }),
      await t.request('DELETE', `/v1/topics/${topic}`),
      await t.request('GET', `/v1/topics/${topic}`),
    ];
    for (const attempt of attempts) expect(attempt.body.code).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
    expect((await t.request('GET', '/v1/topics')).body.topics.map((x: { name: string }) => x.name)).not.toContain(topic);
    // A reader of the audit log uses the audit routes, which need read-audit.
    const mallory = await t.client('mallory-reader');
    expect((await t.request('GET', '/v1/audit', { credentials: mallory })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
  });
});
