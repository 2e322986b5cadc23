import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/** HTTP produce and fetch: JSON and binary values, durable offsets, long-poll, and bad input. */
describe('HTTP records API', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
    expect((await t.request('POST', '/v1/topics', { body: { name: 'http.events', partitions: 2 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('produces JSON and binary records and fetches them back in the form they were sent', async () => {
    const produced = await t.request('POST', '/v1/topics/http.events/records', {
      body: {
        records: [
          { key: 'k1', value: { amount: 12.5, items: ['a', 'b'] }, headers: { source: 'test' }, partition: 1 },
          { keyBase64: Buffer.from([0xff, 0x00]).toString('base64'), valueBase64: Buffer.from([1, 2, 3]).toString('base64'), partition: 1 },
          { key: null, partition: 1 },
        ],
      },
    });
    expect(produced.status).toBe(200);
    expect(produced.body.records).toEqual([
      { partition: 1, offset: 0 },
      { partition: 1, offset: 1 },
      { partition: 1, offset: 2 },
    ]);
    const fetched = await t.request('GET', '/v1/topics/http.events/partitions/1/records?offset=0');
    expect(fetched.status).toBe(200);
    expect(fetched.body.highWatermark).toBe(3);
    expect(fetched.body.nextOffset).toBe(3);
    const [first, second, third] = fetched.body.records;
    expect(first).toMatchObject({ offset: 0, key: 'k1', value: { amount: 12.5, items: ['a', 'b'] }, headers: { source: 'test' } });
    expect(second).toMatchObject({ offset: 1, keyBase64: '/wA=', valueBase64: 'AQID' });
    expect(third).toMatchObject({ offset: 2, key: null, value: null });
    const fromMiddle = await t.request('GET', '/v1/topics/http.events/partitions/1/records?offset=1&maxRecords=1');
    expect(fromMiddle.body.records.map((r: { offset: number }) => r.offset)).toEqual([1]);
    expect(fromMiddle.body.nextOffset).toBe(2);
  });

  it('long-polls: a fetch at the end waits for the next record instead of returning empty', async () => {
    const start = (await t.request('GET', '/v1/topics/http.events')).body.partitions[0].highWatermark as number;
    const waiting = t.request('GET', `/v1/topics/http.events/partitions/0/records?offset=${start}&waitMs=20000`);
    const produced = await t.request('POST', '/v1/topics/http.events/records', { body: { records: [{ value: 'late', partition: 0 }] } });
    expect(produced.status).toBe(200);
    const fetched = await waiting;
    expect(fetched.body.records.map((r: { value: unknown }) => r.value)).toEqual(['late']);
  });

  it('returns an empty page at the end when no wait is asked', async () => {
    const hw = (await t.request('GET', '/v1/topics/http.events')).body.partitions[0].highWatermark as number;
    const fetched = await t.request('GET', `/v1/topics/http.events/partitions/0/records?offset=${hw}`);
    expect(fetched.body).toMatchObject({ records: [], nextOffset: hw, highWatermark: hw });
  });

  it('refuses bad input with a code that names what was wrong, and stores nothing of it', async () => {
    const cases: Array<[unknown, string]> = [
      [{ records: [] }, 'SEALBUS_ERR_REQUEST_INVALID'],
      [{ records: [{ value: 1, valueBase64: 'AA==' }] }, 'SEALBUS_ERR_REQUEST_INVALID'],
      [{ records: [{ value: 1, partition: 9 }] }, 'SEALBUS_ERR_PARTITION_NOT_FOUND'],
      [{ records: [{ value: 1, color: 'red' }] }, 'SEALBUS_ERR_REQUEST_INVALID'],
      [{ records: [{ valueBase64: Buffer.alloc(1_100_000).toString('base64') }] }, 'SEALBUS_ERR_RECORD_TOO_LARGE'],
    ];
    const before = (await t.request('GET', '/v1/topics/http.events')).body.partitions;
    for (const [body, code] of cases) {
      const res = await t.request('POST', '/v1/topics/http.events/records', { body });
      expect(res.body.code, JSON.stringify(body).slice(0, 80)).toBe(code);
    }
    const after = (await t.request('GET', '/v1/topics/http.events')).body.partitions;
    expect(after.map((p: { highWatermark: number }) => p.highWatermark)).toEqual(before.map((p: { highWatermark: number }) => p.highWatermark));
  });

  it('refuses prototype-polluting JSON and invalid topic names', async () => {
    const polluted = await t.request('POST', '/v1/topics/http.events/records', {
      body: JSON.parse('{"records":[{"value":1}],"__proto__":{"polluted":true}}'),
    });
    expect([polluted.status, polluted.body.code]).toEqual([400, 'SEALBUS_ERR_REQUEST_INVALID']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    for (const name of ['a..b', 'a/b', 'orders/../x', '__internal', 'ünicode', 'tab\tname', '.hidden']) {
      const res = await t.request('GET', `/v1/topics/${encodeURIComponent(name)}`);
      expect([res.status, res.body.code]).toEqual([400, 'SEALBUS_ERR_TOPIC_NAME_INVALID']);
    }
    const missing = await t.request('GET', '/v1/topics/not.there');
    expect(missing.body.code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    const beyond = await t.request('GET', '/v1/topics/http.events/partitions/0/records?offset=999');
    expect(beyond.body.code).toBe('SEALBUS_ERR_OFFSET_OUT_OF_RANGE');
  });
});
