/**
 * One id per request, named by the broker: the `x-request-id` of the answer, the `reqId` of the
 * broker's log lines and the `requestId` of the audit events the request caused, so that an
 * operator can go from a client's report to the log and the audit trail. Log lines carry no secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAuditLog } from '../../src/audit/index.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { adminPolicy } from '../helpers/policies.js';
import { waitFor } from '../helpers/wait-for.js';

type Event = { type: string; data: Record<string, unknown> };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids', () => {
  let t: TestBroker;
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];

  beforeAll(async () => {
    t = await startTestBroker({
      policies: { 'admin.yaml': adminPolicy('admin', 'admin-all') },
      configure: (config) => ({ ...config, log: { ...config.log, level: 'debug' } }),
      logStream: {
        write(line: string) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    });
  });
  afterAll(async () => t?.close());

  async function eventsFor(requestId: string): Promise<Event[]> {
    const events: Event[] = [];
    for await (const line of exportAuditLog(t.broker.store)) {
      const event = JSON.parse(line) as Event;
      if (event.data?.['requestId'] === requestId) events.push(event);
    }
    return events;
  }

  it('names each answer, its log line and the audit events it caused with the same id', async () => {
    const created = await t.request('POST', '/v1/topics', { body: { name: 'traced', partitions: 1 } });
    expect(created.status).toBe(201);
    const id = created.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);

    await waitFor(async () => (await eventsFor(id)).some((e) => e.type === 'sealbus.admin.topic.create'), 'the creation is audited with the request id');
    const events = await eventsFor(id);
    expect(events.map((e) => e.type)).toContain('sealbus.admin.topic.create');
    expect(events.every((e) => e.data['principal'] === 'admin')).toBe(true);

    const line = lines.find((l) => l['reqId'] === id && l['msg'] === 'request answered');
    expect(line).toMatchObject({ method: 'POST', route: '/v1/topics', status: 201, principal: 'admin' });
  });

  it('gives each request its own id, and ignores an id the client sends', async () => {
    const a = await t.request('GET', '/v1/topics', { headers: { 'x-request-id': 'chosen-by-the-client' } });
    const b = await t.request('GET', '/v1/topics');
    expect(a.status).toBe(200);
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(b.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    expect(lines.some((l) => l['reqId'] === 'chosen-by-the-client')).toBe(false);
  });

  it('traces a refused token to its auth.failure event, and logs neither the token nor the key', async () => {
    const refused = await t.request('GET', '/v1/topics', { credentials: { ...t.admin, token: `${t.admin.token.slice(0, -4)}AAAA` } });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE');
    const id = refused.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);
    await waitFor(async () => (await eventsFor(id)).length > 0, 'the failure is audited');
    const [failure] = await eventsFor(id);
    expect(failure).toMatchObject({ type: 'sealbus.auth.failure', data: { code: 'SEALBUS_ERR_AUTH_TOKEN_SIGNATURE', requestId: id } });
    expect(lines.find((l) => l['reqId'] === id && l['msg'] === 'request answered')).toMatchObject({ status: 401, principal: null });

    const everything = raw.join('');
    expect(everything).not.toContain(t.admin.token);
    expect(everything).not.toContain(t.admin.token.split('.')[2]);
    expect(everything).not.toContain('PRIVATE KEY');
  });
});
