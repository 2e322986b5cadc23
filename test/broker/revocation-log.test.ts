import { afterEach, describe, expect, it, vi } from 'vitest';
import { RevocationList, type RevocableToken, type RevocationEntry } from '../../src/auth/revocation-list.js';
import { REVOCATIONS_TOPIC, RevocationLog } from '../../src/broker/revocation-log.js';
import { isSealbusError } from '../../src/errors/index.js';
import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import type { LogStore } from '../../src/log/types.js';
import { codeOf } from '../helpers/error-code.js';
import { waitFor } from '../helpers/wait-for.js';
import { makeTempDir } from '../log/helpers/log-test-kit.js';

const DAY = 86_400_000;
const RETENTION_MS = 7 * DAY;
const ISSUER = 'https://broker.example';

/** The revocation logs' clock, moved by hand; the stores keep the real clock. */
const clock = { now: Date.now() };

function tokenEntry(jti: string, overrides: Partial<Extract<RevocationEntry, { kind: 'token' }>> = {}): RevocationEntry {
  return { kind: 'token', issuer: ISSUER, jti, revokedAt: clock.now, until: clock.now + DAY, reason: 'leaked in a build log', by: 'admin', ...overrides };
}

function subjectEntry(principal: string, before: number): RevocationEntry {
  return { kind: 'subject', principal, before, revokedAt: clock.now, until: before + DAY, reason: null, by: 'admin' };
}

function tokenOf(jti: string | null, principal = 'alice'): RevocableToken {
  return { issuer: ISSUER, jti, principal, issuedAt: Math.floor(clock.now / 1000) * 1000 - 60_000 };
}

