import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateThumbprint, issueCertificate } from '../../src/auth/index.js';
import { Consumer, Producer } from '../../src/client/index.js';
import { REVOCATIONS_TOPIC } from '../../src/broker/revocation-log.js';
import { connectRawSession, roundTrip } from '../helpers/raw-session.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';
import { adminPolicy } from '../helpers/policies.js';
import { waitFor } from '../helpers/wait-for.js';


const POLICIES = {
  'admin.yaml': adminPolicy(),
  'services.yaml': `
version: 1
rules:
  - id: bot-issues
    effect: allow
    principals: [{name: issuer-bot}]
    resources: [{cluster: true}]
    actions: [issue-token]
  - id: bot-produces-orders
    effect: allow
    principals: [{name: issuer-bot}]
    resources: [{topic: "orders.>"}]
    actions: [produce, describe]
  - id: nobody-writes-secrets
    effect: deny
    principals: [{any: true}]
    resources: [{topic: "orders.secret"}]
    actions: [produce]
  - id: services-produce-anything
    effect: allow
    principals: [{name: svc}, {name: worker}]
    resources: [{topic: ">"}]
    actions: [produce, describe, consume]
  - id: reader-reads
    effect: allow
    principals: [{name: reader}]
    resources: [{topic: ">"}]
    actions: [consume, describe]
`,
};

type Credentials = ClientCredentials & { token: string };

/** A certificate for `name` from the broker's CA, without a token. */
async function certificateFor(t: TestBroker, name: string): Promise<{ cert: string; key: string }> {
  const pair = await issueCertificate({ ca: t.caPair, commonName: name, client: true, extendedKeyUsage: 'client' });
  return { cert: pair.certPem, key: pair.keyPem };
}

async function issueVia(t: TestBroker, as: Credentials, body: Record<string, unknown>): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return t.request('POST', '/v1/admin/tokens', { credentials: as, body });
}

function produce(t: TestBroker, as: Partial<ClientCredentials>, topic: string): Promise<{ status: number; body: any }> {
  return t.request('POST', `/v1/topics/${topic}/records`, { credentials: as, body: { records: [{ value: 'x' }] } });
}

