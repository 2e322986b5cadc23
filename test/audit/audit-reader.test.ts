import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_TOPIC,
  type AuditAppendInput,
  type AuditFilter,
  AuditLog,
  type AuditLogOptions,
  type AuditSigner,
  exportAuditLog,
  matchesAuditFilter,
  queryAuditLog,
  verifyAuditLog,
} from '../../src/audit/index.js';
import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { dataPaths } from '../../src/log/file/paths.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import type { LogStore } from '../../src/log/types.js';
import { codeOf } from '../helpers/error-code.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { SOURCE, T0, testSigner } from './helpers.js';

const tempDir = useTempDirs('sealbus-audit-reader-');

/** Eight events, the i-th at T0 + i seconds, each in a batch of its own. */
const EVENTS: AuditAppendInput[] = [
  { type: 'sealbus.auth.success', data: { principal: 'user:alice' } },
  { type: 'sealbus.authz.decision', data: { principal: 'user:alice', action: 'produce', resource: 'topic:orders', decision: 'allow' } },
  { type: 'sealbus.authz.decision', data: { principal: 'user:bob', action: 'consume', resource: 'topic:orders', decision: 'deny' } },
  { type: 'sealbus.data.produce', subject: 'topic:payments', data: { principal: 'user:bob', resource: 'topic:payments', records: 3 } },
  { type: 'sealbus.admin.topic.create', data: { principal: 'user:admin', resource: 'topic:new' } },
  { type: 'sealbus.admin.topic.delete', data: { principal: 'user:admin', resource: 'topic:old' } },
  { type: 'sealbus.data.consume', subject: 'topic:invoices', data: { principal: 'user:alice', resource: 'group:billing' } },
  { type: 'sealbus.policy.reload', data: { rule: 'reloaded' } },
];

interface Fixture {
  readonly store: MemoryLogStore;
  readonly log: AuditLog;
  readonly signer: AuditSigner;
  /** The store's and the log's clock. */
  now: number;
}

function logOptions(store: LogStore, signer: AuditSigner, clock: () => number): AuditLogOptions {
  return {
    store,
    signer,
    source: SOURCE,
    clock,
    checkpointEvents: 1000,
    checkpointIntervalMs: 60_000,
    retentionMs: null,
    retentionBytes: null,
    segmentBytes: 1024 * 1024,
    maxPendingEvents: 1000,
  };
}

async function fixture(options: { events?: number; closed?: boolean; overrides?: Partial<AuditLogOptions> } = {}): Promise<Fixture> {
  const signer = await testSigner();
  const state = { now: T0 };
  const store = new MemoryLogStore({ clock: () => state.now });
  await store.open();
  const log = await AuditLog.open({ ...logOptions(store, signer, () => state.now), ...options.overrides });
  for (const [i, event] of EVENTS.slice(0, options.events ?? EVENTS.length).entries()) {
    state.now = T0 + i * 1000;
    await log.append(event);
  }
  if (options.closed !== false) await log.close();
  return Object.assign(state, { store, log, signer });
}

/** Which of EVENTS a page holds, by index. */
function indexes(events: readonly Record<string, unknown>[]): number[] {
  return events.map((event) => event['sealbusseq'] as number);
}

async function lines(store: LogStore, options: { since?: number; signal?: AbortSignal } = {}): Promise<string[]> {
  const all: string[] = [];
  for await (const line of exportAuditLog(store, options)) all.push(line);
  return all;
}

