import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { parseAuditLines, verifyAuditLog } from '../../src/audit/verify.js';
import type { AuditSigner } from '../../src/audit/signer.js';
import { Broker, type Authorizer } from '../../src/broker/index.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import type { ClientPrincipal } from '../../src/server/context.js';
import { installErrorHandling } from '../../src/server/errors.js';
import { registerAuditRoutes } from '../../src/server/routes/audit.js';
import { SOURCE, testSigner } from '../audit/helpers.js';

/** Only `auditor` may read the audit log; everyone else is denied everything. */
const authorizer: Authorizer = {
  authorize: (actor, action) => ({ allowed: actor.name === 'auditor' && action === 'read-audit', rule: 'test' }),
};

/** The audit routes alone, through inject(): the principal comes from a test header. */
async function buildTestApp(store: MemoryLogStore, signer: AuditSigner): Promise<FastifyInstance> {
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, useDefaults: false, allErrors: false, coerceTypes: 'array' } } });
  const broker = new Broker({ store, authorizer, limits: { maxRecordsPerBatch: 1000, maxBatchBytes: 1 << 20, fetchMaxBytes: 1 << 20, longPollMaxMs: 2000 } });
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    request.principal = { name: String(request.headers['x-principal'] ?? 'nobody'), sourceIp: null } as unknown as ClientPrincipal;
  });
  installErrorHandling(app, { maxBodyBytes: 1 << 20 });
  registerAuditRoutes(app, { broker, store, source: SOURCE, publicKeys: () => [signer.publicJwk()] });
  app.addHook('onClose', async () => broker.close());
  return app;
}