describe('issuing tokens through the API', () => {
  let t: TestBroker;
  let bot: Credentials;
  let reader: Credentials;
  let svcCert: { cert: string; key: string };

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES });
    for (const name of ['orders.eu', 'orders.secret', 'payments']) {
      expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1 } })).status).toBe(201);
    }
    [bot, reader, svcCert] = await Promise.all([t.client('issuer-bot'), t.client('reader'), certificateFor(t, 'svc')]);
  });
  afterAll(async () => t?.close());

  it('issues a bound, scoped token once, and its scopes narrow what the policy grants', async () => {
    const reply = await issueVia(t, t.admin, { sub: 'svc', ttlSec: 600, scopes: ['produce:orders.eu'], bindCertificate: svcCert.cert });
    expect(reply.status).toBe(201);
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.body).toMatchObject({ sub: 'svc', scopes: ['produce:orders.eu'], bound: true });
    const claims = decodeJwt(reply.body.token);
    expect(claims).toMatchObject({ sub: 'svc', jti: reply.body.jti, scope: 'produce:orders.eu', cnf: { 'x5t#S256': certificateThumbprint(svcCert.cert) } });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(decodeProtectedHeader(reply.body.token)).toMatchObject({ alg: 'EdDSA', typ: 'sealbus+jwt', kid: reply.body.kid });
    expect(claims.act).toEqual({ sub: 'admin' });

    const svc = { ...svcCert, token: reply.body.token as string };
    expect((await produce(t, svc, 'orders.eu')).status).toBe(200);
    // The policy lets svc produce anywhere; the token's scope does not.
    const escalation = await produce(t, svc, 'payments');
    expect(escalation.status).toBe(403);
    expect(escalation.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    expect(escalation.body.details.rule).toBe('scope');
    const read = await t.request('GET', '/v1/topics/orders.eu/partitions/0/records?offset=0', { credentials: svc });
    expect(read.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
  });

  it('an empty scope list is a token with no rights, not an unrestricted one', async () => {
    const reply = await issueVia(t, t.admin, { sub: 'svc', scopes: [], bindCertificate: svcCert.cert });
    expect(reply.status).toBe(201);
    const denied = await produce(t, { ...svcCert, token: reply.body.token }, 'orders.eu');
    expect(denied.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
  });

  it('refuses to issue beyond the requester’s own rights', async () => {
    const bind = { bindCertificate: svcCert.cert };
    const allowed = await issueVia(t, bot, { sub: 'svc', scopes: ['produce:orders.eu.>'], ttlSec: 600, ...bind });
    expect(allowed.status).toBe(201);
    expect(decodeJwt(allowed.body.token).act).toEqual({ sub: 'issuer-bot' });
    for (const scopes of [['produce:payments'], ['produce:orders.>'], ['consume:orders.eu'], ['issue-token', 'manage-keys'], ['produce:>']]) {
      const reply = await issueVia(t, bot, { sub: 'svc', scopes, ttlSec: 600, ...bind });
      expect(reply.status, scopes.join(' ')).toBe(403);
      expect(reply.body.code, scopes.join(' ')).toBe('SEALBUS_ERR_TOKEN_ISSUE_DENIED');
    }
    // The deny rule on orders.secret is what stops "orders.>", and the answer says so.
    const carved = await issueVia(t, bot, { sub: 'svc', scopes: ['produce:orders.>'], ttlSec: 600, ...bind });
    expect(carved.body.message).toContain('nobody-writes-secrets');
    // No scopes means every right the subject's policy gives: only someone holding everything may ask.
    const unscoped = await issueVia(t, bot, { sub: 'svc', ttlSec: 600, ...bind });
    expect(unscoped.body.code).toBe('SEALBUS_ERR_TOKEN_ISSUE_DENIED');
    // Time is a right too: the bot's token ends in an hour.
    const longer = await issueVia(t, bot, { sub: 'svc', scopes: ['produce:orders.eu'], ttlSec: 7200, ...bind });
    expect(longer.body.code).toBe('SEALBUS_ERR_TOKEN_ISSUE_DENIED');
    expect(longer.body.message).toContain('outlive');
  });

  it('a scoped requester cannot hand out more than its own token’s scopes', async () => {
    const botCert = await certificateFor(t, 'issuer-bot');
    const narrowed = await issueVia(t, t.admin, { sub: 'issuer-bot', scopes: ['issue-token', 'produce:orders.eu.>'], ttlSec: 900, bindCertificate: botCert.cert });
    const scopedBot = { ...botCert, token: narrowed.body.token as string };
    const wider = await issueVia(t, scopedBot, { sub: 'svc', scopes: ['produce:orders.us'], ttlSec: 600, bindCertificate: svcCert.cert });
    expect(wider.body.code).toBe('SEALBUS_ERR_TOKEN_ISSUE_DENIED');
    const within = await issueVia(t, scopedBot, { sub: 'svc', scopes: ['produce:orders.eu.west'], ttlSec: 600, bindCertificate: svcCert.cert });
    expect(within.status).toBe(201);
  });

  it('refuses principals without issue-token, and malformed requests with a reason', async () => {
    const forbidden = await issueVia(t, reader, { sub: 'reader', scopes: ['consume:orders.eu'], bindCertificate: svcCert.cert });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    const tooLong = await issueVia(t, t.admin, { sub: 'svc', ttlSec: 90_000, bindCertificate: svcCert.cert });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
    expect(tooLong.body.message).toContain('auth.tokens.maxTtlSec');
    const unbound = await issueVia(t, t.admin, { sub: 'svc' });
    expect(unbound.body.code).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
    const badScope = await issueVia(t, t.admin, { sub: 'svc', scopes: ['fly:orders'], bindCertificate: svcCert.cert });
    expect(badScope.status).toBe(400);
    expect(badScope.body.code).toBe('SEALBUS_ERR_POLICY_SCOPE_INVALID');
    const notPem = await issueVia(t, t.admin, { sub: 'svc', bindCertificate: 'not a certificate' });
    expect(notPem.body.code).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
  });

  it('a bound token presented with another certificate is refused', async () => {
    const reply = await issueVia(t, t.admin, { sub: 'svc', scopes: ['produce:orders.eu'], bindCertificate: svcCert.cert });
    expect(reply.status).toBe(201);
    const stolen = await produce(t, { cert: reader.cert, key: reader.key, token: reply.body.token }, 'orders.eu');
    expect(stolen.status).toBe(401);
    expect(stolen.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_BINDING');
  });
});

describe('revoking tokens', () => {
  let t: TestBroker;
  let offsetMs = 0;

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES, clock: () => Date.now() + offsetMs });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'orders.eu', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('a revoked jti is refused over HTTP at once, and its live WebSocket session closes within a second', async () => {
    const svc = await t.client('svc');
    expect((await produce(t, svc, 'orders.eu')).status).toBe(200); // verified and cached
    const session = await connectRawSession(t, svc);
    const closed = session.closed();
    const jti = decodeJwt(svc.token).jti as string;

    const revoked = await t.request('POST', '/v1/admin/tokens/revoke', { body: { jti, reason: 'laptop lost' } });
    const revokedAt = Date.now();
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ added: true, entry: { kind: 'token', jti, by: 'admin', reason: 'laptop lost' } });

    const reused = await produce(t, svc, 'orders.eu');
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    const end = await closed;
    expect(end.reason).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    // A new session with it is refused at the upgrade.
    const again = await t.request('GET', '/v1/topics', { credentials: svc });
    expect(again.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
  });

  it('revokes every token of a subject issued before a time; a later token works', async () => {
    const [first, second] = [await t.client('worker'), await t.client('worker')];
    const result = await t.request('POST', '/v1/admin/tokens/revoke', { body: { sub: 'worker' } });
    expect(result.body.entry).toMatchObject({ kind: 'subject', principal: 'worker' });
    for (const creds of [first, second]) expect((await produce(t, creds, 'orders.eu')).body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    // iat has whole seconds: a token of the same second counts as before; one issued later does not.
    offsetMs += 2000;
    const later = await t.client('worker');
    expect((await produce(t, later, 'orders.eu')).status).toBe(200);
  });

  it('a session cannot refresh onto a revoked token, nor onto another principal’s', async () => {
    const svc = await t.client('svc');
    const session = await connectRawSession(t, svc);
    // Another principal's token, even one bound to this very certificate.
    const other = await t.broker.issuer.issueToken({ sub: 'reader', ttlSeconds: 600, audience: 'sealbus', bindThumbprint: certificateThumbprint(svc.cert) });
    const mismatch = await roundTrip(session, { type: 'REFRESH', requestId: 1, token: other });
    expect(mismatch).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_AUTH_PRINCIPAL_MISMATCH' });
    const replacement = await t.broker.issuer.issueToken({ sub: 'svc', ttlSeconds: 600, audience: 'sealbus', bindThumbprint: certificateThumbprint(svc.cert) });
    await t.request('POST', '/v1/admin/tokens/revoke', { body: { jti: decodeJwt(replacement).jti } });
    const refused = await roundTrip(session, { type: 'REFRESH', requestId: 2, token: replacement });
    expect(refused).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_AUTH_TOKEN_REVOKED' });
    session.close();
  });

  it('revocations are durable: they survive a restart, and the internal topic stays out of reach', async () => {
    const svc = await t.client('svc');
    const jti = decodeJwt(svc.token).jti as string;
    await t.request('POST', '/v1/admin/tokens/revoke', { body: { jti } });
    await t.restart();
    expect((await produce(t, svc, 'orders.eu')).body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    const listed = await t.request('GET', '/v1/admin/revocations');
    expect(listed.body.revocations.some((entry: { jti?: string }) => entry.jti === jti)).toBe(true);
    const topics = await t.request('GET', '/v1/topics');
    expect(topics.body.topics.map((topic: { name: string }) => topic.name)).not.toContain(REVOCATIONS_TOPIC);
    const direct = await t.request('POST', `/v1/topics/${REVOCATIONS_TOPIC}/records`, { body: { records: [{ value: {} }] } });
    expect(direct.body.code).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
  });

  it('only principals with issue-token may revoke or list revocations', async () => {
    const reader = await t.client('reader');
    const revoke = await t.request('POST', '/v1/admin/tokens/revoke', { credentials: reader, body: { sub: 'admin' } });
    expect(revoke.status).toBe(403);
    expect(revoke.body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    expect((await t.request('GET', '/v1/admin/revocations', { credentials: reader })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    const future = await t.request('POST', '/v1/admin/tokens/revoke', { body: { sub: 'svc', before: Date.now() + 3_600_000 } });
    expect(future.body.code).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
  });
});

describe('rotating the signing key', () => {
  let t: TestBroker;
  let offsetMs = 0;

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES, clock: () => Date.now() + offsetMs });
  });
  afterAll(async () => t?.close());

  it('publishes both keys during the overlap, signs with the new one, then refuses tokens of the retired one', async () => {
    const before = await t.request('GET', '/.well-known/jwks.json', { credentials: { cert: t.admin.cert, key: t.admin.key } });
    expect(before.body.keys).toHaveLength(1);
    const oldKid = before.body.keys[0].kid as string;
    const svcOld = await t.client('svc');
    const session = await connectRawSession(t, svcOld);
    const closed = session.closed();

    const reader = await t.client('reader');
    expect((await t.request('POST', '/v1/admin/keys/rotate', { credentials: reader, body: {} })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    expect((await t.request('GET', '/v1/admin/keys', { credentials: reader })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    // Inspecting is open to any authenticated principal, but not to a client without a token.
    expect((await t.request('POST', '/v1/tokens/inspect', { credentials: { cert: reader.cert, key: reader.key }, body: { token: svcOld.token } })).body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
    const rotated = await t.request('POST', '/v1/admin/keys/rotate', { body: { overlapSec: 60 } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.retiring).toBe(oldKid);
    const during = await t.request('GET', '/.well-known/jwks.json', { credentials: { cert: t.admin.cert, key: t.admin.key } });
    expect(during.body.keys.map((key: { kid: string }) => key.kid).sort()).toEqual([oldKid, rotated.body.kid].sort());
    const svcNew = await t.client('svc');
    expect(decodeProtectedHeader(svcNew.token).kid).toBe(rotated.body.kid);
    expect((await t.request('GET', '/v1/topics', { credentials: svcOld })).status).toBe(200);
    const keys = await t.request('GET', '/v1/admin/keys');
    expect(keys.body.keys.map((key: { status: string }) => key.status)).toEqual(['active', 'previous']);

    offsetMs += 61_000;
    const refused = await t.request('GET', '/v1/topics', { credentials: svcOld });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    expect((await t.request('GET', '/v1/topics', { credentials: svcNew })).status).toBe(200);
    expect((await closed).reason).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
    await waitFor(async () => (await t.request('GET', '/.well-known/jwks.json', { credentials: { cert: t.admin.cert, key: t.admin.key } })).body.keys.length === 1, 'the retired key leaves the JWKS');
    await t.restart();
    expect((await t.request('GET', '/v1/topics', { credentials: svcOld })).body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED');
  });
});

describe('refreshing a live session', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'orders.eu', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('the SDK presents a fresh token from its credential function and the session outlives the first token', async () => {
    const svc = await certificateFor(t, 'svc');
    const thumbprint = certificateThumbprint(svc.cert);
    const tokens: { token: string; expiresAt: number }[] = [];
    let connects = 0;
    const connection = {
      url: t.url,
      ca: t.ca,
      // Called once per connection: counts them.
      cert: () => {
        connects++;
        return svc.cert;
      },
      key: svc.key,
      token: async () => {
        const issued = await t.broker.issuer.issueTokenWithClaims({ sub: 'svc', ttlSeconds: 4, audience: 'sealbus', bindThumbprint: thumbprint });
        tokens.push(issued);
        return issued.token;
      },
    };
    const consumer = new Consumer({ connection });
    consumer.assign([{ topic: 'orders.eu', partition: 0, start: 'latest' }]);
    const iterator = consumer[Symbol.asyncIterator]();
    const producer = new Producer({ connection: { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token } });
    try {
      await waitFor(() => tokens.length >= 2, 'the SDK refreshed its token in-band', 10_000);
      const firstExpiry = tokens[0]!.expiresAt;
      await waitFor(() => Date.now() > firstExpiry + 500, 'the first token has expired', 10_000);
      await producer.send({ topic: 'orders.eu', value: 'after the first token expired' });
      const next = await iterator.next();
      expect(next.value?.value?.toString()).toBe('after the first token expired');
      expect(connects).toBe(1);
    } finally {
      await producer.close();
      await consumer.close();
    }
  }, 20_000);
});
