import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRawSession } from '../helpers/raw-session.js';
import { allowEverything } from '../helpers/policies.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';

const NAMES = ['admin', 'flood', 'metered', 'reader'];

/** Every principal of the test may do everything: only the quotas tell them apart. */
const everything = allowEverything(NAMES);

/** The HTTP side of the quotas, from the side of clients that go over them. */
describe('quotas over HTTP', () => {
  let t: TestBroker;
  let skew = 0;
  const users = new Map<string, ClientCredentials & { token: string }>();

  beforeAll(async () => {
    t = await startTestBroker({
      // The quotas' clock: moved forward by hand instead of waiting for a retry-after.
      clock: () => Date.now() + skew,
      policies: { 'everything.yaml': everything },
      configure: (config) => ({
        ...config,
        quotas: {
          ...config.quotas,
          principals: {
            flood: { requestsPerSecond: 1 },
            metered: { produceBytesPerSecond: 10_000, produceBurstBytes: 10_000 },
            reader: { consumeBytesPerSecond: 10_000, consumeBurstBytes: 10_000 },
          },
        },
      }),
    });
    for (const name of NAMES.slice(1)) users.set(name, await t.client(name));
    expect((await t.request('POST', '/v1/topics', { body: { name: 'metered.http', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  const as = (name: string): ClientCredentials => users.get(name)!;
  const records = (bytes: number): unknown => ({ records: [{ valueBase64: Buffer.alloc(bytes, 7).toString('base64') }] });

  it('answers a request flood with 429, SEALBUS_ERR_QUOTA_EXCEEDED and Retry-After, while others are served', async () => {
    const answers = [];
    const started = Date.now();
    for (let i = 0; i < 20; i++) answers.push(await t.request('GET', '/v1/topics', { credentials: as('flood') }));
    const refused = answers.filter((a) => a.status !== 200);
    // One request a second, a burst of one (plus the one admitted at a zero balance).
    expect(20 - refused.length).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - started) / 1000));
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.status).toBe(429);
      expect(answer.body).toMatchObject({ code: 'SEALBUS_ERR_QUOTA_EXCEEDED', retriable: true, details: { quota: 'requests' } });
      expect(answer.body.details.retryAfterMs).toBeGreaterThan(0);
      expect(answer.headers['retry-after']).toBe(String(Math.ceil(answer.body.details.retryAfterMs / 1000)));
      // The message names the quota and the wait, and nothing of the client's credentials.
      expect(answer.body.message).toMatch(/^The requests quota \(1 requests per second\) is exceeded; retry after \d+ ms$/);
    }
    expect((await t.request('GET', '/v1/topics')).status).toBe(200);
    expect(t.broker.limits.stats().quotas.refused.requests).toBeGreaterThanOrEqual(refused.length);
  });

  it('refuses a WebSocket upgrade over the request quota with the same code', async () => {
    for (let i = 0; i < 10; i++) await t.request('GET', '/v1/topics', { credentials: as('flood') });
    const upgrade = await openRawSession(t, as('flood'));
    expect(upgrade.ok).toBe(false);
    if (!upgrade.ok) expect([upgrade.status, upgrade.body.code]).toEqual([429, 'SEALBUS_ERR_QUOTA_EXCEEDED']);
  });

  it('charges produced bytes from Content-Length before reading the body, and refuses the next batch until paid', async () => {
    const first = await t.request('POST', '/v1/topics/metered.http/records', { credentials: as('metered'), body: records(30_000) });
    expect(first.status).toBe(200);
    const second = await t.request('POST', '/v1/topics/metered.http/records', { credentials: as('metered'), body: records(10) });
    expect(second.status).toBe(429);
    expect(second.body.details.quota).toBe('produce');
    const wait = second.body.details.retryAfterMs as number;
    // 40 kB of base64 less the 10 kB burst: about 30 kB of debt at 10 kB/s.
    expect(wait).toBeGreaterThan(2500);
    expect(wait).toBeLessThan(4500);
    expect(second.headers['retry-after']).toBe(String(Math.ceil(wait / 1000)));
    skew += wait;
    expect((await t.request('POST', '/v1/topics/metered.http/records', { credentials: as('metered'), body: records(10) })).status).toBe(200);
    skew += 10_000;
  });

  it('counts the bytes of a body sent without Content-Length (chunked) as it is read', async () => {
    const status = await chunkedPost(t, '/v1/topics/metered.http/records', as('metered'), JSON.stringify(records(30_000)));
    expect(status).toBe(200);
    const next = await t.request('POST', '/v1/topics/metered.http/records', { credentials: as('metered'), body: records(10) });
    expect([next.status, next.body.details?.quota]).toEqual([429, 'produce']);
    skew += 10_000;
  });

  it('refuses a fetch while the consume quota is in debt from the previous one', async () => {
    const path = '/v1/topics/metered.http/partitions/0/records?offset=0&maxRecords=10';
    const first = await t.request('GET', path, { credentials: as('reader') });
    expect(first.status).toBe(200);
    expect(first.body.records.length).toBeGreaterThan(1);
    const second = await t.request('GET', path, { credentials: as('reader') });
    expect(second.status).toBe(429);
    expect(second.body).toMatchObject({ code: 'SEALBUS_ERR_QUOTA_EXCEEDED', details: { quota: 'consume' } });
    // Other principals read meanwhile.
    expect((await t.request('GET', path)).status).toBe(200);
    skew += second.body.details.retryAfterMs;
    expect((await t.request('GET', path, { credentials: as('reader') })).status).toBe(200);
  });
});

/** A POST whose body goes out chunked (no Content-Length), in 1 KiB writes. */
function chunkedPost(t: TestBroker, path: string, credentials: ClientCredentials, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${t.url}${path}`,
      {
        method: 'POST',
        ca: t.ca,
        cert: credentials.cert,
        key: credentials.key,
        agent: false,
        headers: { authorization: `Bearer ${credentials.token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 1024) req.write(body.slice(at, at + 1024));
    req.end();
  });
}