describe('queryAuditLog filters', () => {
  const cases: [string, AuditFilter, number[]][] = [
    ['principal', { principal: 'user:alice' }, [0, 1, 6]],
    ['topic, by resource', { topic: 'orders' }, [1, 2]],
    ['topic, by subject', { topic: 'invoices' }, [6]],
    ['action', { action: 'produce' }, [1]],
    ['decision', { decision: 'deny' }, [2]],
    ['type, exactly', { type: 'sealbus.authz.decision' }, [1, 2]],
    ['type, by a prefix ending in a dot', { type: 'sealbus.admin.' }, [4, 5]],
    ['type without the dot: no prefix match', { type: 'sealbus.admin' }, []],
    ['since', { since: T0 + 5000 }, [5, 6, 7]],
    ['until', { until: T0 + 2000 }, [0, 1, 2]],
    ['several fields at once', { principal: 'user:bob', decision: 'deny', since: T0 + 1000, until: T0 + 2000 }, [2]],
  ];
  it.each(cases)('%s', async (_name, filter, expected) => {
    const { store } = await fixture();
    const page = await queryAuditLog(store, { filter });
    expect(indexes(page.events)).toEqual(expected);
  });

  it('returns the events as stored, without checkpoints', async () => {
    const { store } = await fixture();
    const page = await queryAuditLog(store);
    expect(page.events).toHaveLength(8);
    expect(page.events[3]).toMatchObject({ type: 'sealbus.data.produce', source: SOURCE, subject: 'topic:payments', sealbusseq: 3 });
    // The close wrote a checkpoint after the last event: it was scanned, not returned.
    expect(page).toMatchObject({ scanned: 9, nextOffset: 9, highWatermark: 9 });
  });

  it('matches nothing on a record without data or with a bad time', () => {
    expect(matchesAuditFilter({ type: 'sealbus.auth.success' }, { principal: 'user:alice' })).toBe(false);
    expect(matchesAuditFilter({ type: 'sealbus.auth.success', time: 'yesterday' }, { since: 0 })).toBe(false);
    expect(matchesAuditFilter({ type: 7 }, { type: 'sealbus.' })).toBe(false);
    expect(matchesAuditFilter({ type: 'sealbus.auth.success' }, {})).toBe(true);
  });
});

