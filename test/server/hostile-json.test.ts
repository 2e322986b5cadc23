import { request as httpsRequest } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, type BrokerFrame } from '../../src/protocol/index.js';
import { connectRawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const TOPIC = 'hostile.json';
const RECORDS = `/v1/topics/${TOPIC}/records`;

interface RawAnswer {
  readonly status: number;
  readonly body: { code?: string; message?: string; [key: string]: unknown };
  readonly text: string;
}

/** A request with a body sent byte for byte (t.request would re-encode it with JSON.stringify). */
function send(t: TestBroker, method: string, path: string, body?: Buffer | string, type = 'application/json'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${t.admin.token}` };
    if (body !== undefined) headers['content-type'] = type;
    const req = httpsRequest(t.url + path, { method, ca: t.ca, cert: t.admin.cert, key: t.admin.key, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : (JSON.parse(text) as RawAnswer['body']), text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

/** JSON bodies, query strings, path parameters and frames from a client that means harm. */
describe('hostile JSON and numbers at the broker', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
    expect((await t.request('POST', '/v1/topics', { body: { name: TOPIC, partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());
  afterEach(() => {
    expect(Object.prototype).not.toHaveProperty('polluted');
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  });

  async function highWatermark(): Promise<number> {
    return (await t.request('GET', `/v1/topics/${TOPIC}`)).body.partitions[0].highWatermark as number;
  }

  it('refuses bodies beyond the JSON limits with 400 SEALBUS_ERR_JSON_LIMIT, and stores nothing of them', async () => {
    const before = await highWatermark();
    const manyKeys = `{${Array.from({ length: 1001 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    const cases: Array<[string, string, RegExp]> = [
      ['deep value', `{"records":[{"value":${nested(100)}}]}`, /it nests deeper than 68 levels \(at byte 86\)$/],
      ['a million levels', `{"records":[{"value":${nested(1_000_000)}}]}`, /it nests deeper than 68 levels/],
      ['many keys', `{"records":[{"value":${manyKeys}}]}`, /has more than 1000 keys$/],
      ['huge integer', '{"records":[{"value":{"amount":9007199254740993}}]}', /the integer at byte 31 \(16 digits\) is beyond ±9007199254740991 .*JSON.parse would round it/],
      ['huge partition', '{"records":[{"value":1,"partition":9007199254740993}]}', /the integer at byte 35/],
      ['negative', '{"records":[{"value":-18446744073709551616}]}', /the integer at byte 21 \(20 digits\)/],
      ['overflow', '{"records":[{"value":1e400}]}', /overflows a double/],
    ];
    for (const [name, body, reason] of cases) {
      const answer = await send(t, 'POST', RECORDS, body);
      expect([answer.status, answer.body.code], name).toEqual([400, 'SEALBUS_ERR_JSON_LIMIT']);
      expect(answer.body.message, name).toMatch(/^The request body exceeds a JSON limit: /);
      expect(answer.body.message, name).toMatch(reason);
    }
    expect(await highWatermark()).toBe(before);
  });

  it('refuses a group reset to a timestamp beyond 2^53 instead of rounding it', async () => {
    const answer = await send(t, 'POST', '/v1/groups/g1/reset', '{"to":{"timestamp":9007199254740993}}');
    expect([answer.status, answer.body.code]).toEqual([400, 'SEALBUS_ERR_JSON_LIMIT']);
  });

  it('refuses bodies that are not JSON or not UTF-8 with 400 SEALBUS_ERR_JSON_INVALID, without echoing them', async () => {
    const secret = 'hunter2-very-secret-value';
    const cases: Array<[string, Buffer | string, string]> = [
      ['syntax', `{"records":[{"value":"${secret}", nope}]}`, `Expected double-quoted property name at byte ${`{"records":[{"value":"${secret}", `.length}`],
      ['bad value', `{"records":[{"value":"${secret}", "key": nope}]}`, `unexpected character 'o' at byte ${`{"records":[{"value":"${secret}", "key": n`.length}`],
      ['cut short', `{"records":[{"value":"${secret}"`, `Expected ',' or '}' after property value at byte ${`{"records":[{"value":"${secret}"`.length}`],
      ['empty', '', 'it is empty'],
      ['not UTF-8', Buffer.concat([Buffer.from('{"records":[{"value":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]), 'the bytes are not valid UTF-8'],
    ];
    for (const [name, body, reason] of cases) {
      const answer = await send(t, 'POST', RECORDS, body);
      expect([answer.status, answer.body.code], name).toEqual([400, 'SEALBUS_ERR_JSON_INVALID']);
      expect(answer.body.message, name).toBe(`The request body is not valid JSON: ${reason}`);
      expect(answer.text).not.toContain('hunter2');
    }
  });

  it('refuses __proto__ where the schema knows the keys, and pollutes nothing', async () => {
    for (const body of [
      '{"records":[{"value":1}],"__proto__":{"polluted":true}}',
      '{"records":[{"value":1,"__proto__":{"polluted":true}}]}',
      '{"records":[{"value":1}],"constructor":{"prototype":{"polluted":true}}}',
      '{"to":"earliest","__proto__":{"polluted":true}}',
    ]) {
      const path = body.startsWith('{"to"') ? '/v1/groups/g1/reset' : RECORDS;
      const answer = await send(t, 'POST', path, body);
      expect([answer.status, answer.body.code], body).toEqual([400, 'SEALBUS_ERR_REQUEST_INVALID']);
      expect(answer.body.message, body).toMatch(/must NOT have additional properties/);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    }
  });

  it('keeps __proto__ and constructor as data in record values and header names, and gives them back as data', async () => {
    const offset = await highWatermark();
    const value = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"x":1}';
    const produced = await send(t, 'POST', RECORDS, `{"records":[{"value":${value},"headers":{"__proto__":"h","constructor":"c"}}]}`);
    expect(produced.status).toBe(200);
    const fetched = await send(t, 'GET', `/v1/topics/${TOPIC}/partitions/0/records?offset=${offset}`);
    expect(fetched.status).toBe(200);
    const [record] = fetched.body['records'] as Array<{ value: Record<string, unknown>; headers: Record<string, string> }>;
    expect(Object.keys(record!.value)).toEqual(['__proto__', 'constructor', 'x']);
    expect(Object.hasOwn(record!.value, '__proto__')).toBe(true);
    expect(record!.value['polluted']).toBeUndefined();
    // A header named __proto__ used to vanish (headers[name] = value calls the setter).
    expect(Object.hasOwn(record!.headers, '__proto__')).toBe(true);
    expect(record!.headers['__proto__']).toBe('h');
    expect(record!.headers['constructor']).toBe('c');
  });

  it('gives a stored value marked JSON that does not parse safely back as base64, without failing the fetch', async () => {
    const offset = await highWatermark();
    const marked = (bytes: Buffer) => ({ valueBase64: bytes.toString('base64'), headers: { 'content-type': 'application/json' } });
    // Beyond 2^53, too deep, cut short, not UTF-8: what the WebSocket path (which does not parse values) may have stored.
    const unsafe = [Buffer.from('{"id":9007199254740993}'), Buffer.from(nested(100)), Buffer.from('{"cut":'), Buffer.from([0x22, 0xff, 0x22])];
    const produced = await t.request('POST', RECORDS, { body: { records: [...unsafe.map(marked), marked(Buffer.from('{"ok":true}'))] } });
    expect(produced.status).toBe(200);
    const fetched = await t.request('GET', `/v1/topics/${TOPIC}/partitions/0/records?offset=${offset}`);
    expect(fetched.status).toBe(200);
    const records = fetched.body.records as Array<Record<string, unknown>>;
    expect(records).toHaveLength(unsafe.length + 1);
    for (const [index, bytes] of unsafe.entries()) {
      expect(records[index]).toMatchObject({ valueBase64: bytes.toString('base64'), headers: { 'content-type': 'application/json' } });
      expect(records[index]).not.toHaveProperty('value');
    }
    expect(records[unsafe.length]).toMatchObject({ value: { ok: true }, headers: {} });
  });

  it('refuses offsets, timestamps and partitions in the URL that are not exact integers up to 2^53 - 1', async () => {
    const fetch = (query: string) => send(t, 'GET', `/v1/topics/${TOPIC}/partitions/0/records?${query}`);
    for (const query of [
      'offset=9007199254740992',
      'offset=9007199254740993',
      'offset=18446744073709551615',
      'offset=9007199254740990.6', // +'...990.6' is 9007199254740991: rounded into range
      'offset=1e3',
      'offset=0x10',
      'offset=%205',
      'offset=007',
      'offset=0&maxRecords=1.0000000000000001',
    ]) {
      const answer = await fetch(query);
      expect([answer.status, answer.body.code], query).toEqual([400, 'SEALBUS_ERR_REQUEST_INVALID']);
      expect(answer.body.message, query).toMatch(/^Invalid request: querystring\/(offset|maxRecords) must be a decimal integer/);
    }
    const lookup = await send(t, 'GET', `/v1/topics/${TOPIC}/partitions/0/offsets?timestamp=9007199254740993`);
    expect([lookup.status, lookup.body.code]).toEqual([400, 'SEALBUS_ERR_REQUEST_INVALID']);
    expect(lookup.body.message).toMatch(/querystring\/timestamp must be a decimal integer/);
    const partition = await send(t, 'GET', `/v1/topics/${TOPIC}/partitions/0e0/records?offset=0`);
    expect([partition.status, partition.body.code]).toEqual([400, 'SEALBUS_ERR_REQUEST_INVALID']);
    expect(partition.body.message).toMatch(/params\/partition must be a decimal integer/);
    // The largest exact offset is a valid question: it is only out of range.
    expect((await fetch('offset=9007199254740991')).body.code).toBe('SEALBUS_ERR_OFFSET_OUT_OF_RANGE');
    expect((await fetch('offset=0')).status).toBe(200);
  });

  it('refuses u64 frame fields of 2^53 or more on the WebSocket, naming the field', async () => {
    const s = await connectRawSession(t);
    try {
      const frame = Buffer.from(
        encodeFrame({ type: 'SUBSCRIBE', requestId: 7, subscriptionId: 1, topic: TOPIC, partition: 0, start: { kind: 'offset', offset: 0 }, creditBytes: 1024 }),
      );
      // startValue is the u64 before the last field (creditBytes, u32): its high word is 8 bytes from the end.
      frame.writeUInt32LE(0x20_0000, frame.length - 8);
      s.sendBytes(frame);
      const error = (await s.next((f: BrokerFrame) => f.type === 'ERROR')) as Extract<BrokerFrame, { type: 'ERROR' }>;
      expect(error.code).toBe('SEALBUS_ERR_PROTOCOL_FRAME');
      expect(error.message).toBe('Malformed frame: SUBSCRIBE: startValue is 2^53 or more');
    } finally {
      s.close();
    }
  });
});
