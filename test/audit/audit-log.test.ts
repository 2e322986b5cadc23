import { describe, expect, it } from 'vitest';
import {
  AUDIT_CHECKPOINT_TYPE,
  AUDIT_TOPIC,
  AuditChain,
  type AuditAppendInput,
  AuditLog,
  type AuditLogOptions,
  type AuditSigner,
  buildEvent,
  exportAuditLog,
  verifyAuditLog,
} from '../../src/audit/index.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import type { AppendRequest, AppendResult, LogStore } from '../../src/log/types.js';
import { codeOf, rejectionOf } from '../helpers/error-code.js';
import { waitFor } from '../helpers/wait-for.js';
import { SOURCE, sampleInput, testEnvironment, testSigner } from './helpers.js';

/** The i-th sample event, as the broker hands it to the log (without source). */
function input(i: number): AuditAppendInput {
  const { source: _source, ...rest } = sampleInput(i);
  return rest;
}

interface StoreControl {
  /** Store appends attempted. */
  appends: number;
  /** Records the inner store holds after each append that reached it. */
  landedRecords: number;
  /** Appends reject with this while set. */
  fail: Error | null;
  /** With `fail`: the batch lands, then the append still rejects (an fsync error after the write). */
  land: boolean;
  /** Appends wait on this before doing anything. */
  gate: Promise<void> | null;
  /** Appends that reached the inner store (placed there) wait on this before they settle: an fsync under way. */
  hold: Promise<void> | null;
}

/** Wraps a store so that appends can be counted, held and failed on demand. */
function controlledStore(inner: LogStore): { store: LogStore; control: StoreControl } {
  const control: StoreControl = { appends: 0, landedRecords: 0, fail: null, land: false, gate: null, hold: null };
  const append = async (topic: string, partition: number, request: AppendRequest): Promise<AppendResult> => {
    control.appends += 1;
    if (control.gate !== null) await control.gate;
    const failure = control.fail;
    if (failure !== null && !control.land) throw failure;
    const result = await inner.append(topic, partition, request);
    control.landedRecords += result.count;
    if (control.hold !== null) await control.hold;
    if (control.fail !== null) throw control.fail;
    return result;
  };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'append') return append;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, control };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

async function memoryStore(): Promise<MemoryLogStore> {
  const store = new MemoryLogStore();
  await store.open();
  return store;
}

let sharedSigner: AuditSigner | null = null;
async function signer(): Promise<AuditSigner> {
  sharedSigner ??= await testSigner();
  return sharedSigner;
}

async function openLog(store: LogStore, overrides: Partial<AuditLogOptions> = {}): Promise<AuditLog> {
  return AuditLog.open({
    store,
    signer: await signer(),
    source: SOURCE,
    checkpointEvents: 1000,
    checkpointIntervalMs: 60_000,
    retentionMs: null,
    retentionBytes: null,
    segmentBytes: 1024 * 1024,
    maxPendingEvents: 10_000,
    retryMs: 10,
    ...overrides,
  });
}

async function exported(store: LogStore): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of exportAuditLog(store)) lines.push(line);
  return lines;
}

async function verifyStore(store: LogStore) {
  return verifyAuditLog(await exported(store), { publicKeys: [(await signer()).publicKey] });
}

async function checkpointCounts(store: LogStore): Promise<number[]> {
  const counts: number[] = [];
  for (const line of await exported(store)) {
    if (!line.startsWith('{"specversion"')) continue; // the malformed records some tests write
    const record = JSON.parse(line) as { type: string; data: { count: number } };
    if (record.type === AUDIT_CHECKPOINT_TYPE) counts.push(record.data.count);
  }
  return counts;
}