describe('the audit routes', () => {
  let store: MemoryLogStore;
  let signer: AuditSigner;
  let log: AuditLog;
  let app: FastifyInstance;
  const get = (url: string, principal = 'auditor') => app.inject({ method: 'GET', url, headers: { 'x-principal': principal } });

  beforeAll(async () => {
    store = new MemoryLogStore();
    await store.open();
    signer = await testSigner();
    log = await AuditLog.open({
      store,
      signer,
      source: SOURCE,
      checkpointEvents: 4,
      checkpointIntervalMs: 3_600_000,
      retentionMs: null,
      retentionBytes: null,
      segmentBytes: 1 << 20,
      maxPendingEvents: 1000,
    });
    await log.append({ type: 'sealbus.auth.success', data: { principal: 'alice' } });
    await log.append({ type: 'sealbus.auth.failure', data: { code: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED' } });
    await log.append({ type: 'sealbus.authz.decision', subject: 'topic:orders', data: { principal: 'alice', action: 'produce', resource: 'topic:orders', decision: 'deny', rule: 'default-deny' } });
    await log.append({ type: 'sealbus.admin.topic.create', data: { principal: 'admin', resource: 'topic:orders' } });
    await log.append({ type: 'sealbus.authz.decision', data: { principal: 'bob', action: 'consume', resource: 'topic:orders', decision: 'allow', rule: 'r1' } });
    app = await buildTestApp(store, signer);
  });
  afterAll(async () => {
    await app?.close();
    await log?.close();
    await store?.close();
  });

  it('refuses a principal without read-audit on every route, before looking at the query', async () => {
    for (const url of ['/v1/audit', '/v1/audit?principal=alice', '/v1/audit?bogus=1&limit=0', '/v1/audit/export', '/v1/audit/export?since=yesterday', '/v1/audit/keys']) {
      const res = await get(url, 'alice');
      expect(res.statusCode, url).toBe(403);
      expect(res.json().code, url).toBe('SEALBUS_ERR_FORBIDDEN');
      expect(res.body).not.toContain('sealbus.auth');
      expect(res.body).not.toContain(signer.keyId);
    }
  });

  it('pages through every event, with next and highWatermark, never cached', async () => {
    const first = await get('/v1/audit?limit=2');
    expect(first.statusCode).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    const page = first.json();
    expect(page.events.map((event: { sealbusseq: number }) => event.sealbusseq)).toEqual([0, 1]);
    expect(page.highWatermark).toBeGreaterThan(5);
    const rest = (await get(`/v1/audit?from=${page.next}&limit=1000`)).json();
    expect(rest.events.map((event: { sealbusseq: number }) => event.sealbusseq)).toEqual([2, 3, 4]);
    expect(rest.next).toBe(rest.highWatermark);
  });

  it('filters by principal, topic, action, decision, type (exact or prefix) and time', async () => {
    const seqs = async (query: string): Promise<number[]> => (await get(`/v1/audit?${query}`)).json().events.map((event: { sealbusseq: number }) => event.sealbusseq);
    expect(await seqs('principal=alice')).toEqual([0, 2]);
    expect(await seqs('topic=orders')).toEqual([2, 3, 4]);
    expect(await seqs('action=consume')).toEqual([4]);
    expect(await seqs('decision=deny')).toEqual([2]);
    expect(await seqs('type=sealbus.auth.')).toEqual([0, 1]);
    expect(await seqs('type=sealbus.auth.failure')).toEqual([1]);
    expect(await seqs('principal=alice&decision=deny&topic=orders')).toEqual([2]);
    expect(await seqs(`since=${Date.now() + 3_600_000}`)).toEqual([]);
    expect(await seqs('until=2000-01-01T00:00:00Z')).toEqual([]);
    expect(await seqs('since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00.000%2B02:00')).toEqual([0, 1, 2, 3, 4]);
  });

  it('names the bad parameter with SEALBUS_ERR_REQUEST_INVALID', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['from=-1', 'from'],
      ['waitMs=30001', 'waitMs'],
      ['decision=maybe', 'decision'],
      ['since=yesterday', 'since'],
      ['until=2025-13-45T00:00:00Z', 'until'],
      ['colour=red', '"colour"'],
    ];
    for (const [query, name] of cases) {
      const res = await get(`/v1/audit?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().code, query).toBe('SEALBUS_ERR_REQUEST_INVALID');
      expect(res.json().message, query).toContain(name);
    }
    const res = await get('/v1/audit/export?limit=3');
    expect(res.json()).toMatchObject({ code: 'SEALBUS_ERR_REQUEST_INVALID' });
    expect(res.json().message).toContain('"limit"');
  });

  it('long-polls for a matching new event and returns it as soon as it is written', async () => {
    const caughtUp = (await get('/v1/audit?limit=1000')).json();
    const polled = get(`/v1/audit?from=${caughtUp.next}&principal=carol&waitMs=10000`);
    await log.append({ type: 'sealbus.auth.success', data: { principal: 'dave' } });
    await log.append({ type: 'sealbus.auth.success', data: { principal: 'carol' } });
    const page = (await polled).json();
    expect(page.events.map((event: { data: { principal: string } }) => event.data.principal)).toEqual(['carol']);
  });

  it('caps the long poll at the broker limit: an idle poll returns empty', async () => {
    const caughtUp = (await get('/v1/audit?limit=1000')).json();
    const started = Date.now();
    const page = (await get(`/v1/audit?from=${caughtUp.next}&waitMs=30000`)).json();
    expect(page.events).toEqual([]);
    expect(page.next).toBe(caughtUp.next);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('exports every record as JSON lines that verify with the published keys', async () => {
    await log.checkpoint();
    const res = await get('/v1/audit/export');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/x-ndjson');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.endsWith('\n')).toBe(true);
    const keys = (await get('/v1/audit/keys')).json();
    expect(keys).toEqual({ source: SOURCE, keys: [signer.publicJwk()] });
    const report = await verifyAuditLog(parseAuditLines(res.body), { publicKeys: keys.keys });
    expect(report).toMatchObject({ ok: true, events: 7, unsignedTail: 0 });
    expect(report.checkpoints).toBeGreaterThanOrEqual(2);
    const later = await get(`/v1/audit/export?since=${Date.now() + 3_600_000}`);
    expect(later.body).toBe('');
  });
});
