import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords } from '../../src/log/index.js';
import { decodeBatchHeader } from '../../src/log/record-batch.js';
import type { BrokerFrame } from '../../src/protocol/index.js';
import { connectRawSession, roundTrip, type RawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

const HIGH_WATER = 256 * 1024;
const FETCH = 256 * 1024;
const BATCHES = 160;
const RECORDS_PER_BATCH = 4;
const RECORD_BYTES = 62_500;

const SUBSCRIPTIONS = 8;

/**
 * A consumer that grants itself all the credit there is, on several subscriptions, and then stops
 * reading its socket: the broker must stop reading the log for it once the socket holds the
 * high-water mark (plus the frame that crossed it), however much is left to send and however many
 * subscriptions want to send it, while it serves every other client.
 */
describe('a consumer that stops reading', () => {
  let t: TestBroker;
  const open: RawSession[] = [];

  beforeAll(async () => {
    t = await startTestBroker({
      configure: (config) => ({
        ...config,
        // No ping in the way: this consumer is slow, and the test looks at what it costs meanwhile.
        limits: { ...config.limits, socketHighWaterBytes: HIGH_WATER, fetchMaxBytes: FETCH, webSocketPingIntervalMs: 600_000 },
      }),
    });
    for (const name of ['bulk', 'other']) expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1 } })).status).toBe(201);
    const producer = await connectRawSession(t);
    open.push(producer);
    // 40 MB: far more than the socket, the kernel's buffers and the high-water mark hold together.
    const pending: Promise<BrokerFrame>[] = [];
    for (let i = 0; i < BATCHES; i++) {
      const records = encodeRecords(Array.from({ length: RECORDS_PER_BATCH }, () => ({ value: Buffer.alloc(RECORD_BYTES, i) })));
      pending.push(roundTrip(producer, { type: 'PRODUCE', requestId: i + 1, topic: 'bulk', partition: 0, producer: null, records }));
    }
    for (const reply of await Promise.all(pending)) expect(reply.type).toBe('PRODUCE_ACK');
  });
  afterAll(async () => {
    // Terminated, not closed: a paused client would never answer a closing handshake.
    for (const session of open) session.ws.terminate();
    await t?.close();
  });

  it('stops reading the log for it at the high-water mark plus one fetch, serves others, and delivers everything once it reads again', async () => {
    const total = BATCHES * RECORDS_PER_BATCH * RECORD_BYTES;
    const stats = () => t.broker.limits.stats();
    const consumedBefore = stats().quotas.consumedBytes;
    const slow = await connectRawSession(t);
    open.push(slow);
    const raw = (slow.ws as unknown as { _socket: Socket })._socket;
    for (let id = 1; id <= SUBSCRIPTIONS; id++) {
      slow.send({ type: 'SUBSCRIBE', requestId: id, subscriptionId: id, topic: 'bulk', partition: 0, start: { kind: 'earliest' }, creditBytes: 0xffff_ffff });
    }
    raw.pause();

    await waitFor(() => stats().webSockets.deliveriesWaiting === SUBSCRIPTIONS, 'every subscription waits for the socket', 20_000);
    const blocked = stats();
    const pushed = blocked.quotas.consumedBytes - consumedBefore;
    const bound = HIGH_WATER + FETCH + 1024;
    expect(blocked.webSockets.maxBufferedBytes).toBeLessThanOrEqual(bound);
    expect(pushed).toBeLessThan(total);

    // Others are served meanwhile: a produce and a whole subscription on another topic.
    expect((await t.request('POST', '/v1/topics/other/records', { body: { records: [{ value: 'hello' }] } })).status).toBe(200);
    const other = await connectRawSession(t);
    open.push(other);
    other.send({ type: 'SUBSCRIBE', requestId: 1, subscriptionId: 7, topic: 'other', partition: 0, start: { kind: 'earliest' }, creditBytes: 1 << 20 });
    expect(await other.next((f) => f.type === 'RECORDS')).toMatchObject({ subscriptionId: 7 });

    // ...and the slow one still holds no more than before, and its subscription read nothing more.
    const later = stats();
    expect(later.webSockets.deliveriesWaiting).toBe(SUBSCRIPTIONS);
    expect(later.webSockets.maxBufferedBytes).toBeLessThanOrEqual(bound);
    expect(later.quotas.consumedBytes - consumedBefore - pushed).toBeLessThan(4096);

    // Reading again (one subscription is enough to follow): every record arrives, in order, none lost.
    for (let id = 2; id <= SUBSCRIPTIONS; id++) slow.send({ type: 'UNSUBSCRIBE', requestId: 100 + id, subscriptionId: id });
    raw.resume();
    let next = 0;
    while (next < BATCHES * RECORDS_PER_BATCH) {
      const frame = (await slow.next((f) => (f.type === 'RECORDS' && f.subscriptionId === 1) || f.type === 'SUBSCRIPTION_ERROR', 30_000)) as Extract<
        BrokerFrame,
        { type: 'RECORDS' }
      >;
      expect(frame.type).toBe('RECORDS');
      for (const batch of frame.batches) {
        const header = decodeBatchHeader(batch)!;
        expect(header.baseOffset).toBe(next);
        next += header.recordCount;
      }
    }
    expect(next).toBe(BATCHES * RECORDS_PER_BATCH);
  });
});