describe('queryAuditLog pages', () => {
  it('pages with limit and nextOffset through every event', async () => {
    const { store } = await fixture();
    const seen: number[] = [];
    let fromOffset = 0;
    for (let pages = 0; pages < 10; pages++) {
      const page = await queryAuditLog(store, { fromOffset, limit: 3 });
      if (page.events.length === 0) {
        expect(page.nextOffset).toBe(page.highWatermark);
        break;
      }
      expect(page.events.length).toBeLessThanOrEqual(3);
      seen.push(...indexes(page.events));
      fromOffset = page.nextOffset;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('stops after maxScanRecords, to be continued from nextOffset', async () => {
    const { store } = await fixture();
    const page = await queryAuditLog(store, { fromOffset: 1, maxScanRecords: 2, filter: { principal: 'user:nobody' } });
    expect(page).toMatchObject({ events: [], scanned: 2, nextOffset: 3 });
  });

  it('starts at the first batch stamped at or after since', async () => {
    const { store } = await fixture();
    const page = await queryAuditLog(store, { filter: { since: T0 + 6000 } });
    expect(indexes(page.events)).toEqual([6, 7]);
    expect(page.scanned).toBe(3);
  });

  it('moves an offset below the log start up to it', async () => {
    const { store } = await fixture({ overrides: { segmentBytes: 1024, retentionBytes: 2500 } });
    await store.enforceRetention();
    const start = (await store.describeTopic(AUDIT_TOPIC)).partitions[0]!.logStartOffset;
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThan(8);
    const page = await queryAuditLog(store, { fromOffset: 0 });
    expect(indexes(page.events)[0]).toBe(start);
  });

  it('refuses bad bounds with SEALBUS_ERR_REQUEST_INVALID and caps the limit at 1000', async () => {
    const { store } = await fixture();
    expect(await codeOf(queryAuditLog(store, { limit: 0 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(queryAuditLog(store, { fromOffset: -1 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(queryAuditLog(store, { maxScanRecords: 0.5 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await codeOf(queryAuditLog(store, { waitMs: -1 }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect((await queryAuditLog(store, { limit: 5000 })).events).toHaveLength(8);
  });

  it('returns an empty page when the audit topic does not exist, and exports nothing', async () => {
    const store = new MemoryLogStore();
    await store.open();
    expect(await queryAuditLog(store, { waitMs: 10_000 })).toEqual({ events: [], nextOffset: 0, highWatermark: 0, scanned: 0 });
    expect(await lines(store)).toEqual([]);
  });
});

describe('queryAuditLog long poll', () => {
  it('wakes on a new matching event, passing over those that do not match', async () => {
    const fx = await fixture({ closed: false });
    const start = (await queryAuditLog(fx.store)).nextOffset;
    const started = Date.now();
    const polling = queryAuditLog(fx.store, { fromOffset: start, waitMs: 20_000, filter: { principal: 'user:late' } });
    await fx.log.append({ type: 'sealbus.auth.success', data: { principal: 'user:early' } });
    await fx.log.append({ type: 'sealbus.auth.success', data: { principal: 'user:late' } });
    const page = await polling;
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(page.events).toHaveLength(1);
    expect(page.events[0]).toMatchObject({ sealbusseq: 9, data: { principal: 'user:late' } });
    expect(page.nextOffset).toBe(start + 2);
    await fx.log.close();
  });

  it('waits until the deadline when only non-matching events arrive', async () => {
    const fx = await fixture({ closed: false });
    const start = (await queryAuditLog(fx.store)).nextOffset;
    const started = Date.now();
    const polling = queryAuditLog(fx.store, { fromOffset: start, waitMs: 300, filter: { principal: 'user:late' } });
    await fx.log.append({ type: 'sealbus.auth.success', data: { principal: 'user:early' } });
    const page = await polling;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(page).toMatchObject({ events: [], nextOffset: start + 1, scanned: 1 });
    await fx.log.close();
  });

  it('ends the wait when the signal aborts', async () => {
    const fx = await fixture();
    const controller = new AbortController();
    const polling = queryAuditLog(fx.store, { fromOffset: 9, waitMs: 20_000, signal: controller.signal });
    controller.abort();
    expect(await polling).toMatchObject({ events: [], nextOffset: 9 });
  });
});

describe('exportAuditLog', () => {
  it('exports every record as a JSON line, and the export verifies', async () => {
    const { store, signer } = await fixture();
    const exported = await lines(store);
    expect(exported).toHaveLength(9);
    expect(exported.every((line) => !line.includes('\n'))).toBe(true);
    expect(await verifyAuditLog(exported, { publicKeys: [signer.publicKey] })).toMatchObject({ ok: true, events: 8, checkpoints: 1, unsignedTail: 0 });
  });

  it('exports from since, which verifies as a partial log', async () => {
    const { store, signer } = await fixture();
    const exported = await lines(store, { since: T0 + 5000 });
    expect(exported).toHaveLength(4);
    expect(JSON.parse(exported[0]!)).toMatchObject({ sealbusseq: 5 });
    expect(await verifyAuditLog(exported, { publicKeys: [signer.publicKey], partial: true })).toMatchObject({ ok: true, events: 3 });
  });

  it('stops when the signal aborts', async () => {
    const { store } = await fixture();
    const controller = new AbortController();
    controller.abort(new Error('client gone'));
    await expect(lines(store, { signal: controller.signal })).rejects.toThrow('client gone');
  });

  it('puts a line that is not JSON where records failed their checksum; queries pass over them', async () => {
    const dir = await tempDir();
    const signer = await testSigner();
    let store = new FileLogStore({ dir, retentionCheckMs: 0 });
    await store.open();
    const log = await AuditLog.open({ ...logOptions(store, signer, Date.now), segmentBytes: 1024 });
    for (let i = 0; i < 12; i++) await log.append({ type: 'sealbus.auth.success', data: { principal: `user:u${i}` } });
    await log.close();
    await store.close();
    // Flip a byte inside the first segment's first event (a sealed segment: never a torn tail).
    const partition = dataPaths(dir).partition(AUDIT_TOPIC, 0);
    const first = join(partition, (await readdir(partition)).filter((name) => name.endsWith('.log')).sort()[0]!);
    const bytes = await readFile(first);
    const at = bytes.indexOf('user:u0');
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(first, bytes);

    store = new FileLogStore({ dir, retentionCheckMs: 0 });
    await store.open();
    const exported = await lines(store);
    expect(exported[0]).toBe(`!sealbus-export: offsets 0..0 of ${AUDIT_TOPIC} were not exported: they failed their checksum`);
    const report = await verifyAuditLog(exported, { publicKeys: [signer.publicKey] });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toEqual({ position: 0, seq: null, kind: 'malformed', detail: 'the line is not JSON' });
    const page = await queryAuditLog(store);
    expect(indexes(page.events)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await store.close();
  });
});
