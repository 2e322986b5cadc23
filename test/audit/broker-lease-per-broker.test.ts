/**
 * One audit chain per broker on a shared store, and one writer per chain: the broker lease in
 * `__sealbus.brokers`, on one in-memory store standing for the shared one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuditLog,
  BrokerLease,
  auditTopicFor,
  exportAuditLog,
  listAuditChains,
  verifyAuditLog,
  type AuditLogOptions,
  type AuditSigner,
} from '../../src/audit/index.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { codeOf, codeOfThrow } from '../helpers/error-code.js';
import { testSigner } from './helpers.js';

const TTL_MS = 60_000;
const T0 = Date.UTC(2025, 5, 1);

let store: MemoryLogStore;
const closing: (() => Promise<void>)[] = [];
let now = T0;
const clock = (): number => now;

async function newStore(): Promise<MemoryLogStore> {
  store = new MemoryLogStore({ clock });
  await store.open();
  return store;
}

async function lease(brokerId: string, signer?: AuditSigner): Promise<BrokerLease> {
  const held = await BrokerLease.acquire({ store, brokerId, auditKey: (signer ?? (await testSigner())).publicJwk(), clock, ttlMs: TTL_MS, report: () => {} });
  closing.push(() => held.close());
  return held;
}

async function auditLog(brokerId: string, signer: AuditSigner, overrides: Partial<AuditLogOptions> = {}): Promise<AuditLog> {
  const log = await AuditLog.open({
    store,
    signer,
    source: `sealbus://${brokerId}`,
    topic: auditTopicFor(brokerId),
    clock,
    checkpointEvents: 1000,
    checkpointIntervalMs: 60_000,
    retentionMs: null,
    retentionBytes: null,
    segmentBytes: 1024 * 1024,
    maxPendingEvents: 1000,
    retryMs: 10,
    ...overrides,
  });
  closing.push(() => log.close().catch(() => undefined));
  return log;
}

async function exported(topic: string): Promise<Record<string, unknown>[]> {
  const entries: Record<string, unknown>[] = [];
  for await (const line of exportAuditLog(store, { topic })) entries.push(JSON.parse(line) as Record<string, unknown>);
  return entries;
}

afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
  await store?.close();
  now = T0;
});

describe('audit topics per broker', () => {
  it('names a chain after its broker and refuses an id that makes no topic name', () => {
    expect(auditTopicFor('broker-1')).toBe('__sealbus.audit.broker-1');
    expect(codeOfThrow(() => auditTopicFor('a..b'))).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(codeOfThrow(() => auditTopicFor('a.'))).toBe('SEALBUS_ERR_CONFIG_INVALID');
  });

  it('two brokers write two chains on one store; each verifies with its own key and not the other\'s', async () => {
    await newStore();
    const [signerA, signerB] = [await testSigner(), await testSigner()];
    const [logA, logB] = [await auditLog('a', signerA), await auditLog('b', signerB)];
    // Interleaved appends: on one topic they would be one broken chain.
    for (let i = 0; i < 6; i++) {
      await (i % 2 === 0 ? logA : logB).append({ type: 'sealbus.broker.start', data: { brokerId: i % 2 === 0 ? 'a' : 'b' } });
    }
    await logA.checkpoint();
    await logB.checkpoint();
    expect((await listAuditChains(store)).map((chain) => [chain.brokerId, chain.topic, chain.highWatermark])).toEqual([
      ['a', '__sealbus.audit.a', 4],
      ['b', '__sealbus.audit.b', 4],
    ]);
    for (const [topic, own, other] of [['__sealbus.audit.a', signerA, signerB], ['__sealbus.audit.b', signerB, signerA]] as const) {
      const entries = await exported(topic);
      const report = await verifyAuditLog(entries, { publicKeys: [own.publicJwk()] });
      expect([report.ok, report.events, report.checkpoints, report.unsignedTail]).toEqual([true, 3, 1, 0]);
      const foreign = await verifyAuditLog(entries, { publicKeys: [other.publicJwk()] });
      expect(foreign.problems.map((problem) => problem.kind)).toEqual(['unknown-key']);
    }
  });
});

describe('the broker lease', () => {
  it('of two instances starting at once with one id, exactly one wins', async () => {
    await newStore();
    const results = await Promise.allSettled([lease('twin'), lease('twin')]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason.code).toBe('SEALBUS_ERR_BROKER_ID_IN_USE');
    expect(await codeOf(lease('twin'))).toBe('SEALBUS_ERR_BROKER_ID_IN_USE');
  });

  it('publishes each broker\'s audit key to the others; different ids coexist', async () => {
    await newStore();
    const [signerA, signerB] = [await testSigner(), await testSigner()];
    const a = await lease('a', signerA);
    const b = await lease('b', signerB);
    await b.assertHeld();
    await a.assertHeld();
    expect(b.keyOf('a')).toEqual(signerA.publicJwk());
    expect(a.keyOf('b')).toEqual(signerB.publicJwk());
    expect(a.keyOf('nobody')).toBeNull();
  });

  it('a stopped broker releases its id: it can start again at once', async () => {
    await newStore();
    const first = await lease('solo');
    await first.close();
    const second = await lease('solo');
    expect(second.instance).not.toBe(first.instance);
  });

  it('an instance silent for longer than the TTL loses its id, and its audit writer stops instead of forking the chain', async () => {
    await newStore();
    const signer = await testSigner();
    const old = await lease('x', signer);
    const oldLog = await auditLog('x', signer, { beforeWrite: () => old.assertHeld() });
    await oldLog.append({ type: 'sealbus.broker.start', data: { brokerId: 'x' } });
    // Within the TTL the id is taken; after it (the old instance paused), a new instance takes it.
    now += TTL_MS / 2;
    expect(await codeOf(lease('x'))).toBe('SEALBUS_ERR_BROKER_ID_IN_USE');
    now += TTL_MS;
    const replacement = await lease('x', signer);
    await replacement.assertHeld();
    const highWatermark = (await listAuditChains(store))[0]!.highWatermark;

    expect(await codeOf(old.assertHeld() ?? Promise.resolve())).toBe('SEALBUS_ERR_BROKER_ID_IN_USE');
    expect(await codeOf(oldLog.append({ type: 'sealbus.broker.stop', data: { brokerId: 'x' } }))).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(oldLog.available).toBe(false);
    expect((await listAuditChains(store))[0]!.highWatermark).toBe(highWatermark);
  });
});
