/**
 * Multi-URL failover (issue 11): `ConnectionOptions.failoverUrls` over real local servers on port
 * 0: fake brokers on wss:// with mutual TLS, "down" brokers that reset every connection, and
 * HTTPS servers for the admin client.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/auth/certificate-authority.js';
import { issueCertificate } from '../../src/auth/certificate-issue.js';
import {
  Admin,
  MAX_BROKER_URLS,
  Producer,
  SealbusError,
  connectionOptionsFromEnv,
  transportFor,
  webSocketTransport,
  type ConnectionEvents,
  type ConnectionOptions,
} from '../../src/client/index.js';
import { brokerUrls } from '../../src/client/connection-options.js';
import { httpsClient } from '../../src/client/https-client.js';
import { connectionFrom } from '../../src/cli/connection.js';
import { waitFor } from '../helpers/wait-for.js';
import { FakeBroker } from './helpers/fake-broker.js';
import { rejectionOf } from '../helpers/error-code.js';

let tls: { ca: string; cert: string; key: string };
let credentials: Omit<ConnectionOptions, 'url'>;
/** Everything a test started, closed after it. */
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const serverCert = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['127.0.0.1'] } });
  const clientCert = await issueCertificate({ ca, commonName: 'producer-1', client: true });
  tls = { ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem };
  credentials = { ca: ca.certPem, cert: clientCert.certPem, key: clientCert.keyPem, token: 'jwt' };
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function connection(urls: readonly string[]): ConnectionOptions {
  return { ...credentials, url: urls[0]!, failoverUrls: urls.slice(1) };
}

const httpsUrl = (port: number): string => `https://127.0.0.1:${port}`;

async function broker(options: { port?: number; peerOf?: FakeBroker } = {}): Promise<FakeBroker & { httpsUrl: string }> {
  const started = await FakeBroker.start({ tls, ...options });
  let closed = false;
  const close = started.close.bind(started);
  started.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  cleanups.push(() => started.close());
  return Object.assign(started, { httpsUrl: httpsUrl(started.port) });
}

/** A broker that is down: it accepts TCP connections and resets them at once. */
interface DownBroker {
  readonly url: string;
  readonly port: number;
  /** Connections it reset. */
  accepted(): number;
  close(): Promise<void>;
}

async function downBroker(): Promise<DownBroker> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    accepted++;
    socket.on('error', () => {});
    socket.resetAndDestroy();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;
  const down: DownBroker = {
    url: httpsUrl(port),
    port,
    accepted: () => accepted,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      })),
  };
  cleanups.push(() => down.close());
  return down;
}

const ignoreEvents: ConnectionEvents = { onFrame: () => {}, onClose: () => {} };


function producer(connectionOptions: ConnectionOptions): Producer {
  const made = new Producer({ connection: connectionOptions, lingerMs: 0, retry: { maxAttempts: 1_000, initialDelayMs: 5, maxDelayMs: 20 } });
  cleanups.push(() => made.close());
  return made;
}

