/**
 * Produce with the audit log fail-closed and one event per batch (the defaults), on the real file
 * store and the real audit log (on the same store, as in a broker): the batch's data event is
 * written while the log's fsync runs, not after it, and the reply still waits for both.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, exportAuditLog } from '../../src/audit/index.js';
import { Broker, type Actor, type Authorizer } from '../../src/broker/index.js';
import { AuditTrail, type DataAccessDetail } from '../../src/broker/audit-trail.js';
import type { FileLogStore } from '../../src/log/file/file-log-store.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import type { AppendResult } from '../../src/log/types.js';
import { testSigner } from '../audit/helpers.js';
import { rejectionOf } from '../helpers/error-code.js';
import { waitFor } from '../helpers/wait-for.js';
import { FaultyFileSystem, fsError } from '../log/helpers/faulty-fs.js';
import { openFileStore } from '../log/helpers/file-store.js';
import { makeTempDir } from '../log/helpers/log-test-kit.js';

const allowAll: Authorizer = { authorize: () => ({ allowed: true, rule: 'allow-all' }) };

const alice: Actor = {
  name: 'user:alice',
  certificate: { spiffeId: null, subject: 'CN=alice', fingerprint256: 'thumb-alice' },
  token: { groups: [], scopes: null, bound: true, jti: 'jti-1' },
  sourceIp: '10.0.0.7',
  sessionId: 'conn-1',
};

const twoRecords = () => encodeRecords([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);

type Event = Record<string, any>;

const gates: (() => void)[] = [];

/** A gate a file-system call waits on until the test opens it (afterEach opens any left shut). */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  gates.push(open);
  return { wait, open };
}

