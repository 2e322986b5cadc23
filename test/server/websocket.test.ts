import { once } from 'node:events';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecords, encodeRecords } from '../../src/log/index.js';
import type { BrokerFrame } from '../../src/protocol/index.js';
import { connectRawSession, openRawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

function records(...values: string[]) {
  return encodeRecords(values.map((value) => ({ key: null, value: Buffer.from(value) })));
}

const session = connectRawSession;

const isError = (requestId: number) => (frame: BrokerFrame) => frame.type === 'ERROR' && frame.requestId === requestId;

describe('WebSocket sessions', () => {
  let t: TestBroker;
  beforeAll(async () => {
    // The expiry test below asks as fast as the broker answers, for seconds: no request quota here
    // (quotas are tested in quotas-ws.test.ts).
    t = await startTestBroker({ configure: (config) => ({ ...config, quotas: { ...config.quotas, default: { ...config.quotas.default, requestsPerSecond: null } } }) });
    const created = await t.request('POST', '/v1/topics', { body: { name: 'ws.orders', partitions: 2 } });
    expect(created.status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('refuses the upgrade without a token, with the exact code', async () => {
    const result = await openRawSession(t, { cert: t.admin.cert, key: t.admin.key });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.status).toBe(401);
      expect(result.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
    }
  });

  it('closes the connection of a refused upgrade instead of leaving it to the client', async () => {
    const socket = connect({ host: 'localhost', port: t.broker.port, ca: t.ca, cert: t.admin.cert, key: t.admin.key, servername: 'localhost' });
    await once(socket, 'secureConnect');
    socket.write(
      'GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sealbus.v1\r\n\r\n',
    );
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
    // The broker ends the socket itself; the client never closes it.
    await once(socket, 'end');
    expect(response).toMatch(/^HTTP\/1\.1 401/);
    expect(response).toContain('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
    socket.destroy();
  });

  it('refuses the upgrade of a bound token on another certificate', async () => {
    const mallory = await t.client('mallory');
    const result = await openRawSession(t, { cert: mallory.cert, key: mallory.key, token: t.admin.token });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_BINDING');
  });

  it('refuses a client that does not speak sealbus.v1', async () => {
    const result = await openRawSession(t, t.admin, { protocols: ['sealbus.v0'] });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.body.code).toBe('SEALBUS_ERR_PROTOCOL_VERSION');
  });

  it('acks produced batches with offsets, in order, and pushes them to a subscriber under credit', async () => {
    const s = await session(t);
    s.send({ type: 'PRODUCE', requestId: 1, topic: 'ws.orders', partition: 1, producer: null, records: records('a', 'b') });
    s.send({ type: 'PRODUCE', requestId: 2, topic: 'ws.orders', partition: 1, producer: null, records: records('c') });
    const first = await s.next((f) => f.type === 'PRODUCE_ACK' && f.requestId === 1);
    const second = await s.next((f) => f.type === 'PRODUCE_ACK' && f.requestId === 2);
    expect(first).toMatchObject({ baseOffset: 0, count: 2, duplicate: false });
    expect(second).toMatchObject({ baseOffset: 2, count: 1 });

    s.send({ type: 'SUBSCRIBE', requestId: 3, subscriptionId: 7, topic: 'ws.orders', partition: 1, start: { kind: 'offset', offset: 1 }, creditBytes: 1 });
    const subscribed = await s.next((f) => f.type === 'SUBSCRIBED');
    expect(subscribed).toMatchObject({ subscriptionId: 7, startOffset: 1, highWatermark: 3 });
    const pushed = await s.next((f) => f.type === 'RECORDS');
    if (pushed.type !== 'RECORDS') throw new Error('unreachable');
    // One byte of credit buys exactly one batch: the first, which starts before the requested offset.
    expect(pushed.batches).toHaveLength(1);
    expect(decodeRecords(pushed.batches[0]!).map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
    ]);
    s.send({ type: 'CREDIT', requestId: 4, subscriptionId: 7, creditBytes: 1 << 20 });
    const more = await s.next((f) => f.type === 'RECORDS');
    if (more.type !== 'RECORDS') throw new Error('unreachable');
    expect(decodeRecords(more.batches[0]!).map((r) => r.value?.toString())).toEqual(['c']);
    s.close();
  });

  it('denies produce and subscribe to a principal that is not allowed (default deny)', async () => {
    const carol = await t.client('carol');
    const s = await session(t, carol);
    s.send({ type: 'PRODUCE', requestId: 1, topic: 'ws.orders', partition: 0, producer: null, records: records('x') });
    expect(await s.next(isError(1))).toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN' });
    s.send({ type: 'SUBSCRIBE', requestId: 2, subscriptionId: 1, topic: 'ws.orders', partition: 0, start: { kind: 'earliest' }, creditBytes: 1 << 20 });
    expect(await s.next(isError(2))).toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN' });
    s.close();
  });

  it('rejects a malformed batch without storing any of it', async () => {
    const s = await session(t);
    const before = (await t.request('GET', '/v1/topics/ws.orders')).body.partitions[0].highWatermark;
    const torn = records('whole', 'torn');
    const cut = { count: torn.count, bytes: torn.bytes.subarray(0, torn.bytes.length - 2) };
    s.send({ type: 'PRODUCE', requestId: 5, topic: 'ws.orders', partition: 0, producer: null, records: cut });
    expect(await s.next(isError(5))).toMatchObject({ code: 'SEALBUS_ERR_BATCH_INVALID' });
    const after = (await t.request('GET', '/v1/topics/ws.orders')).body.partitions[0].highWatermark;
    expect(after).toBe(before);
    s.close();
  });

  it('closes the session with 4400 on a malformed frame', async () => {
    const s = await session(t);
    s.sendBytes(Buffer.from([9, 1, 0, 0, 0, 0]));
    expect(await s.next(isError(0))).toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_VERSION' });
    expect(await s.closed()).toEqual({ code: 4400, reason: 'SEALBUS_ERR_PROTOCOL_VERSION' });
  });

  it("refuses an in-band refresh with another principal's token and keeps the session", async () => {
    const s = await session(t);
    const mallory = await t.client('mallory');
    s.send({ type: 'REFRESH', requestId: 8, token: mallory.token });
    // Mallory's token is bound to Mallory's certificate, so it fails on this connection before the subject is compared.
    expect(await s.next(isError(8))).toMatchObject({ code: 'SEALBUS_ERR_AUTH_TOKEN_BINDING' });
    s.send({ type: 'METADATA', requestId: 9, topic: 'ws.orders' });
    expect(await s.next((f) => f.type === 'METADATA_RESULT')).toMatchObject({ partitions: 2 });
    s.close();
  });

  it('refuses a refresh naming another principal on the same certificate', async () => {
    const s = await session(t);
    const other = await t.broker.issuer.issueToken({
      sub: 'someone-else',
      ttlSeconds: 600,
      audience: 'sealbus',
      bindThumbprint: (await import('../../src/auth/index.js')).certificateThumbprint(t.admin.cert),
    });
    s.send({ type: 'REFRESH', requestId: 3, token: other });
    expect(await s.next(isError(3))).toMatchObject({ code: 'SEALBUS_ERR_AUTH_PRINCIPAL_MISMATCH' });
    s.close();
  });

  it('warns before the token expires, then ends the session at expiry', async () => {
    const shortLived = await t.client('admin', { ttlSeconds: 2 });
    const s = await session(t, shortLived);
    expect(await s.next((f) => f.type === 'TOKEN_EXPIRING', 5_000)).toMatchObject({ type: 'TOKEN_EXPIRING' });
    expect(await s.next(isError(0), 5_000)).toMatchObject({ code: 'SEALBUS_ERR_SESSION_EXPIRED' });
    expect(await s.closed()).toEqual({ code: 4001, reason: 'SEALBUS_ERR_SESSION_EXPIRED' });
  });

  it('lives on past the first expiry when refreshed in-band', async () => {
    // Long enough that a loaded machine still refreshes before the first token runs out.
    const shortLived = await t.client('admin', { ttlSeconds: 4 });
    const s = await session(t, shortLived);
    await s.next((f) => f.type === 'TOKEN_EXPIRING', 5_000);
    const fresh = await t.broker.issuer.issueToken({
      sub: 'admin',
      ttlSeconds: 600,
      audience: 'sealbus',
      bindThumbprint: (await import('../../src/auth/index.js')).certificateThumbprint(shortLived.cert),
    });
    s.send({ type: 'REFRESH', requestId: 11, token: fresh });
    const refreshed = await s.next((f) => f.type === 'REFRESHED');
    if (refreshed.type !== 'REFRESHED') throw new Error('unreachable');
    expect(refreshed.expiresAt).toBeGreaterThan(Date.now() + 500_000);
    // Past the old expiry, the session still answers.
    const oldExpiry = Date.now() + 4_500;
    while (Date.now() < oldExpiry) {
      s.send({ type: 'METADATA', requestId: 12, topic: 'ws.orders' });
      expect(await s.next((f) => f.type === 'METADATA_RESULT' && f.requestId === 12)).toMatchObject({ partitions: 2 });
    }
    s.close();
  });
});
