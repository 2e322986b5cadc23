import { afterEach, describe, expect, it } from 'vitest';
import type { AuditAppendInput } from '../../src/audit/index.js';
import { Broker, type Actor, type Authorizer } from '../../src/broker/index.js';
import { AuditTrail, type AuditSink, type DataAccessDetail } from '../../src/broker/audit-trail.js';
import { SealbusError } from '../../src/errors/index.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import { codeOfThrow, rejectionOf } from '../helpers/error-code.js';

/** A sink that keeps events in memory and can be made to fail like an unwritable log. */
class MemorySink implements AuditSink {
  readonly events: AuditAppendInput[] = [];
  available = true;
  unavailableReason: string | null = null;
  /** Refuse events with this text anywhere (as buildEvent refuses a secret). */
  refuse: string | null = null;

  async append(input: AuditAppendInput): Promise<unknown> {
    if (!this.available) throw new SealbusError('SEALBUS_ERR_AUDIT_UNAVAILABLE', { reason: 'disk full' });
    if (this.refuse !== null && JSON.stringify(input).includes(this.refuse)) throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'data.principal looks like a JWT' });
    this.events.push(input);
    return input;
  }

  fail(): void {
    this.available = false;
    this.unavailableReason = 'disk full';
  }

  ofType(type: string): AuditAppendInput[] {
    return this.events.filter((event) => event.type === type);
  }
}

const allowOrders: Authorizer = {
  authorize: (_actor, _action, resource) => (resource.kind === 'topic' && resource.name.startsWith('secret') ? { allowed: false, rule: 'default-deny' } : { allowed: true, rule: 'allow-all' }),
};

const alice: Actor = {
  name: 'user:alice',
  certificate: { spiffeId: null, subject: 'CN=alice', fingerprint256: 'thumb-alice' },
  token: { groups: [], scopes: null, bound: true, jti: 'jti-1' },
  sourceIp: '10.0.0.7',
  sessionId: 'conn-1',
};

const stores: MemoryLogStore[] = [];

async function setup(options: { failMode?: 'closed' | 'open'; dataAccess?: DataAccessDetail } = {}) {
  const store = new MemoryLogStore();
  await store.open();
  stores.push(store);
  const sink = new MemorySink();
  const dropped: unknown[] = [];
  const trail = new AuditTrail({ sink, failMode: options.failMode ?? 'closed', dataAccess: options.dataAccess ?? 'batch', onDropped: (err) => dropped.push(err) });
  const broker = new Broker({
    store,
    authorizer: allowOrders,
    audit: trail,
    limits: { maxRecordsPerBatch: 1000, maxBatchBytes: 1 << 20, fetchMaxBytes: 1 << 20, longPollMaxMs: 1000 },
  });
  await broker.createTopic(alice, { name: 'orders', partitions: 1 });
  return { store, sink, trail, broker, dropped };
}