describe('failoverUrls: validation', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      return `${(err as SealbusError).code}: ${(err as SealbusError).message}`;
    }
    return 'no error';
  };

  it('checks every URL like url, bounds their number and refuses a broker named twice', () => {
    expect(brokerUrls({ url: 'https://a:1', failoverUrls: ['https://b:2/'] })).toEqual(['https://a:1', 'https://b:2/']);
    expect(code(() => transportFor({ ...credentials, url: 'https://a:1', failoverUrls: ['http://b:2'] }))).toMatch(/^SEALBUS_ERR_CONFIG_INVALID: .*failoverUrls\[0\] must use https:/);
    expect(code(() => new Admin({ connection: { ...credentials, url: 'https://a:1', failoverUrls: ['https://b:2', 'https://u:p@c:3'] } }))).toMatch(/failoverUrls\[1\] must not carry credentials/);
    expect(code(() => transportFor({ ...credentials, url: 'https://a:1', failoverUrls: ['https://b:2/x'] }))).toMatch(/failoverUrls\[0\] must be https:\/\/host:port/);
    expect(code(() => transportFor({ ...credentials, url: 'https://a:1', failoverUrls: ['https://a:1/'] }))).toMatch(/failoverUrls\[0\] names https:\/\/a:1 twice/);
    const many = Array.from({ length: MAX_BROKER_URLS }, (_, i) => `https://b${i}:1`);
    expect(brokerUrls({ url: 'https://a:1', failoverUrls: many.slice(1) })).toHaveLength(MAX_BROKER_URLS);
    expect(code(() => new Producer({ connection: { ...credentials, url: 'https://a:1', failoverUrls: many } }))).toMatch(/^SEALBUS_ERR_CONFIG_INVALID: .*at most 16/);
    expect(code(() => webSocketTransport({ url: 'ws://a:1', failoverUrls: many, token: 't' }))).toMatch(/at most 16/);
    expect(code(() => transportFor({ ...credentials, url: 'https://a:1', failoverUrls: 'https://b:2' as unknown as string[] }))).toMatch(/must be an array/);
  });

  it('reads several comma-separated URLs from SEALBUS_URL, and one as before', () => {
    const env = { SEALBUS_CERT: '/c', SEALBUS_KEY: '/k', SEALBUS_TOKEN: 't' };
    const several = connectionOptionsFromEnv({ ...env, SEALBUS_URL: 'https://a:1, https://b:2,https://c:3' });
    expect([several.url, several.failoverUrls]).toEqual(['https://a:1', ['https://b:2', 'https://c:3']]);
    const one = connectionOptionsFromEnv({ ...env, SEALBUS_URL: 'https://a:1' });
    expect(one.url).toBe('https://a:1');
    expect('failoverUrls' in one).toBe(false);
    expect(code(() => connectionOptionsFromEnv({ ...env, SEALBUS_URL: 'https://a:1,http://b:2' }))).toMatch(/SEALBUS_URL.*failoverUrls\[0\] must use https:/);
    expect(code(() => connectionOptionsFromEnv({ ...env, SEALBUS_URL: 'https://a:1,' }))).toMatch(/failoverUrls\[0\] is not a URL/);
    // The CLI's --url takes the same list, over $SEALBUS_URL.
    const flags = connectionFrom({ url: 'https://c:3,https://d:4' }, { ...env, SEALBUS_URL: 'https://a:1' });
    expect([flags.url, flags.failoverUrls]).toEqual(['https://c:3', ['https://d:4']]);
  });
});

