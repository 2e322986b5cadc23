import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/policy/index.js';
import { SUBPROTOCOL } from '../../src/protocol/index.js';
import { fileDescriptorLimit, type Refusal } from '../../src/server/limits/index.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

type Opened = { ok: true; ws: WebSocket } | { ok: false; status: number; code: string } | { ok: false; error: string };

const everything = `
version: 1
rules:
  - id: everything
    effect: allow
    principals: [{name: admin}, {name: bob}, {name: carol}]
    resources: [{topic: ">"}, {group: ">"}, {cluster: true}]
    actions: [${ACTIONS.join(', ')}]
`;

/**
 * The connection limits, from the side of a client that opens too many: in total, per source
 * address (loopback has many: 127.0.0.2 and .3 are other clients) and per principal. 150 sessions.
 */
describe('connection limits', () => {
  let t: TestBroker;
  const held: WebSocket[] = [];
  const users = new Map<string, ClientCredentials>();
  const refusals: Refusal[] = [];

  beforeAll(async () => {
    t = await startTestBroker({
      policies: { 'everything.yaml': everything },
      configure: (config) => ({ ...config, limits: { ...config.limits, maxConnections: 150, maxConnectionsPerIp: 100, maxConnectionsPerPrincipal: 60 } }),
    });
    users.set('admin', t.admin);
    users.set('bob', await t.client('bob'));
    users.set('carol', await t.client('carol'));
    t.broker.limits.onRefused = (refusal) => refusals.push(refusal);
  });
  afterAll(async () => {
    for (const ws of held) ws.terminate();
    await t?.close();
  });

  const stats = () => t.broker.limits.stats().connections;

  function open(name: string, from: string): Promise<Opened> {
    const credentials = users.get(name)!;
    const ws = new WebSocket(`wss://localhost:${t.broker.port}/v1/ws`, [SUBPROTOCOL], {
      ca: t.ca,
      cert: credentials.cert,
      key: credentials.key,
      headers: { authorization: `Bearer ${credentials.token}` },
      localAddress: from,
    });
    return new Promise((resolve) => {
      ws.once('open', () => {
        held.push(ws);
        resolve({ ok: true, ws });
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          ws.terminate();
          resolve({ ok: false, status: res.statusCode ?? 0, code: (JSON.parse(body) as { code: string }).code });
        });
      });
      ws.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
    });
  }

  async function openMany(count: number, name: string, from: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      const opened = await open(name, from);
      expect(opened.ok, `session ${i + 1} of ${name} from ${from}: ${JSON.stringify(opened)}`).toBe(true);
    }
  }

  it('refuses a principal past its limit at authentication with 429 SEALBUS_ERR_LIMIT_PRINCIPAL_CONNECTIONS', async () => {
    await openMany(60, 'admin', '127.0.0.1');
    expect(await open('admin', '127.0.0.1')).toEqual({ ok: false, status: 429, code: 'SEALBUS_ERR_LIMIT_PRINCIPAL_CONNECTIONS' });
    // On plain HTTP too, and that connection is not kept for another try.
    const answer = await t.request('GET', '/v1/topics');
    expect([answer.status, answer.body.code, answer.headers.connection]).toEqual([429, 'SEALBUS_ERR_LIMIT_PRINCIPAL_CONNECTIONS', 'close']);
    expect(answer.body.retriable).toBe(true);
    // Another principal is not held back by it.
    expect((await open('bob', '127.0.0.1')).ok).toBe(true);
    expect(stats().refused.perPrincipal).toBe(2);
    await waitFor(() => stats().open === 61, 'the refused connections are closed and uncounted');
    expect(stats()).toMatchObject({ open: 61, sourceAddresses: 1, principals: 2, authenticated: 61 });
  });

  it('refuses a source address past its limit at the TCP connection, before any TLS', async () => {
    await openMany(39, 'bob', '127.0.0.1');
    expect(stats().open).toBe(100);
    const refused = await open('carol', '127.0.0.1');
    expect(refused).toEqual({ ok: false, error: 'ECONNRESET' });
    expect(stats().refused.perIp).toBe(1);
    // The same principal from another address is served.
    expect((await open('carol', '127.0.0.2')).ok).toBe(true);
  });

  it('refuses any connection past the total, before it is even a socket', async () => {
    await openMany(49, 'carol', '127.0.0.2');
    expect(stats().open).toBe(150);
    expect(await open('carol', '127.0.0.3')).toEqual({ ok: false, error: 'ECONNRESET' });
    expect(stats().refused.total).toBe(1);
    expect(stats()).toMatchObject({ open: 150, sourceAddresses: 2, principals: 3, authenticated: 150 });
    // Each refusal was reported as it happened (metrics).
    expect(refusals.map((r) => (r.kind === 'connection' ? r.limit : r.quota))).toEqual(['perPrincipal', 'perPrincipal', 'perIp', 'total']);
  });

  it('counts back to zero when the connections close, and serves again', async () => {
    for (const ws of held.splice(0)) ws.close();
    await waitFor(() => {
      const now = stats();
      return now.open === 0 && now.sourceAddresses === 0 && now.principals === 0 && now.authenticated === 0;
    }, 'every counter is back at zero');
    expect(t.broker.limits.stats().webSockets.open).toBe(0);
    expect((await open('admin', '127.0.0.3')).ok).toBe(true);
    expect(await plainStatus(t)).toBe(200);
  });
});

describe('file descriptors', () => {
  it('reads the process limit the broker warns against (Linux)', () => {
    const limit = fileDescriptorLimit();
    if (process.platform === 'linux') expect(limit).toBeGreaterThan(0);
    else expect(limit).toBeNull();
  });
});

/** GET /v1/topics as the administrator on a fresh connection. */
function plainStatus(t: TestBroker): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${t.url}/v1/topics`, { ca: t.ca, cert: t.admin.cert, key: t.admin.key, agent: false, headers: { authorization: `Bearer ${t.admin.token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