const twoRecords = () => encodeRecords([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);

/** Lets background (`note`) appends settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

describe('AuditTrail in the broker', () => {
  it('records a produced batch with its principal, certificate, token id, address, connection, rule, count and offset range', async () => {
    const { sink, broker } = await setup();
    await broker.produceBatch(alice, 'orders', 0, twoRecords());
    await broker.produceBatch(alice, 'orders', 0, twoRecords());
    const produced = sink.ofType('sealbus.data.produce');
    expect(produced).toHaveLength(2);
    expect(produced[1]).toEqual({
      type: 'sealbus.data.produce',
      subject: 'topic:orders',
      data: {
        principal: 'user:alice',
        certificate: { subject: 'CN=alice', thumbprint: 'thumb-alice' },
        tokenId: 'jti-1',
        sourceIp: '10.0.0.7',
        sessionId: 'conn-1',
        action: 'produce',
        resource: 'topic:orders',
        decision: 'allow',
        rule: 'allow-all',
        partition: 0,
        records: 2,
        bytes: twoRecords().bytes.length,
        firstOffset: 2,
        lastOffset: 3,
      },
    });
    // Never a payload.
    expect(JSON.stringify(sink.events)).not.toContain('"a"');
  });

  it('records a consumed read with the offset range of the batches returned', async () => {
    const { sink, broker } = await setup();
    await broker.produceBatch(alice, 'orders', 0, twoRecords());
    await broker.fetch(alice, 'orders', 0, 0);
    const [consumed] = sink.ofType('sealbus.data.consume');
    expect(consumed?.data).toMatchObject({ action: 'consume', records: 2, firstOffset: 0, lastOffset: 1, decision: 'allow' });
    // An empty read records nothing.
    await broker.fetch(alice, 'orders', 0, 2);
    expect(sink.ofType('sealbus.data.consume')).toHaveLength(1);
  });

  it('records every denial, but an allowed decision only once per connection, action and resource', async () => {
    const { sink, broker } = await setup();
    for (let i = 0; i < 3; i++) {
      expect(codeOfThrow(() => broker.authorize(alice, 'produce', { kind: 'topic', name: 'secret.keys' }))).toBe('SEALBUS_ERR_FORBIDDEN');
      await broker.describeTopic(alice, 'orders');
    }
    await settle();
    const decisions = sink.ofType('sealbus.authz.decision');
    expect(decisions.filter((d) => d.data?.decision === 'deny')).toHaveLength(3);
    expect(decisions.filter((d) => d.data?.decision === 'deny')[0]?.data).toMatchObject({ action: 'produce', resource: 'topic:secret.keys', rule: 'default-deny', principal: 'user:alice' });
    expect(decisions.filter((d) => d.data?.decision === 'allow' && d.data?.action === 'describe')).toHaveLength(1);
    // Another connection is recorded again.
    await broker.describeTopic({ ...alice, sessionId: 'conn-2' }, 'orders');
    await settle();
    expect(sink.ofType('sealbus.authz.decision').filter((d) => d.data?.action === 'describe')).toHaveLength(2);
  });

  it('records topic creation and deletion with who did it', async () => {
    const { sink, broker } = await setup();
    await broker.deleteTopic(alice, 'orders');
    expect(sink.ofType('sealbus.admin.topic.create')[0]?.data).toMatchObject({ principal: 'user:alice', resource: 'topic:orders', partitions: 1 });
    expect(sink.ofType('sealbus.admin.topic.delete')[0]?.data).toMatchObject({ principal: 'user:alice', resource: 'topic:orders' });
  });

  it('fail closed: while the log cannot be written, produce, fetch and topic creation are refused and nothing is appended', async () => {
    const { sink, broker, store } = await setup();
    sink.fail();
    expect(await rejectionOf(broker.produceBatch(alice, 'orders', 0, twoRecords()))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_UNAVAILABLE' });
    expect(await rejectionOf(broker.produceRecords(alice, 'orders', [{ value: Buffer.from('x') }]))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_UNAVAILABLE' });
    expect(await rejectionOf(broker.fetch(alice, 'orders', 0, 0))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_UNAVAILABLE' });
    expect(await rejectionOf(broker.createTopic(alice, { name: 'more' }))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_UNAVAILABLE' });
    const description = await store.describeTopic('orders');
    expect(description.partitions[0]?.highWatermark).toBe(0);
    await expect(store.describeTopic('more')).rejects.toMatchObject({ code: 'SEALBUS_ERR_TOPIC_NOT_FOUND' });
  });

  it('fail closed: a write failing under an operation fails the operation with AUDIT_UNAVAILABLE', async () => {
    const { sink, broker } = await setup();
    // Available when checked, failing when written.
    sink.append = async () => {
      throw new SealbusError('SEALBUS_ERR_AUDIT_UNAVAILABLE', { reason: 'EIO' });
    };
    expect(await rejectionOf(broker.produceBatch(alice, 'orders', 0, twoRecords()))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_UNAVAILABLE' });
  });

  it('fail open: operations go on while the log cannot be written, and every lost event is counted', async () => {
    const { sink, broker, dropped } = await setup({ failMode: 'open' });
    sink.fail();
    const result = await broker.produceBatch(alice, 'orders', 0, twoRecords());
    expect(result.count).toBe(2);
    await broker.fetch(alice, 'orders', 0, 0);
    await settle();
    expect(dropped).toHaveLength(2);
    expect(dropped.every((err) => (err as SealbusError).code === 'SEALBUS_ERR_AUDIT_UNAVAILABLE')).toBe(true);
  });

  it('session detail: one event per connection, topic and partition, written when the connection ends', async () => {
    const { sink, broker, trail } = await setup({ dataAccess: 'session' });
    for (let i = 0; i < 3; i++) await broker.produceBatch(alice, 'orders', 0, twoRecords());
    expect(sink.ofType('sealbus.data.produce')).toHaveLength(0);
    trail.endSession('conn-1');
    await settle();
    const produced = sink.ofType('sealbus.data.produce');
    expect(produced).toHaveLength(1);
    expect(produced[0]?.data).toMatchObject({ records: 6, batches: 3, firstOffset: 0, lastOffset: 5, sessionId: 'conn-1' });
  });

  it('no data detail: produce and consume are not recorded, decisions still are', async () => {
    const { sink, broker } = await setup({ dataAccess: 'none' });
    await broker.produceBatch(alice, 'orders', 0, twoRecords());
    expect(codeOfThrow(() => broker.authorize(alice, 'consume', { kind: 'topic', name: 'secret' }))).toBe('SEALBUS_ERR_FORBIDDEN');
    await settle();
    expect(sink.ofType('sealbus.data.produce')).toHaveLength(0);
    expect(sink.ofType('sealbus.authz.decision').some((d) => d.data?.decision === 'deny')).toBe(true);
  });

  it('an attacker naming themselves like a token cannot keep their action out of the log: the event is recorded redacted', async () => {
    const { sink, broker } = await setup();
    const jwtName = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl';
    sink.refuse = jwtName;
    expect(codeOfThrow(() => broker.authorize({ ...alice, name: jwtName }, 'produce', { kind: 'topic', name: 'secret' }))).toBe('SEALBUS_ERR_FORBIDDEN');
    await settle();
    const [denied] = sink.ofType('sealbus.authz.decision').filter((d) => d.data?.decision === 'deny');
    expect(denied?.data).toMatchObject({ principal: '[redacted]', decision: 'deny' });
    expect(String(denied?.data?.['redacted'])).toContain('looks like a JWT');
    expect(JSON.stringify(sink.events)).not.toContain(jwtName);
  });

  it('control characters from a certificate subject are replaced, not refused', async () => {
    const { sink, broker } = await setup();
    await broker.produceBatch({ ...alice, certificate: { spiffeId: null, subject: 'CN=evil\u202e\nx', fingerprint256: 't' } }, 'orders', 0, twoRecords());
    const [produced] = sink.ofType('sealbus.data.produce');
    expect((produced?.data?.certificate as { subject: string }).subject).toBe('CN=evil\uFFFD\uFFFDx');
  });
});
