/**
 * Two brokers over one JetStream store (issue 11): one nats-server, two brokers with different
 * `audit.brokerId`s sharing the CA, the server certificate and the local issuer's keyring. What
 * one broker writes (topics, records, revocations, the key directory, schemas) is seen by the
 * other; each broker writes its own audit chain, which verifies on its own with its key; a third
 * broker with an id already in use is refused.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/audit/index.js';
import { runAuditVerify } from '../../src/cli/audit-verify.js';
import { Admin } from '../../src/client/index.js';
import { generateClientKeys, publicKeysOf, registrationProof } from '../../src/payload/keys.js';
import { rejectionOf } from '../helpers/error-code.js';
import { natsBackendFiles, sharedStoreBroker, startNatsBackend, type NatsBackendFiles } from '../helpers/nats-backend.js';
import { skipWithoutNatsServer, type RunningNatsServer } from '../helpers/nats-server.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

const skip = skipWithoutNatsServer('test/e2e/cluster-brokers.test.ts');
/** How long a change made on one broker may take to show on the other. */
const PROPAGATION_MS = 5_000;

describe.skipIf(skip)('two brokers on one JetStream store', () => {
  let files: NatsBackendFiles;
  let nats: RunningNatsServer;
  let a: TestBroker;
  let b: TestBroker;
  const streamPrefix = `c${randomBytes(5).toString('hex')}`;

  beforeAll(async () => {
    files = await natsBackendFiles();
    nats = await startNatsBackend(files);
    a = await startTestBroker({ configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-a') });
    b = await startTestBroker({ configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-b', a) });
  }, 60_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await nats?.stop();
    if (files !== undefined) await rm(files.dir, { recursive: true, force: true });
  });

  it('shares one CA and one issuer: a token minted by one broker is accepted by the other', async () => {
    expect(b.ca).toBe(a.ca);
    const worker = await a.client('worker');
    expect((await b.request('GET', '/v1/topics', { credentials: worker })).status).toBe(200);
  });

  it('a topic created on A is used on B; records produced on one are consumed on the other', async () => {
    expect((await a.request('POST', '/v1/topics', { body: { name: 'cluster.orders', partitions: 1 } })).status).toBe(201);
    await waitFor(async () => (await b.request('GET', '/v1/topics/cluster.orders')).status === 200, 'B sees the topic', PROPAGATION_MS);
    expect((await a.request('POST', '/v1/topics/cluster.orders/records', { body: { records: [{ value: { n: 1, via: 'a' } }] } })).status).toBe(200);
    expect((await b.request('POST', '/v1/topics/cluster.orders/records', { body: { records: [{ value: { n: 2, via: 'b' } }] } })).status).toBe(200);
    // As a consumer reads: on, with a long poll, which the other broker's append announcement wakes.
    for (const reader of [a, b]) {
      const seen: unknown[] = [];
      const deadline = Date.now() + PROPAGATION_MS;
      while (seen.length < 2 && Date.now() < deadline) {
        const read = await reader.request('GET', `/v1/topics/cluster.orders/partitions/0/records?offset=${seen.length}&waitMs=1000`);
        expect(read.status).toBe(200);
        for (const record of read.body.records as { offset: number; value: unknown }[]) seen.push([record.offset, record.value]);
      }
      expect(seen).toEqual([
        [0, { n: 1, via: 'a' }],
        [1, { n: 2, via: 'b' }],
      ]);
    }
    // A plain read (no wait) right after an acknowledged append through the other broker sees it:
    // a read at the end this broker knows catches up with the stream first.
    expect((await a.request('POST', '/v1/topics/cluster.orders/records', { body: { records: [{ value: { n: 3, via: 'a' } }] } })).status).toBe(200);
    const plain = await b.request('GET', '/v1/topics/cluster.orders/partitions/0/records?offset=2');
    expect(plain.status).toBe(200);
    expect((plain.body.records as { offset: number; value: unknown }[]).map((r) => [r.offset, r.value])).toEqual([[2, { n: 3, via: 'a' }]]);
  });

  it('a token revoked on A is refused on B within the deadline', async () => {
    const worker = await a.client('revoked-worker');
    expect((await b.request('GET', '/v1/topics', { credentials: worker })).status).toBe(200);
    const revoked = await a.request('POST', '/v1/admin/tokens/revoke', { body: { jti: decodeJwt(worker.token).jti, reason: 'cluster test' } });
    expect(revoked.status).toBe(200);
    await waitFor(
      async () => (await b.request('GET', '/v1/topics', { credentials: worker })).body?.code === 'SEALBUS_ERR_AUTH_TOKEN_REVOKED',
      'B refuses the revoked token',
      PROPAGATION_MS,
    );
  });

  it('a key registered on A is in B\'s key directory', async () => {
    const keys = generateClientKeys();
    const pub = publicKeysOf(keys);
    const time = Date.now();
    const body = { encryptionKey: pub.encryption.publicKey, signingKey: pub.signing.publicKey, time, proof: registrationProof('admin', keys, time) };
    expect((await a.request('POST', '/v1/keys', { body })).status).toBe(201);
    await waitFor(
      async () => JSON.stringify((await b.request('GET', '/v1/keys?principal=admin')).body).includes(pub.encryption.publicKey),
      'B lists the key',
      PROPAGATION_MS,
    );
  });

  it('a schema registered on A is enforced on B', async () => {
    expect((await a.request('POST', '/v1/topics', { body: { name: 'cluster.typed', partitions: 1 } })).status).toBe(201);
    const schema = { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } };
    expect((await a.request('POST', '/v1/topics/cluster.typed/schemas', { body: { schema } })).status).toBe(201);
    await waitFor(
      async () => (await b.request('POST', '/v1/topics/cluster.typed/records', { body: { records: [{ value: { id: 'nope' } }] } })).body?.code === 'SEALBUS_ERR_SCHEMA_VALIDATION',
      'B enforces the schema',
      PROPAGATION_MS,
    );
    expect((await b.request('POST', '/v1/topics/cluster.typed/records', { body: { records: [{ value: { id: 7 } }] } })).status).toBe(200);
  });

  it('each broker writes its own audit chain, which verifies on its own with that broker\'s key', async () => {
    const listed = await a.request('GET', '/v1/audit/chains');
    expect(listed.status).toBe(200);
    expect(listed.body.chains.map((chain: { broker: string; topic: string; self: boolean }) => [chain.broker, chain.topic, chain.self])).toEqual([
      ['broker-a', '__sealbus.audit.broker-a', true],
      ['broker-b', '__sealbus.audit.broker-b', false],
    ]);
    // B's key as B gives it, and as A read it from the store: the same key.
    const keyOfB = (await b.request('GET', '/v1/audit/keys')).body;
    expect((await a.request('GET', '/v1/audit/keys?broker=broker-b')).body).toEqual(keyOfB);
    const keyOfA = (await a.request('GET', '/v1/audit/keys')).body;
    expect(keyOfA.keys[0].kid).not.toBe(keyOfB.keys[0].kid);

    for (const [id, key, via] of [['broker-a', keyOfA, b], ['broker-b', keyOfB, a]] as const) {
      let entries: Record<string, unknown>[] = [];
      // A checkpoint is written within a second of an event: then the key is what proves the chain.
      await waitFor(
        async () => {
          const exported = await via.request('GET', `/v1/audit/export?broker=${id}`);
          entries = exported.status === 200 ? String(exported.body).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>) : [];
          return entries.some((entry) => entry['type'] === 'sealbus.audit.checkpoint');
        },
        `a signed export of ${id}`,
        PROPAGATION_MS,
      );
      expect(new Set(entries.map((entry) => entry['source']))).toEqual(new Set([`sealbus://${id}`]));
      const report = await verifyAuditLog(entries, { publicKeys: key.keys });
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.checkpoints).toBeGreaterThan(0);
      // The other broker's key does not verify this chain: each chain is its own broker's.
      const foreign = await verifyAuditLog(entries, { publicKeys: (key === keyOfA ? keyOfB : keyOfA).keys });
      expect(foreign.ok).toBe(false);
      expect(foreign.problems.map((problem) => problem.kind)).toContain('unknown-key');
    }
    // A query reads the chain named, B's events through A.
    const queried = await a.request('GET', '/v1/audit?broker=broker-b&type=sealbus.broker.start');
    expect(queried.body.events.map((event: { data: { brokerId: string } }) => event.data.brokerId)).toEqual(['broker-b']);
    expect((await a.request('GET', '/v1/audit?broker=broker-z')).body.code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');

    // The same through the SDK and `sealbus audit verify --broker`: B's chain, read and verified through A.
    const admin = new Admin({ connection: { url: a.url, ca: a.ca, cert: a.admin.cert, key: a.admin.key, token: a.admin.token } });
    try {
      expect(await admin.auditKeys('broker-b')).toEqual(keyOfB);
      const page = await admin.queryAudit({ broker: 'broker-b', type: 'sealbus.broker.start' });
      expect(page.events.map((event) => (event['data'] as { brokerId: string }).brokerId)).toEqual(['broker-b']);
      const lines: string[] = [];
      for await (const line of admin.exportAudit({ broker: 'broker-b' })) lines.push(line);
      expect(new Set(lines.map((line) => (JSON.parse(line) as { source: string }).source))).toEqual(new Set(['sealbus://broker-b']));
      expect(await rejectionOf(admin.queryAudit({ broker: 'broker-z' }))).toMatchObject({ code: 'SEALBUS_ERR_TOPIC_NOT_FOUND' });
    } finally {
      admin.close();
    }
    const tokenFile = join(a.env.dir, 'admin.token');
    await writeFile(tokenFile, a.admin.token, { mode: 0o600 });
    const { ca, adminCert, adminKey } = a.env.files;
    const flags = { url: a.url, ca, cert: adminCert, certKey: adminKey, tokenFile, state: join(a.env.dir, 'verified.json'), json: true };
    const out: string[] = [];
    expect(await runAuditVerify({ ...flags, broker: 'broker-b' }, (line) => out.push(line), () => undefined)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ ok: true, source: 'sealbus://broker-b' });
  });

  it('the audit chains stay out of clients\' reach', async () => {
    const read = await b.request('GET', '/v1/topics/__sealbus.audit.broker-a/partitions/0/records?offset=0');
    expect(read.status).toBe(400);
    expect(read.body.code).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
    const listed = await b.request('GET', '/v1/topics');
    expect(JSON.stringify(listed.body)).not.toContain('__sealbus');
  });

  it('a second broker with an id in use is refused; the id is free again once its holder stops', async () => {
    const refused = await rejectionOf(startTestBroker({ configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-a', a) }));
    expect(refused.code).toBe('SEALBUS_ERR_BROKER_ID_IN_USE');
    expect(refused.message).toContain('"broker-a"');
    const stopped = b;
    b = undefined as unknown as TestBroker; // afterAll must not close it twice if the restart fails
    await stopped.close();
    b = await startTestBroker({ configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-b', a) });
    expect((await b.request('GET', '/v1/topics/cluster.orders')).status).toBe(200);
  });
});