describe('AuditLog: group commit', () => {
  it('writes concurrent appends in groups, resolving each once it is stored', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const log = await openLog(store);
    const stored: boolean[] = [];
    const events = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        log.append(input(i)).then((event) => {
          stored.push(control.landedRecords >= event.sealbusseq + 1);
          return event;
        }),
      ),
    );
    expect(events.map((event) => event.sealbusseq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(events.every((event) => event.source === SOURCE)).toBe(true);
    expect(stored.every(Boolean)).toBe(true);
    expect(control.appends).toBeGreaterThan(1);
    expect(control.appends).toBeLessThan(50);
    expect(log.stats()).toMatchObject({ written: 500, pending: 0, available: true, head: { count: 500 } });
    await log.close();
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 500, unsignedTail: 0, problems: [] });
  });

  it('writes the next group while the one before waits for its fsync, and resolves them in order', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const log = await openLog(store);
    const fsync = deferred();
    control.hold = fsync.promise;
    const settled: number[] = [];
    const first = log.append(input(0)).then((event) => settled.push(event.sealbusseq));
    await waitFor(() => control.appends === 1, 'the first group reached the store');
    const second = log.append(input(1)).then((event) => settled.push(event.sealbusseq));
    // Placed, not yet durable: the second group goes to the store without waiting for the first.
    await waitFor(() => control.appends === 2 && control.landedRecords === 2, 'the second group reached the store');
    expect(settled).toEqual([]);
    expect(log.stats()).toMatchObject({ written: 0, pending: 2, head: { count: 0 } });
    control.hold = null;
    fsync.resolve();
    await Promise.all([first, second]);
    expect(settled).toEqual([0, 1]);
    expect(log.stats()).toMatchObject({ written: 2, pending: 0, head: { count: 2 } });
    await log.close();
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 2, unsignedTail: 0, problems: [] });
  });

  it('creates the topic with one partition, fsync always and the configured retention', async () => {
    const store = await memoryStore();
    const log = await openLog(store, { retentionMs: 86_400_000, retentionBytes: 1 << 30, segmentBytes: 65_536 });
    const { config, partitions } = await store.describeTopic(AUDIT_TOPIC);
    expect(partitions).toHaveLength(1);
    expect(config).toMatchObject({ fsync: { mode: 'always' }, retentionMs: 86_400_000, retentionBytes: 1 << 30, segmentBytes: 65_536, maxRecordBytes: 65_536 });
    await log.close();
  });

  it('opens twice at once on one store: the second creator uses the topic the first made', async () => {
    const store = await memoryStore();
    const logs = await Promise.all([openLog(store), openLog(store)]);
    expect((await store.listTopics()).map((topic) => topic.name)).toEqual([AUDIT_TOPIC]);
    await Promise.all(logs.map((log) => log.close()));
  });
});

describe('AuditLog: checkpoints', () => {
  it('signs a checkpoint right after every N events, and a final one on close', async () => {
    const store = await memoryStore();
    const log = await openLog(store, { checkpointEvents: 10 });
    await Promise.all(Array.from({ length: 35 }, (_, i) => log.append(input(i))));
    await log.close();
    expect(await checkpointCounts(store)).toEqual([10, 20, 30, 35]);
    expect(log.stats().checkpoints).toBe(4);
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 35, checkpoints: 4, unsignedTail: 0 });
  });

  it('signs unsigned events on the interval timer', async () => {
    const store = await memoryStore();
    const log = await openLog(store, { checkpointIntervalMs: 20 });
    await Promise.all([0, 1, 2].map((i) => log.append(input(i))));
    await waitFor(() => log.stats().checkpoints >= 1, 'the timer wrote a checkpoint');
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 3, unsignedTail: 0, lastCheckpoint: { count: 3 } });
    await log.close();
    expect(log.stats().checkpoints).toBe(1);
  });

  it('checkpoint() signs what is unsigned now, and returns null when nothing is', async () => {
    const store = await memoryStore();
    const log = await openLog(store);
    expect(await log.checkpoint()).toBeNull();
    const [, second] = await Promise.all([log.append(input(0)), log.append(input(1))]);
    const checkpoint = await log.checkpoint();
    expect(checkpoint).toMatchObject({ type: AUDIT_CHECKPOINT_TYPE, source: SOURCE, data: { count: 2 } });
    expect(checkpoint?.data.headHash).toBe(log.stats().head.headHash);
    expect(second.sealbusseq).toBe(1);
    expect(await log.checkpoint()).toBeNull();
    await log.close();
    expect(await checkpointCounts(store)).toEqual([2]);
  });
});