describe('failoverUrls: the WebSocket transport', () => {
  it('uses the second URL when the first is down, and starts from it on the next connection', async () => {
    const down = await downBroker();
    const up = await broker();
    up.addTopic('orders', 1);
    const transport = transportFor(connection([down.url, up.httpsUrl]));
    expect(transport.currentUrl).toBe(down.url);

    const first = await transport.connect(ignoreEvents);
    expect(transport.currentUrl).toBe(up.httpsUrl);
    expect([down.accepted(), up.clients.length]).toEqual([1, 1]);
    first.close(1000, '');
    const second = await transport.connect(ignoreEvents);
    // The broker that worked is tried first: the down one is not tried again.
    expect([down.accepted(), up.clients.length]).toEqual([1, 2]);
    second.close(1000, '');

    // Through a Producer, the same way.
    const sent = await producer(connection([down.url, up.httpsUrl])).send({ topic: 'orders', value: 'via the second' });
    expect(sent).toMatchObject({ partition: 0, offset: 0 });
    expect(up.records('orders', 0).map((record) => record.value?.toString())).toEqual(['via the second']);
    expect(down.accepted()).toBe(2);
  });

  it('moves on past a retriable refusal (503) and tries the URLs in order from the one that worked', async () => {
    const busy = await broker();
    busy.refuseUpgrade = { status: 503, body: { code: 'SEALBUS_ERR_UNAVAILABLE', message: 'The broker is not ready: draining' } };
    const down = await downBroker();
    const up = await broker();
    const transport = transportFor(connection([busy.httpsUrl, down.url, up.httpsUrl]));
    (await transport.connect(ignoreEvents)).close(1000, '');
    expect(transport.currentUrl).toBe(up.httpsUrl);
    expect(down.accepted()).toBe(1);
    // The one that worked dies: the round goes on from it, wrapping around to the first URL.
    busy.refuseUpgrade = null;
    await up.close();
    (await transport.connect(ignoreEvents)).close(1000, '');
    expect(transport.currentUrl).toBe(busy.httpsUrl);
    expect(down.accepted()).toBe(1);
    expect(busy.clients).toHaveLength(1);
  });

  it('fails with the last retriable error when every URL is down, then connects once one comes up', async () => {
    const a = await downBroker();
    const b = await downBroker();
    const transport = transportFor(connection([a.url, b.url]));
    const error = await rejectionOf(transport.connect(ignoreEvents));
    expect(error.code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    expect(error.retriable).toBe(true);
    expect([a.accepted(), b.accepted()]).toEqual([1, 1]);

    // A producer keeps retrying (its backoff) through both, and sends once b comes up.
    const sending = producer(connection([a.url, b.url])).send({ topic: 'orders', value: 'late' });
    await waitFor(() => a.accepted() >= 3 && b.accepted() >= 3, 'the producer went round both brokers again');
    await b.close();
    const revived = await broker({ port: b.port });
    revived.addTopic('orders', 1);
    await expect(sending).resolves.toMatchObject({ partition: 0, offset: 0 });
    expect(revived.records('orders', 0).map((record) => record.value?.toString())).toEqual(['late']);
  });

  it('reports a 401 refusal with its code at once, without moving on to the next broker', async () => {
    const refusing = await broker();
    refusing.refuseUpgrade = { status: 401, body: { code: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED', message: 'The token has expired' } };
    const other = await broker();
    other.addTopic('orders', 1);
    const transport = transportFor(connection([refusing.httpsUrl, other.httpsUrl]));
    const error = await rejectionOf(transport.connect(ignoreEvents));
    expect([error.code, error.retriable, error.status]).toEqual(['SEALBUS_ERR_AUTH_TOKEN_EXPIRED', false, 401]);
    expect(other.clients).toHaveLength(0);

    // Behind a down broker too: the refusal, not the connection error, is what the producer reports.
    const down = await downBroker();
    const sendError = await rejectionOf(producer(connection([down.url, refusing.httpsUrl, other.httpsUrl])).send({ topic: 'orders', value: 'x' }));
    expect(sendError.code).toBe('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
    expect(other.clients).toHaveLength(0);
  });

  it('moves an idempotent producer to the other broker when its broker dies, losing and repeating no in-flight record', async () => {
    const a = await broker();
    a.addTopic('orders', 1);
    const b = await broker({ peerOf: a });
    const sender = producer(connection([a.httpsUrl, b.httpsUrl]));
    expect(await sender.send({ topic: 'orders', value: 'r0' })).toMatchObject({ offset: 0 });

    // A stores the next two batches without answering, then takes batches without storing them:
    // all five are in flight when A dies, two of them stored.
    let taken = 0;
    a.hook = (frame, _client, self) => {
      if (frame.type !== 'PRODUCE') return;
      if (taken++ < 2) self.store(frame);
      return 'handled';
    };
    const sends: Promise<{ offset: number }>[] = [];
    for (let n = 1; n <= 5; n++) {
      sends.push(sender.send({ topic: 'orders', value: `r${n}` }));
      await waitFor(() => a.frames('PRODUCE').length >= 1 + n, `A received batch ${n}`);
    }
    expect(a.records('orders', 0)).toHaveLength(3);
    await a.close();

    expect((await Promise.all(sends)).map((meta) => meta.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(b.clients).toHaveLength(1);
    // The shared log holds every record once, in send order: the stored two were acknowledged as duplicates.
    expect(b.records('orders', 0).map((record) => record.value?.toString())).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect(b.frames('PRODUCE').length).toBeGreaterThanOrEqual(5);
  });
});

describe('failoverUrls: the HTTPS admin client', () => {
  interface Server {
    readonly url: string;
    readonly requests: string[];
  }

  /** An HTTPS server with mutual TLS; `hangUp` destroys the connection once a request arrived (sent, never answered). */
  async function httpsServer(hangUp = false): Promise<Server> {
    const requests: string[] = [];
    const server: HttpsServer = createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      if (hangUp) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/v1/topics' ? { topics: [] } : { ok: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return { url: httpsUrl((server.address() as AddressInfo).port), requests };
  }

  it('sends a request to the next broker when no connection could be opened, and stays there', async () => {
    const down = await downBroker();
    const up = await httpsServer();
    const admin = new Admin({ connection: connection([down.url, up.url]) });
    cleanups.push(() => admin.close());
    expect(await admin.listTopics()).toEqual([]);
    const http = httpsClient(connection([down.url, up.url]));
    cleanups.push(() => http.close());
    // Nothing was sent to the down broker: a POST may go elsewhere too.
    expect((await http.request('POST', '/v1/things', { n: 1 })).body).toEqual({ ok: true });
    expect((await http.request('GET', '/v1/things')).body).toEqual({ ok: true });
    expect(up.requests).toEqual(['GET /v1/topics', 'POST /v1/things', 'GET /v1/things']);
    expect(down.accepted()).toBe(2);
  });

  it('repeats a GET on the next broker after the request was sent, but never a POST', async () => {
    const hangingUp = await httpsServer(true);
    const up = await httpsServer();
    const post = httpsClient(connection([hangingUp.url, up.url]));
    cleanups.push(() => post.close());
    const error = await rejectionOf(post.request('POST', '/v1/things', { n: 1 }));
    expect([error.code, error.retriable]).toEqual(['SEALBUS_ERR_CONNECTION_CLOSED', true]);
    expect([hangingUp.requests, up.requests]).toEqual([['POST /v1/things'], []]);

    const get = httpsClient(connection([hangingUp.url, up.url]));
    cleanups.push(() => get.close());
    expect((await get.request('GET', '/v1/things')).body).toEqual({ ok: true });
    expect([hangingUp.requests, up.requests]).toEqual([['POST /v1/things', 'GET /v1/things'], ['GET /v1/things']]);
  });

  it('fails with the last connection error when every broker is down', async () => {
    const a = await downBroker();
    const b = await downBroker();
    const http = httpsClient(connection([a.url, b.url]));
    cleanups.push(() => http.close());
    const error = await rejectionOf(http.request('GET', '/v1/topics'));
    expect([error.code, error.retriable]).toEqual(['SEALBUS_ERR_CONNECTION_CLOSED', true]);
    expect([a.accepted(), b.accepted()]).toEqual([1, 1]);
  });

  it("keeps audit reads of the broker's own chain on url, and fails over those naming a broker", async () => {
    const down = await downBroker();
    const up = await httpsServer();
    const http = httpsClient(connection([down.url, up.url]));
    cleanups.push(() => http.close());
    expect((await rejectionOf(http.request('GET', '/v1/audit?limit=1'))).code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    expect((await rejectionOf(http.request('GET', '/v1/audit/keys'))).code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    expect(up.requests).toEqual([]);
    expect((await http.request('GET', '/v1/audit?broker=b-1')).body).toEqual({ ok: true });
    // Even once another broker answered, the chain of the broker asked is read on url.
    expect((await rejectionOf(http.request('GET', '/v1/audit'))).code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    expect(up.requests).toEqual(['GET /v1/audit?broker=b-1']);
    expect(down.accepted()).toBe(4);
  });
});