describe('produce with fail-closed batch auditing on the file store', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let faulty: FaultyFileSystem;
  let store: FileLogStore;
  let log: AuditLog;
  let broker: Broker;
  /** What setup() opened, closed after each test in reverse order. */
  const closers: (() => Promise<void> | void)[] = [];
  let unhandled: unknown[];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  /** Whether an fd is a segment of the audit topic, or of a data topic. */
  const pathOf = (args: unknown[]) => String(faulty.paths.get(args[0] as number) ?? '');
  const isAuditLog = (args: unknown[]) => pathOf(args).includes('__sealbus.audit') && pathOf(args).endsWith('.log');
  const isDataLog = (args: unknown[]) => pathOf(args).includes('/topics/orders/') && pathOf(args).endsWith('.log');

  async function setup(options: { failMode?: 'closed' | 'open'; dataAccess?: DataAccessDetail; wal?: boolean } = {}): Promise<void> {
    // Each segment fdatasyncs on its own unless a test asks for the WAL: most here hold and fail those fdatasyncs one at a time.
    ({ store } = await openFileStore(temp.dir, { fs: faulty.fs, wal: options.wal ?? false }));
    const opened = store;
    closers.push(() => opened.close());
    log = await AuditLog.open({
      store,
      signer: await testSigner(),
      source: 'sealbus://broker-1',
      checkpointEvents: 10_000,
      checkpointIntervalMs: 3_600_000,
      maxPendingEvents: 1000,
      retentionMs: null,
      retentionBytes: null,
      segmentBytes: 1 << 20,
    });
    const audit = log;
    closers.push(() => audit.close().catch(() => undefined));
    const trail = new AuditTrail({ sink: log, failMode: options.failMode ?? 'closed', dataAccess: options.dataAccess ?? 'batch' });
    broker = new Broker({
      store,
      authorizer: allowAll,
      audit: trail,
      limits: { maxRecordsPerBatch: 1000, maxBatchBytes: 1 << 20, fetchMaxBytes: 1 << 20, longPollMaxMs: 1000 },
    });
    const started = broker;
    closers.push(() => started.close());
    await broker.createTopic(alice, { name: 'orders', partitions: 1 });
  }

  /** The durable events of the audit log (what a reader of the store sees), checkpoints left out. */
  async function durableEvents(type = 'sealbus.data.produce'): Promise<Event[]> {
    const events: Event[] = [];
    for await (const line of exportAuditLog(store)) {
      const record = JSON.parse(line) as Event;
      if (record['type'] === type) events.push(record);
    }
    return events;
  }

  const highWatermark = async () => (await store.describeTopic('orders')).partitions[0]!.highWatermark;

  beforeEach(async () => {
    temp = await makeTempDir();
    faulty = new FaultyFileSystem();
    unhandled = [];
    process.on('unhandledRejection', onUnhandled);
  });

  afterEach(async () => {
    faulty.before = () => undefined;
    for (const open of gates.splice(0)) open();
    for (const close of closers.splice(0).reverse()) await close();
    await temp.remove();
    process.off('unhandledRejection', onUnhandled);
  });

  it('writes the data event while the log fsync runs, and answers only once both are durable', async () => {
    await setup();
    const logSync = gate();
    let logSyncHeld = false;
    faulty.before = async (op, _file, args) => {
      if (op === 'fdatasync' && isDataLog(args)) {
        logSyncHeld = true;
        await logSync.wait;
      }
      return undefined;
    };
    let answer: AppendResult | null = null;
    const produced = broker.produceBatch(alice, 'orders', 0, twoRecords()).then((result) => (answer = result));
    // The log's fsync is held: the event is nonetheless written, made durable and readable.
    await waitFor(async () => (await durableEvents()).length === 1, 'the data event is durable while the log fsync is held');
    expect(logSyncHeld).toBe(true);
    expect(await highWatermark()).toBe(0);
    expect(answer).toBeNull();
    logSync.open();
    await produced;
    expect(answer).toMatchObject({ baseOffset: 0, count: 2, duplicate: false });
    expect(await highWatermark()).toBe(2);
    expect(unhandled).toEqual([]);
  });

  it('with the store WAL, the batch and its event become durable in one fdatasync, and no segment is fdatasync’d', async () => {
    await setup({ wal: true });
    const walSyncs = faulty.count('fdatasync', '.wal');
    const logSyncs = faulty.count('fdatasync', '.log');
    const result = await broker.produceBatch(alice, 'orders', 0, twoRecords());
    expect(result).toMatchObject({ baseOffset: 0, count: 2 });
    expect(faulty.count('fdatasync', '.wal') - walSyncs).toBe(1);
    expect(faulty.count('fdatasync', '.log') - logSyncs).toBe(0);
    expect(await durableEvents()).toHaveLength(1);
    expect(await highWatermark()).toBe(2);
  });

  it('does not answer before the event is durable, even once the log fsync is done', async () => {
    await setup();
    const auditSync = gate();
    let auditSyncHeld = false;
    faulty.before = async (op, _file, args) => {
      if (op === 'fdatasync' && isAuditLog(args)) {
        auditSyncHeld = true;
        await auditSync.wait;
      }
      return undefined;
    };
    let answered = false;
    const produced = broker.produceBatch(alice, 'orders', 0, twoRecords()).then(() => (answered = true));
    await waitFor(async () => auditSyncHeld && (await highWatermark()) === 2, 'the batch is durable in the log and the event fsync is held');
    expect(answered).toBe(false);
    expect(await durableEvents()).toHaveLength(0);
    auditSync.open();
    await produced;
    expect(await durableEvents()).toHaveLength(1);
  });

  it('a log fsync that fails after the event was started fails the produce with the store error; the event records the attempt; nothing goes unhandled', async () => {
    await setup();
    let failed = false;
    faulty.before = async (op, _file, args) => {
      if (op !== 'fdatasync' || !isDataLog(args) || failed) return undefined;
      failed = true;
      // Fails only once the event of the batch is durable: the failure comes after the early start.
      await waitFor(async () => (await durableEvents()).length === 1, 'the data event is durable');
      throw fsError('EIO');
    };
    const error = await rejectionOf(broker.produceBatch(alice, 'orders', 0, twoRecords()));
    expect(error.code).toBe('SEALBUS_ERR_STORAGE_IO');
    const [event] = await durableEvents();
    expect(event!['data']).toMatchObject({ partition: 0, records: 2, firstOffset: 0, lastOffset: 1 });
    // As before this change: the partition is read-only, nothing was acknowledged.
    expect((await rejectionOf(broker.produceBatch(alice, 'orders', 0, twoRecords()))).code).toBe('SEALBUS_ERR_PARTITION_READ_ONLY');
    expect(await highWatermark()).toBe(0);
    expect(log.available).toBe(true);
    // Let any stray rejection surface before looking.
    await log.checkpoint();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  it('an event that cannot be written while the log fsync runs fails the produce with AUDIT_UNAVAILABLE; the batch is stored, as on the sequential path', async () => {
    await setup();
    const logSync = gate();
    faulty.before = async (op, _file, args) => {
      if (op === 'writev' && isAuditLog(args)) throw fsError('ENOSPC');
      if (op === 'fdatasync' && isDataLog(args)) await logSync.wait;
      return undefined;
    };
    let settled = false;
    const produced = rejectionOf(broker.produceBatch(alice, 'orders', 0, twoRecords())).finally(() => (settled = true));
    await waitFor(() => !log.available, 'the audit log stops');
    expect(settled).toBe(false);
    logSync.open();
    expect((await produced).code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await highWatermark()).toBe(2);
    // Refused up front from then on, as before.
    expect((await rejectionOf(broker.produceBatch(alice, 'orders', 0, twoRecords()))).code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await highWatermark()).toBe(2);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  it('records the same event as before: who, rule, partition, counts and offsets, for WebSocket batches, HTTP records and an idempotent retry', async () => {
    await setup();
    const { producerId, epoch } = await broker.initProducer(alice, null);
    const first = await broker.produceBatch(alice, 'orders', 0, twoRecords(), { producerId, epoch, baseSequence: 0 });
    const placed = await broker.produceRecords(alice, 'orders', [{ value: Buffer.from('c'), partition: 0 }]);
    // A retry of the first batch: not placed again, recorded (after the append) with the original offsets.
    const retry = await broker.produceBatch(alice, 'orders', 0, twoRecords(), { producerId, epoch, baseSequence: 0 });
    expect([first.baseOffset, placed[0]!.offset, retry.duplicate, retry.baseOffset]).toEqual([0, 2, true, 0]);
    const events = await durableEvents();
    const common = {
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
    };
    const httpBytes = encodeRecords([{ value: Buffer.from('c') }]).bytes.length;
    expect(events.map((event) => [event['subject'], event['data']])).toEqual([
      ['topic:orders', { ...common, records: 2, bytes: twoRecords().bytes.length, firstOffset: 0, lastOffset: 1 }],
      ['topic:orders', { ...common, records: 1, bytes: httpBytes, firstOffset: 2, lastOffset: 2 }],
      ['topic:orders', { ...common, records: 2, bytes: twoRecords().bytes.length, firstOffset: 0, lastOffset: 1 }],
    ]);
  });

  it.each([{ failMode: 'open' as const }, { dataAccess: 'session' as const }])('with %o the produce is answered after the log fsync alone, as before', async (options) => {
    await setup(options);
    const auditSync = gate();
    faulty.before = async (op, _file, args) => {
      if (op === 'fdatasync' && isAuditLog(args)) await auditSync.wait;
      return undefined;
    };
    // The batch is produced, and answered, while every audit fsync is held.
    const result = await broker.produceBatch(alice, 'orders', 0, twoRecords());
    expect(result.baseOffset).toBe(0);
    auditSync.open();
  });
});
