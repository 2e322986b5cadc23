import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords } from '../../src/log/index.js';
import { decodeBatchHeader, verifyBatch } from '../../src/log/record-batch.js';
import type { BrokerFrame } from '../../src/protocol/index.js';
import { connectRawSession, roundTrip, type RawSession } from '../helpers/raw-session.js';
import { allowEverything } from '../helpers/policies.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';

const NAMES = ['admin', 'flood', 'metered', 'reader'];
/** Every principal of the test may do everything: only the quotas tell them apart. */
const everything = allowEverything(NAMES);

/** The WebSocket side of the quotas, from the side of clients that go over them. */
describe('quotas over WebSocket', () => {
  let t: TestBroker;
  let skew = 0;
  const users = new Map<string, ClientCredentials & { token: string }>();
  const open: RawSession[] = [];

  beforeAll(async () => {
    t = await startTestBroker({
      clock: () => Date.now() + skew,
      policies: { 'everything.yaml': everything },
      configure: (config) => ({
        ...config,
        // Small reads, so that a consumer's records come in several deliveries the quota can space out.
        limits: { ...config.limits, fetchMaxBytes: 65_536 },
        quotas: {
          ...config.quotas,
          principals: {
            flood: { requestsPerSecond: 1 },
            metered: { produceBytesPerSecond: 10_000, produceBurstBytes: 10_000 },
            reader: { consumeBytesPerSecond: 200_000, consumeBurstBytes: 50_000 },
          },
        },
      }),
    });
    for (const name of NAMES.slice(1)) users.set(name, await t.client(name));
    for (const name of ['metered.ws', 'throttled.ws']) expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => {
    for (const session of open) session.close();
    await t?.close();
  });

  async function session(name: string): Promise<RawSession> {
    const opened = await connectRawSession(t, users.get(name)!);
    open.push(opened);
    return opened;
  }

  it('answers PRODUCE over the produce quota with ERROR, SEALBUS_ERR_QUOTA_EXCEEDED and a retry-after, and stores nothing of it', async () => {
    const s = await session('metered');
    const big = encodeRecords([{ value: Buffer.alloc(30_000, 1) }]);
    expect(await roundTrip(s, { type: 'PRODUCE', requestId: 1, topic: 'metered.ws', partition: 0, producer: null, records: big })).toMatchObject({ type: 'PRODUCE_ACK', baseOffset: 0 });
    const small = encodeRecords([{ value: Buffer.from('after') }]);
    const refused = await roundTrip(s, { type: 'PRODUCE', requestId: 2, topic: 'metered.ws', partition: 0, producer: null, records: small });
    expect(refused).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_QUOTA_EXCEEDED', retriable: true });
    const retryAfterMs = (refused as Extract<BrokerFrame, { type: 'ERROR' }>).retryAfterMs!;
    expect(retryAfterMs).toBeGreaterThan(1500);
    expect(retryAfterMs).toBeLessThanOrEqual(2100);
    // Still refused just before the wait is over; accepted at its end, as the next offset.
    skew += retryAfterMs - 100;
    expect(await roundTrip(s, { type: 'PRODUCE', requestId: 3, topic: 'metered.ws', partition: 0, producer: null, records: small })).toMatchObject({ code: 'SEALBUS_ERR_QUOTA_EXCEEDED' });
    skew += 100;
    expect(await roundTrip(s, { type: 'PRODUCE', requestId: 4, topic: 'metered.ws', partition: 0, producer: null, records: small })).toMatchObject({ type: 'PRODUCE_ACK', baseOffset: 1 });
    expect(s.ws.readyState).toBe(s.ws.OPEN);
  });

  it('refuses requests past the request quota, but never CREDIT: refusing it would stall a consumer', async () => {
    const s = await session('flood');
    const replies: BrokerFrame[] = [];
    const started = Date.now();
    for (let requestId = 1; requestId <= 10; requestId++) replies.push(await roundTrip(s, { type: 'METADATA', requestId, topic: 'metered.ws' }));
    const refused = replies.filter((f) => f.type === 'ERROR');
    expect(refused.length).toBeGreaterThan(0);
    for (const frame of refused) expect(frame).toMatchObject({ code: 'SEALBUS_ERR_QUOTA_EXCEEDED', retriable: true });
    // The upgrade took one request; a burst of one, one a second.
    expect(replies.length - refused.length).toBeLessThanOrEqual(1 + Math.ceil((Date.now() - started) / 1000));
    // Over quota now: a CREDIT is still handled (here it names no subscription, so that is its error).
    expect(await roundTrip(s, { type: 'CREDIT', requestId: 11, subscriptionId: 99, creditBytes: 1 })).toMatchObject({ code: 'SEALBUS_ERR_PROTOCOL_UNKNOWN_SUBSCRIPTION' });
    expect(await roundTrip(s, { type: 'SUBSCRIBE', requestId: 12, subscriptionId: 1, topic: 'metered.ws', partition: 0, start: { kind: 'earliest' }, creditBytes: 1 })).toMatchObject({
      code: 'SEALBUS_ERR_QUOTA_EXCEEDED',
    });
  });

  it('delays a consumer over the consume quota instead of refusing it: every record arrives, in order, at about the rate', async () => {
    // 400 kB in 40 batches of 10 kB, produced by the administrator (no quota in the way).
    const admin = await connectRawSession(t);
    open.push(admin);
    for (let i = 0; i < 40; i++) {
      const records = encodeRecords([{ value: Buffer.alloc(10_000, i) }]);
      expect(await roundTrip(admin, { type: 'PRODUCE', requestId: i + 1, topic: 'throttled.ws', partition: 0, producer: null, records })).toMatchObject({ type: 'PRODUCE_ACK' });
    }
    const before = t.broker.limits.stats().quotas.throttledDeliveries;
    const reader = await session('reader');
    const started = Date.now();
    reader.send({ type: 'SUBSCRIBE', requestId: 1, subscriptionId: 1, topic: 'throttled.ws', partition: 0, start: { kind: 'earliest' }, creditBytes: 0xffff_ffff });
    expect(await reader.next((f) => f.type === 'SUBSCRIBED' || f.type === 'ERROR')).toMatchObject({ type: 'SUBSCRIBED' });
    let records = 0;
    while (records < 40) {
      const frame = await reader.next((f) => f.type === 'RECORDS' || f.type === 'SUBSCRIPTION_ERROR' || f.type === 'ERROR');
      expect(frame.type).toBe('RECORDS');
      for (const batch of (frame as Extract<BrokerFrame, { type: 'RECORDS' }>).batches) {
        expect(verifyBatch(batch)).toBe(true);
        expect(decodeBatchHeader(batch)!.baseOffset).toBe(records);
        records += decodeBatchHeader(batch)!.recordCount;
      }
    }
    const elapsed = Date.now() - started;
    expect(records).toBe(40);
    // 400 kB at 200 kB/s after a 50 kB burst, less the last read (64 kB) that needs no wait after it: over a second.
    expect(elapsed).toBeGreaterThan(1000);
    expect(t.broker.limits.stats().quotas.throttledDeliveries).toBeGreaterThan(before + 3);
  });
});
