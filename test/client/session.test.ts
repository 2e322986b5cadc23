import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../src/client/index.js';
import { Session } from '../../src/client/session.js';
import { SealbusError } from '../../src/errors/index.js';
import { FRAME_HEADER_BYTES } from '../../src/protocol/index.js';
import { FakeBroker } from './helpers/fake-broker.js';

let broker: FakeBroker;
const sessions: Session[] = [];

beforeEach(async () => {
  broker = await FakeBroker.start();
  broker.addTopic('orders', 3);
});

afterEach(async () => {
  for (const session of sessions.splice(0)) session.close();
  await broker.close();
});

async function open(token: string | (() => string) = 'static', requestTimeoutMs?: number): Promise<Session> {
  const session = await Session.open(
    webSocketTransport({ url: broker.url, token, keepAliveMs: 0 }),
    requestTimeoutMs === undefined ? {} : { requestTimeoutMs },
  );
  sessions.push(session);
  return session;
}

function closedWith(session: Session): Promise<SealbusError> {
  return new Promise((resolve) => session.onClose(resolve));
}

describe('Session', () => {
  it('matches replies to requests by requestId', async () => {
    const session = await open();
    const [a, b] = await Promise.all([
      session.request({ type: 'METADATA', topic: 'orders' }),
      session.request({ type: 'INIT_PRODUCER', name: '' }),
    ]);
    expect(a).toMatchObject({ type: 'METADATA_RESULT', partitions: 3 });
    expect(b).toMatchObject({ type: 'PRODUCER', producerId: 1 });
    expect(broker.received.map((f) => ('requestId' in f ? f.requestId : 0))).toEqual([1, 2]);
  });

  it('rejects a request with the catalog error the broker answered', async () => {
    const session = await open();
    const error = await session.request({ type: 'METADATA', topic: 'nope' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SealbusError);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_TOPIC_NOT_FOUND', message: 'Topic "nope" does not exist', retriable: false });
  });

  it('answers TOKEN_EXPIRING with REFRESH carrying a fresh token from the credential function', async () => {
    const tokens = ['first', 'second'];
    const session = await open(() => tokens.shift() ?? 'later');
    expect(broker.clients[0]!.upgrade.headers.authorization).toBe('Bearer first');
    broker.clients[0]!.send({ type: 'TOKEN_EXPIRING', expiresAt: 1_700_000_000_000 });
    const refresh = await broker.waitForFrame((f) => f.type === 'REFRESH');
    expect(refresh).toMatchObject({ type: 'REFRESH', token: 'second' });
    expect(session.isClosed).toBe(false);
  });

  it('does not try to refresh a fixed token', async () => {
    const session = await open('fixed');
    broker.clients[0]!.send({ type: 'TOKEN_EXPIRING', expiresAt: 1_700_000_000_000 });
    await session.request({ type: 'METADATA', topic: 'orders' }); // a round trip after the push
    expect(broker.frames('REFRESH')).toHaveLength(0);
  });

  it('fails pending requests with the session error the broker sent before closing', async () => {
    broker.hook = (frame, client) => {
      if (frame.type !== 'METADATA') return undefined;
      const error = new SealbusError('SEALBUS_ERR_SESSION_EXPIRED');
      client.send({ type: 'ERROR', requestId: 0, code: error.code, message: error.message, retriable: true });
      client.socket.close(4001, error.code);
      return 'handled';
    };
    const session = await open();
    const error = await session.request({ type: 'METADATA', topic: 'orders' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_SESSION_EXPIRED', retriable: true });
    await expect(closedWith(session)).resolves.toMatchObject({ code: 'SEALBUS_ERR_SESSION_EXPIRED' });
  });

  it('reports the error named by the close reason', async () => {
    const session = await open();
    broker.clients[0]!.socket.close(4003, 'SEALBUS_ERR_FORBIDDEN');
    await expect(closedWith(session)).resolves.toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN', retriable: false });
  });

  it('closes on a malformed frame, a text frame, or a reply of the wrong type', async () => {
    const malformed = await open();
    broker.clients[0]!.socket.send(Buffer.from([1, 0x90, 0, 0, 0].slice(0, FRAME_HEADER_BYTES - 1)));
    await expect(closedWith(malformed)).resolves.toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_FRAME' });

    const text = await open();
    broker.clients[1]!.socket.send('hello');
    await expect(closedWith(text)).resolves.toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_FRAME' });

    broker.hook = (frame, client) => {
      if (frame.type !== 'METADATA') return undefined;
      client.send({ type: 'OK', requestId: frame.requestId });
      return 'handled';
    };
    const wrong = await open();
    const error = await wrong.request({ type: 'METADATA', topic: 'orders' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_FRAME', message: 'Malformed frame: OK answered a request that expects METADATA_RESULT' });
    expect(wrong.isClosed).toBe(true);
  });

  it('closes with a retriable SEALBUS_ERR_TIMEOUT when a request goes unanswered', async () => {
    broker.hook = (frame) => (frame.type === 'METADATA' ? 'handled' : undefined);
    const session = await open('t', 30);
    const error = await session.request({ type: 'METADATA', topic: 'orders' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'SEALBUS_ERR_TIMEOUT', retriable: true, message: 'Timed out after 30 ms waiting for the reply to METADATA' });
    expect(session.isClosed).toBe(true);
  });

  it('routes RECORDS to the subscription and ends it on SUBSCRIPTION_ERROR', async () => {
    const session = await open();
    const seen: string[] = [];
    const ended = new Promise<SealbusError>((resolve) => {
      const id = session.addSubscription({ records: (frame) => seen.push(`records ${frame.subscriptionId}`), ended: resolve });
      const client = broker.clients[0]!;
      client.send({ type: 'RECORDS', subscriptionId: id, highWatermark: 0, batches: [] });
      client.send({ type: 'RECORDS', subscriptionId: id + 1, highWatermark: 0, batches: [] }); // unknown: ignored
      client.send({ type: 'SUBSCRIPTION_ERROR', subscriptionId: id, code: 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE', message: 'gone', retriable: false });
    });
    await expect(ended).resolves.toMatchObject({ code: 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE', message: 'gone' });
    expect(seen).toEqual(['records 1']);
  });
});