/** A broker's view: its list, its log, and what its hooks saw. */
interface Node {
  readonly list: RevocationList;
  readonly log: RevocationLog;
  readonly added: RevocationEntry[][];
  readonly errors: unknown[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

function node(store: LogStore, maxEntries = 100): Node {
  const list = new RevocationList({ maxEntries });
  const added: RevocationEntry[][] = [];
  const errors: unknown[] = [];
  const log = new RevocationLog({
    store,
    list,
    clock: () => clock.now,
    retentionMs: RETENTION_MS,
    onAdded: (entries) => added.push([...entries]),
    onError: (err) => errors.push(err),
  });
  cleanups.push(() => log.close());
  return { list, log, added, errors };
}

async function openNode(store: LogStore, maxEntries = 100): Promise<Node> {
  const opened = node(store, maxEntries);
  await opened.log.open();
  return opened;
}

async function appendRaw(store: LogStore, value: Buffer | null): Promise<number> {
  const result = await store.append(REVOCATIONS_TOPIC, 0, { records: encodeRecords([{ key: null, value }]) });
  return result.baseOffset;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

async function highWatermark(store: LogStore): Promise<number> {
  return (await store.describeTopic(REVOCATIONS_TOPIC)).partitions[0]!.highWatermark;
}

/** Fakes the timer functions the revocation log uses, so that vi.getTimerCount() sees its timers. */
function fakeTimers(toFake: ('setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval')[]): void {
  vi.useFakeTimers({ toFake });
  cleanups.push(() => void vi.useRealTimers());
}

/** Yields to the event loop (setImmediate is never faked here) until `condition` holds, a bounded number of times. */
async function settle(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`still waiting until ${what}`);
}

type Backend = { readonly name: string; readonly open: () => Promise<LogStore> };

const backends: Backend[] = [
  {
    name: 'file',
    open: async () => {
      const temp = await makeTempDir('sealbus-revocations-');
      const store = new FileLogStore({ dir: temp.dir, retentionCheckMs: 0 });
      await store.open();
      cleanups.push(() => temp.remove());
      cleanups.push(() => store.close());
      return store;
    },
  },
  {
    name: 'memory',
    open: async () => {
      const store = new MemoryLogStore();
      await store.open();
      cleanups.push(() => store.close());
      return store;
    },
  },
];

describe.each(backends)('RevocationLog over the $name store', (backend) => {
  it('creates the internal topic: one partition, fsync always, the given retention', async () => {
    const store = await backend.open();
    await openNode(store);
    const { config, partitions } = await store.describeTopic(REVOCATIONS_TOPIC);
    expect(partitions).toHaveLength(1);
    expect(config.fsync).toEqual({ mode: 'always' });
    expect(config.retentionMs).toBe(RETENTION_MS);
  });

  it('applies a revocation to new requests as soon as revoke() resolves, and tells onAdded once', async () => {
    const store = await backend.open();
    const a = await openNode(store);
    const b = await openNode(store);
    const entry = tokenEntry('jti-1');
    expect(await a.log.revoke(entry)).toEqual({ added: true });
    expect(a.list.isRevoked(tokenOf('jti-1'))).toBe(true);
    expect(a.list.isRevoked(tokenOf('jti-2'))).toBe(false);
    // A later record from b reaching a proves a's tail has read past its own record.
    await b.log.revoke(tokenEntry('jti-2'));
    await waitFor(() => a.list.isRevoked(tokenOf('jti-2')), 'a learns jti-2');
    expect(a.added).toEqual([[entry], [tokenEntry('jti-2')]]);
    expect(a.errors).toEqual([]);
  });

  it('reports an entry already revoked as not added, and still writes nothing invalid', async () => {
    const store = await backend.open();
    const a = await openNode(store);
    expect(await a.log.revoke(subjectEntry('alice', clock.now))).toEqual({ added: true });
    expect(await a.log.revoke(subjectEntry('alice', clock.now - 10_000))).toEqual({ added: false });
    expect(await codeOf(a.log.revoke(tokenEntry('bad\u0000jti')))).toBe('SEALBUS_ERR_TOKEN_REQUEST_INVALID');
    expect(await highWatermark(store)).toBe(2);
  });

  it('reaches every broker sharing the store through the tail within one second', async () => {
    const store = await backend.open();
    const a = await openNode(store);
    const b = await openNode(store);
    const started = Date.now();
    await b.log.revoke(subjectEntry('mallory', clock.now));
    await waitFor(() => a.list.isRevoked(tokenOf(null, 'mallory')), 'the revocation reaches the other broker', 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(a.added).toEqual([[subjectEntry('mallory', clock.now)]]);
  });

  it('opens concurrently with another broker creating the same topic', async () => {
    const store = await backend.open();
    const [a, b] = [node(store), node(store)];
    await Promise.all([a.log.open(), b.log.open()]);
    await a.log.revoke(tokenEntry('jti-1'));
    await waitFor(() => b.list.isRevoked(tokenOf('jti-1')), 'b learns jti-1');
  });

  it('skips and reports malformed records, live and on replay, and applies the next valid one', async () => {
    const store = await backend.open();
    const a = await openNode(store);
    const bad = [
      Buffer.from('not json'),
      null,
      json([1, 2]),
      json({ v: 2, ...tokenEntry('future-format') }),
      json({ v: 1, ...tokenEntry('x'), jti: '' }),
      json({ v: 1, ...tokenEntry('x'), admin: true }),
      Buffer.from(JSON.stringify({ v: 1, ...tokenEntry('x'), reason: null, by: null, jti: 'j'.repeat(5000) })),
    ];
    const badOffsets: number[] = [];
    for (const value of bad) badOffsets.push(await appendRaw(store, value));
    await appendRaw(store, json({ v: 1, ...tokenEntry('good') }));
    await waitFor(() => a.list.isRevoked(tokenOf('good')), 'the valid record after the malformed ones applies');
    expect(a.list.size).toBe(1);
    const reported = (errors: unknown[]) =>
      errors.map((err) => (isSealbusError(err) ? `${err.code}@${String(err.details?.['offset'])}` : String(err)));
    const expected = badOffsets.map((offset) => `SEALBUS_ERR_TOKEN_REQUEST_INVALID@${offset}`);
    expect(reported(a.errors)).toEqual(expected);
    expect(String((a.errors[4] as Error).message)).toContain('jti must be a printable string');

    const c = await openNode(store);
    expect(c.list.isRevoked(tokenOf('good'))).toBe(true);
    expect(c.list.size).toBe(1);
    expect(reported(c.errors)).toEqual(expected);
    // Replayed entries are not "added": no session exists before the broker serves.
    expect(c.added).toEqual([]);
  });

  it('does not apply entries that expired before they are read', async () => {
    const store = await backend.open();
    const a = await openNode(store);
    await a.log.revoke(tokenEntry('short', { until: clock.now + 1000 }));
    await a.log.revoke(tokenEntry('long'));
    clock.now += 1000;
    try {
      const b = await openNode(store);
      expect(b.list.isRevoked(tokenOf('short'))).toBe(false);
      expect(b.list.isRevoked(tokenOf('long'))).toBe(true);
    } finally {
      clock.now -= 1000;
    }
  });

  it('does not apply, nor report as added, an expired entry the tail reads', async () => {
    const store = await backend.open();
    const a = await openNode(store);
    await appendRaw(store, json({ v: 1, ...tokenEntry('expired', { revokedAt: clock.now - 2000, until: clock.now }) }));
    await appendRaw(store, json({ v: 1, ...tokenEntry('live') }));
    await waitFor(() => a.list.isRevoked(tokenOf('live')), 'the live entry applies');
    expect(a.list.isRevoked(tokenOf('expired'))).toBe(false);
    expect(a.added).toEqual([[tokenEntry('live')]]);
    expect(a.errors).toEqual([]);
  });

  it('refuses, writing nothing, an entry that is expired, outlives the retention, or does not fit', async () => {
    const store = await backend.open();
    const a = await openNode(store, 1);
    expect(await codeOf(a.log.revoke(tokenEntry('old', { revokedAt: clock.now - 2000, until: clock.now })))).toBe(
      'SEALBUS_ERR_TOKEN_REQUEST_INVALID',
    );
    expect(await codeOf(a.log.revoke(tokenEntry('forever', { until: clock.now + RETENTION_MS + 1 })))).toBe(
      'SEALBUS_ERR_TOKEN_REQUEST_INVALID',
    );
    await a.log.revoke(tokenEntry('one'));
    expect(await codeOf(a.log.revoke(tokenEntry('two')))).toBe('SEALBUS_ERR_TOKEN_REVOCATIONS_FULL');
    expect(await highWatermark(store)).toBe(1);
  });

  it('holds a record that does not fit until entries expire, then applies it, in order', async () => {
    const store = await backend.open();
    const writer = await openNode(store);
    const small = await openNode(store, 1);
    await writer.log.revoke(tokenEntry('first', { until: clock.now + 1000 }));
    await writer.log.revoke(tokenEntry('second'));
    await waitFor(() => small.errors.some((err) => isSealbusError(err, 'SEALBUS_ERR_TOKEN_REVOCATIONS_FULL')), 'the small list reports it is full');
    expect(small.list.isRevoked(tokenOf('first'))).toBe(true);
    expect(small.list.isRevoked(tokenOf('second'))).toBe(false);
    clock.now += 1000;
    try {
      await waitFor(() => small.list.isRevoked(tokenOf('second')), 'the held record applies once the first expired');
      expect(small.list.isRevoked(tokenOf('first'))).toBe(false);
    } finally {
      clock.now -= 1000;
    }
  });

  it('stops the tail on close(): later records are not applied, and no timer is left', async () => {
    const store = await backend.open();
    fakeTimers(['setInterval', 'clearInterval']);
    const a = await openNode(store);
    const b = await openNode(store);
    // One prune timer each.
    expect(vi.getTimerCount()).toBe(2);
    a.log.close();
    await b.log.revoke(tokenEntry('after-close'));
    const c = await openNode(store);
    await b.log.revoke(tokenEntry('later'));
    await waitFor(() => c.list.isRevoked(tokenOf('later')), 'another tail still follows');
    expect(a.list.size).toBe(0);
    expect(await codeOf(a.log.revoke(tokenEntry('x')))).toBe('SEALBUS_ERR_STORE_CLOSED');
    b.log.close();
    c.log.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a failing store, retries after a back-off, and close() cancels the back-off timer', async () => {
    const store = await backend.open();
    fakeTimers(['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval']);
    const a = await openNode(store);
    await store.deleteTopic(REVOCATIONS_TOPIC);
    await settle(() => a.errors.length === 1 && vi.getTimerCount() === 2, 'the tail reports the missing topic and backs off');
    expect(isSealbusError(a.errors[0], 'SEALBUS_ERR_TOPIC_NOT_FOUND')).toBe(true);
    await vi.advanceTimersByTimeAsync(99);
    expect(a.errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await settle(() => a.errors.length === 2 && vi.getTimerCount() === 2, 'the tail retries, fails again and backs off longer');
    a.log.close();
    // Both the back-off and the prune timer are gone, and the loop has ended: nothing more is reported.
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(a.errors).toHaveLength(2);
  });
});

describe('RevocationLog durability over the file store', () => {
  it('replays an acknowledged revocation after the store is closed and reopened', async () => {
    const temp = await makeTempDir('sealbus-revocations-');
    cleanups.push(() => temp.remove());
    const first = new FileLogStore({ dir: temp.dir, retentionCheckMs: 0 });
    await first.open();
    const a = await openNode(first);
    await a.log.revoke(tokenEntry('jti-durable'));
    await a.log.revoke(subjectEntry('alice', clock.now));
    a.log.close();
    await first.close();

    const second = new FileLogStore({ dir: temp.dir, retentionCheckMs: 0 });
    await second.open();
    cleanups.push(() => second.close());
    const b = await openNode(second);
    expect(b.list.isRevoked(tokenOf('jti-durable', 'bob'))).toBe(true);
    expect(b.list.isRevoked(tokenOf(null, 'alice'))).toBe(true);
    expect(b.list.entries()).toEqual([tokenEntry('jti-durable'), subjectEntry('alice', clock.now)]);
    expect(b.errors).toEqual([]);
  });
});