describe('AuditLog: resuming the chain', () => {
  it('continues the sequence after a reopen, and the log of both runs verifies', async () => {
    const store = await memoryStore();
    const first = await openLog(store);
    await Promise.all([0, 1, 2, 3, 4].map((i) => first.append(input(i))));
    await first.close();
    const second = await openLog(store);
    expect(second.stats().head).toEqual(first.stats().head);
    const event = await second.append(input(5));
    expect(event.sealbusseq).toBe(5);
    await second.close();
    // The first run ended signed: the second needs only the one checkpoint covering its event.
    expect(await checkpointCounts(store)).toEqual([5, 6]);
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 6, unsignedTail: 0, problems: [] });
  });

  it('resumes after an unsigned tail and a malformed last record, and signs the tail with its first event', async () => {
    const store = await memoryStore();
    await openLog(store).then((log) => log.close());
    const chain = new AuditChain();
    const environment = testEnvironment();
    const tail = [0, 1, 2].map((i) => ({ value: Buffer.from(JSON.stringify(chain.append(buildEvent(sampleInput(i), environment)))) }));
    await store.append(AUDIT_TOPIC, 0, { records: encodeRecords(tail) });
    await store.append(AUDIT_TOPIC, 0, { records: encodeRecords([{ value: Buffer.from('{"torn":') }]) });
    const log = await openLog(store, { checkpointEvents: 50 });
    expect(log.stats().head).toEqual(chain.head());
    expect((await log.append(input(3))).sealbusseq).toBe(3);
    expect(await checkpointCounts(store)).toEqual([4]);
    await log.close();
    const report = await verifyStore(store);
    expect(report).toMatchObject({ events: 4, unsignedTail: 0 });
    expect(report.problems).toEqual([{ position: 3, seq: null, kind: 'malformed', detail: 'the line is not JSON' }]);
  });

  it('does not take the head from a checkpoint another key signed', async () => {
    const store = await memoryStore();
    const log = await openLog(store);
    await Promise.all([0, 1].map((i) => log.append(input(i))));
    await log.close();
    const forged = (await testSigner()).sign({ count: 7, headHash: 'f'.repeat(64), source: SOURCE });
    await store.append(AUDIT_TOPIC, 0, { records: encodeRecords([{ value: Buffer.from(JSON.stringify(forged)) }]) });
    const reopened = await openLog(store);
    expect(reopened.stats().head).toEqual(log.stats().head);
    expect((await reopened.append(input(2))).sealbusseq).toBe(2);
    await reopened.close();
  });
});

