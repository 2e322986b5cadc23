import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords } from '../../src/log/index.js';
import type { BrokerFrame } from '../../src/protocol/index.js';
import { connectRawSession, openRawSession, type RawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** A POST whose body goes out chunked (no Content-Length); resolves with the status and code. */
function chunkedPost(t: TestBroker, path: string, body: string): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${t.url}${path}`,
      {
        method: 'POST',
        ca: t.ca,
        cert: t.admin.cert,
        key: t.admin.key,
        agent: false,
        headers: { authorization: `Bearer ${t.admin.token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { code: string }).code }));
      },
    );
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 1024) req.write(body.slice(at, at + 1024));
    req.end();
  });
}

const isError = (requestId: number) => (frame: BrokerFrame) => frame.type === 'ERROR' && frame.requestId === requestId;

/** Every session limit, from the side of a client that ignores it. */
describe('session limits', () => {
  let t: TestBroker;
  const open: RawSession[] = [];

  async function session(): Promise<RawSession> {
    const opened = await connectRawSession(t);
    open.push(opened);
    return opened;
  }

  beforeAll(async () => {
    t = await startTestBroker({
      configure: (config) => ({
        ...config,
        limits: { ...config.limits, maxSessions: 3, maxInFlightPerSession: 1, maxSubscriptionsPerSession: 1, maxFrameBytes: 4096, maxBodyBytes: 8192, maxRecordsPerBatch: 5 },
      }),
    });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'limited', partitions: 2 } })).status).toBe(201);
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await t?.close();
  });

  it('refuses batches past the in-flight limit with a retriable code, and acks the rest', async () => {
    const s = await session();
    const one = encodeRecords([{ value: Buffer.from('x') }]);
    for (let requestId = 1; requestId <= 10; requestId++) {
      s.send({ type: 'PRODUCE', requestId, topic: 'limited', partition: 0, producer: null, records: one });
    }
    const replies: BrokerFrame[] = [];
    for (let requestId = 1; requestId <= 10; requestId++) replies.push(await s.next((f) => 'requestId' in f && f.requestId === requestId));
    const refused = replies.filter((f) => f.type === 'ERROR');
    expect(refused.length).toBeGreaterThan(0);
    for (const f of refused) expect(f).toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_TOO_MANY_IN_FLIGHT', retriable: true });
    expect(replies[0]).toMatchObject({ type: 'PRODUCE_ACK' });
  });

  it('refuses a subscription past the per-session limit', async () => {
    const s = await session();
    s.send({ type: 'SUBSCRIBE', requestId: 1, subscriptionId: 1, topic: 'limited', partition: 0, start: { kind: 'earliest' }, creditBytes: 1 });
    await s.next((f) => f.type === 'SUBSCRIBED');
    s.send({ type: 'SUBSCRIBE', requestId: 2, subscriptionId: 2, topic: 'limited', partition: 1, start: { kind: 'earliest' }, creditBytes: 1 });
    expect(await s.next(isError(2))).toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_TOO_MANY_SUBSCRIPTIONS' });
  });

  it('closes a session that sends a frame over the size limit', async () => {
    const s = await session();
    s.send({ type: 'PRODUCE', requestId: 1, topic: 'limited', partition: 0, producer: null, records: encodeRecords([{ value: Buffer.alloc(8192) }]) });
    expect((await s.closed()).code).toBe(1009);
  });

  it('closes a session whose PRODUCE holds more records than a batch may, with SEALBUS_ERR_BATCH_TOO_LARGE', async () => {
    const s = await session();
    const six = encodeRecords(Array.from({ length: 6 }, () => ({ value: Buffer.from('x') })));
    s.send({ type: 'PRODUCE', requestId: 1, topic: 'limited', partition: 0, producer: null, records: six });
    expect(await s.next(isError(0))).toMatchObject({ code: 'SEALBUS_ERR_BATCH_TOO_LARGE' });
    expect(await s.closed()).toEqual({ code: 4400, reason: 'SEALBUS_ERR_BATCH_TOO_LARGE' });
  });

  it('closes a session that sends a text frame', async () => {
    const s = await session();
    s.sendBytes('{"type":"PRODUCE"}');
    expect(await s.closed()).toEqual({ code: 4400, reason: 'SEALBUS_ERR_PROTOCOL_FRAME' });
  });

  it('refuses an HTTP body over maxBodyBytes with 413 SEALBUS_ERR_REQUEST_TOO_LARGE, with or without Content-Length', async () => {
    const body = { records: [{ valueBase64: Buffer.alloc(7000).toString('base64') }] };
    const answer = await t.request('POST', '/v1/topics/limited/records', { body });
    expect([answer.status, answer.body.code]).toEqual([413, 'SEALBUS_ERR_REQUEST_TOO_LARGE']);
    expect(answer.body.message).toBe('Request body exceeds 8192 bytes');
    const chunked = await chunkedPost(t, '/v1/topics/limited/records', JSON.stringify(body));
    expect([chunked.status, chunked.code]).toEqual([413, 'SEALBUS_ERR_REQUEST_TOO_LARGE']);
  });

  it('refuses an HTTP produce of more records than a batch may hold', async () => {
    const answer = await t.request('POST', '/v1/topics/limited/records', { body: { records: Array.from({ length: 6 }, () => ({ value: 1 })) } });
    expect([answer.status, answer.body.code]).toEqual([400, 'SEALBUS_ERR_REQUEST_INVALID']);
    expect(answer.body.message).toContain('must NOT have more than 5 items');
  });

  it('refuses a session past the total limit with 503 and a retriable code', async () => {
    for (const s of open.splice(0)) {
      s.close();
      await s.closed();
    }
    const held = [await session(), await session(), await session()];
    const refused = await openRawSession(t);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect([refused.status, refused.body.code]).toEqual([503, 'SEALBUS_ERR_PROTOCOL_TOO_MANY_CONNECTIONS']);
    expect(held).toHaveLength(3);
  });
});
