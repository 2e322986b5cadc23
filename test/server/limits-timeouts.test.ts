import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '../../src/protocol/index.js';
import { connectRawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

const HANDSHAKE_MS = 300;
const HEADERS_MS = 300;
const REQUEST_MS = 800;
const PING_MS = 200;
const IDLE_MS = 500;

/**
 * Slow clients, from their side: one that never starts TLS, one that never finishes its headers
 * (slowloris), one that trickles its body, one whose WebSocket stops answering. Each is cut off
 * after its (small, here) timeout while the broker keeps serving the others.
 */
describe('timeouts against slow clients', () => {
  let t: TestBroker;

  beforeAll(async () => {
    t = await startTestBroker({
      configure: (config) => ({
        ...config,
        limits: {
          ...config.limits,
          handshakeTimeoutMs: HANDSHAKE_MS,
          headersTimeoutMs: HEADERS_MS,
          requestTimeoutMs: REQUEST_MS,
          webSocketPingIntervalMs: PING_MS,
          idleTimeoutMs: IDLE_MS,
          longPollMaxMs: 2000,
        },
      }),
    });
  });
  afterAll(async () => t?.close());

  /** Resolves with the milliseconds until the broker closed the socket. */
  function closedAfter(socket: { once(event: 'close', listener: () => void): unknown }, since: number): Promise<number> {
    return new Promise((resolve) => socket.once('close', () => resolve(Date.now() - since)));
  }

  function tlsClient(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ port: t.broker.port, host: '127.0.0.1', servername: 'localhost', ca: t.ca, cert: t.admin.cert, key: t.admin.key }, () => resolve(socket));
      socket.once('error', reject);
    });
  }

  it('closes a TCP connection that never starts its TLS handshake, and serves others meanwhile', async () => {
    const started = Date.now();
    const silent = netConnect({ port: t.broker.port, host: '127.0.0.1' });
    silent.on('error', () => {});
    const closed = closedAfter(silent, started);
    expect((await t.request('GET', '/v1/topics')).status).toBe(200);
    const ms = await closed;
    expect(ms).toBeGreaterThanOrEqual(HANDSHAKE_MS - 50);
    expect(ms).toBeLessThan(HANDSHAKE_MS + 2000);
  });

  it('cuts off a client that never finishes its headers (slowloris) with 408', async () => {
    const socket = await tlsClient();
    const started = Date.now();
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.write(`GET /v1/topics HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.admin.token}\r\n`);
    const keepTrickling = setInterval(() => socket.write('X-Slow: 1\r\n'), 50);
    try {
      const closed = closedAfter(socket, started);
      expect((await t.request('GET', '/v1/topics')).status).toBe(200);
      const ms = await closed;
      expect(ms).toBeGreaterThanOrEqual(HEADERS_MS - 50);
      expect(ms).toBeLessThan(HEADERS_MS + 2000);
      expect(answer.startsWith('HTTP/1.1 408')).toBe(true);
    } finally {
      clearInterval(keepTrickling);
    }
  });

  it('cuts off a client that trickles its body, and keeps serving the others', async () => {
    const socket = await tlsClient();
    const started = Date.now();
    socket.write(
      `POST /v1/topics HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.admin.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    socket.on('error', () => {});
    // A byte every 50 ms: never idle, never done.
    const trickle = setInterval(() => socket.write(' '), 50);
    try {
      const closed = closedAfter(socket, started);
      expect((await t.request('GET', '/v1/topics')).status).toBe(200);
      const ms = await closed;
      expect(ms).toBeGreaterThanOrEqual(REQUEST_MS - 50);
      expect(ms).toBeLessThan(REQUEST_MS + 2000);
    } finally {
      clearInterval(trickle);
    }
  });

  it('closes a keep-alive connection left idle after its answer', async () => {
    const socket = await tlsClient();
    let answer = '';
    const answered = new Promise<number>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
        if (answer.includes('\r\n\r\n')) resolve(Date.now());
      }),
    );
    socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`);
    const at = await answered;
    expect(answer.startsWith('HTTP/1.1 200')).toBe(true);
    const ms = await closedAfter(socket, at);
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(ms).toBeLessThan(IDLE_MS + 2000);
  });

  it('does not count a long poll waiting for records as a slow request', async () => {
    expect((await t.request('POST', '/v1/topics', { body: { name: 'quiet', partitions: 1 } })).status).toBe(201);
    const started = Date.now();
    const answer = await t.request('GET', '/v1/topics/quiet/partitions/0/records?offset=0&waitMs=1500');
    expect(answer.status).toBe(200);
    expect(answer.body.records).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('ends a WebSocket session that stops answering pings, and keeps one that answers', async () => {
    const before = t.broker.limits.stats().webSockets.unresponsiveClosed;
    const answering = await connectRawSession(t);
    const silent = new WebSocket(`wss://localhost:${t.broker.port}/v1/ws`, [SUBPROTOCOL], {
      ca: t.ca,
      cert: t.admin.cert,
      key: t.admin.key,
      headers: { authorization: `Bearer ${t.admin.token}` },
      autoPong: false,
    });
    await new Promise((resolve, reject) => silent.once('open', resolve).once('error', reject));
    const started = Date.now();
    const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    expect(await closed).toBe(1006);
    expect(Date.now() - started).toBeLessThan(3 * PING_MS + 2000);
    expect(t.broker.limits.stats().webSockets.unresponsiveClosed).toBe(before + 1);
    // Several intervals later the answering session is still there and served.
    await waitFor(() => t.broker.limits.stats().webSockets.open === 1, 'only the answering session is left');
    answering.send({ type: 'METADATA', requestId: 1, topic: 'quiet' });
    expect(await answering.next((f) => 'requestId' in f && f.requestId === 1)).toMatchObject({ type: 'METADATA_RESULT' });
    answering.close();
  });
});