describe('AuditLog: refusals', () => {
  it('rejects an invalid event at once with SEALBUS_ERR_AUDIT_INVALID and writes nothing', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const log = await openLog(store);
    const unknownType = await rejectionOf(log.append({ type: 'sealbus.nope' as never }));
    expect(unknownType.code).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(unknownType.message).toContain('is not an audit event type');
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl';
    expect(await codeOf(log.append({ type: 'sealbus.auth.failure', data: { code: 'X', reason: `bad ${token}` } }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(await codeOf(log.append({ type: 'sealbus.authz.decision', data: { principal: 'user:a' } }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(control.appends).toBe(0);
    expect(log.stats()).toMatchObject({ written: 0, pending: 0, head: { count: 0 } });
    expect((await log.append(input(0))).sealbusseq).toBe(0);
    await log.close();
  });

  it('refuses an append beyond maxPendingEvents without stopping the log', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const log = await openLog(store, { maxPendingEvents: 3 });
    const gate = deferred();
    control.gate = gate.promise;
    const accepted = [0, 1, 2, 3].map((i) => log.append(input(i)));
    const refused = await rejectionOf(log.append(input(4)));
    expect(refused.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(refused.message).toBe('The audit log cannot be written: the audit log is behind by 3 events; the operation was refused');
    expect(log.available).toBe(true);
    expect(log.stats().pending).toBe(4);
    control.gate = null;
    gate.resolve();
    expect((await Promise.all(accepted)).map((event) => event.sealbusseq)).toEqual([0, 1, 2, 3]);
    await log.close();
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 4 });
  });

  it('refuses appends and checkpoints once closed', async () => {
    const store = await memoryStore();
    const log = await openLog(store);
    const appended = Array.from({ length: 50 }, (_, i) => log.append(input(i)));
    const closing = log.close();
    expect(log.close()).toBe(closing);
    await closing;
    expect(await Promise.all(appended)).toHaveLength(50);
    const refused = await rejectionOf(log.append(input(50)));
    expect(refused.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(refused.message).toContain('the audit log is closed');
    expect(await codeOf(log.checkpoint())).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 50, unsignedTail: 0 });
  });

  it('checks its options when opened', async () => {
    const store = await memoryStore();
    await expect(openLog(store, { checkpointEvents: 0 })).rejects.toThrow(RangeError);
    await expect(openLog(store, { maxPendingEvents: 1.5 })).rejects.toThrow(RangeError);
    expect(await codeOf(openLog(store, { source: 'not a uri' }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
  });
});

describe('AuditLog: a failing store', () => {
  it('stops on a failed write, refuses everything queued, and resumes once the store heals', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const changes: [boolean, string | null][] = [];
    const log = await openLog(store, { onAvailabilityChange: (available, reason) => changes.push([available, reason]) });
    await log.append(input(0));
    const failure = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    const gate = deferred();
    control.gate = gate.promise;
    control.fail = failure;
    const inFlight = log.append(input(1));
    const queued = [2, 3, 4].map((i) => log.append(input(i)));
    gate.resolve();
    const refused = await rejectionOf(inFlight);
    expect(refused.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(refused.message).toBe('The audit log cannot be written: ENOSPC: no space left on device; the operation was refused');
    expect(refused.cause).toBe(failure);
    for (const promise of queued) expect(await codeOf(promise)).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(log.available).toBe(false);
    expect(log.unavailableReason).toBe('ENOSPC: no space left on device');
    expect(changes).toEqual([[false, 'ENOSPC: no space left on device']]);

    // Stopped: refused at once, without touching the store.
    control.gate = null;
    const attempts = control.appends;
    expect(await codeOf(log.append(input(5)))).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await codeOf(log.checkpoint())).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    await waitFor(() => control.appends > attempts + 1, 'the log retried');
    expect(log.available).toBe(false);

    control.fail = null;
    await waitFor(() => log.available, 'the log resumed');
    expect(changes).toEqual([
      [false, 'ENOSPC: no space left on device'],
      [true, null],
    ]);
    expect(log.unavailableReason).toBeNull();
    expect((await log.append(input(6))).sealbusseq).toBe(1);
    expect(log.stats().failedWrites).toBeGreaterThanOrEqual(2);
    await log.close();
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 2, unsignedTail: 0, problems: [] });
  });

  it('continues after events whose write failed but landed', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const log = await openLog(store);
    control.fail = new Error('EIO: fsync failed');
    control.land = true;
    // The first is written alone and lands; the two queued behind it are refused unwritten.
    const refused = await Promise.all([0, 1, 2].map((i) => codeOf(log.append(input(i)))));
    expect(refused).toEqual(Array(3).fill('SEALBUS_ERR_AUDIT_UNAVAILABLE'));
    expect(control.landedRecords).toBe(1);
    control.fail = null;
    await waitFor(() => log.available, 'the log resumed');
    // The event is in the store: the chain goes on after it rather than forking at seq 0.
    expect(log.stats().head.count).toBe(1);
    expect((await log.append(input(3))).sealbusseq).toBe(1);
    await log.close();
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 2, unsignedTail: 0, problems: [] });
  });

  it('refuses every group placed behind a failed fsync, stops once, and continues after what landed', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const changes: [boolean, string | null][] = [];
    const log = await openLog(store, { onAvailabilityChange: (available, reason) => changes.push([available, reason]) });
    const fsync = deferred();
    control.hold = fsync.promise;
    const first = log.append(input(0));
    await waitFor(() => control.appends === 1, 'the first group reached the store');
    const second = log.append(input(1));
    await waitFor(() => control.appends === 2, 'the second group reached the store');
    control.fail = new Error('EIO: fsync failed');
    control.hold = null;
    fsync.resolve();
    expect(await codeOf(first)).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await codeOf(second)).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(changes).toEqual([[false, 'EIO: fsync failed']]);
    expect(log.stats().failedWrites).toBe(2);
    control.fail = null;
    await waitFor(() => log.available, 'the log resumed');
    // Both landed before their fsync failed: the chain goes on after them.
    expect((await log.append(input(2))).sealbusseq).toBe(2);
    await log.close();
    expect(await verifyStore(store)).toMatchObject({ ok: true, events: 3, unsignedTail: 0, problems: [] });
  });

  it('fails close when the final checkpoint cannot be written', async () => {
    const { store, control } = controlledStore(await memoryStore());
    const log = await openLog(store);
    await log.append(input(0));
    control.fail = new Error('EIO');
    const err = await rejectionOf(log.close());
    expect(err.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await codeOf(log.append(input(1)))).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
  });
});
