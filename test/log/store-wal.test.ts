/**
 * The file store's write-ahead log (src/log/file/store-wal.ts): small appends of every partition
 * share one fdatasync of the WAL, and what is durable only there survives a power loss by being
 * written back into its segment at the next open. A power loss is modelled at the file-system seam:
 * a copy of the data directory keeps, of every file, only what its last fdatasync covered.
 */
import { existsSync } from 'node:fs';
import { open as openFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkLogDir } from '../../src/log/check.js';
import { encodeFrameHeader, encodeHeader, HEADER_SPACE } from '../../src/log/file/wal-format.js';
import { FaultyFileSystem, fsError } from './helpers/faulty-fs.js';
import { openFileStore } from './helpers/file-store.js';
import { eventually, expectCode, makeTempDir, readAll, values } from './helpers/log-test-kit.js';
import { PowerLossFileSystem } from './helpers/power-loss-fs.js';

describe('the store write-ahead log', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let power: PowerLossFileSystem;
  let dir: string;
  let copy: string;

  beforeEach(async () => {
    temp = await makeTempDir();
    dir = join(temp.dir, 'data');
    copy = join(temp.dir, 'after-power-loss');
    power = new PowerLossFileSystem();
  });
  afterEach(async () => {
    await temp.remove();
  });

  /** What each partition of `topic` holds after reopening the power-loss copy. */
  async function afterPowerLoss(topic: string, partitions: number) {
    const reopened = await openFileStore(copy);
    try {
      const held: string[][] = [];
      for (let p = 0; p < partitions; p++) held.push([...(await readAll(reopened.store, topic, p)).values()]);
      return { held, problems: reopened.report.problems };
    } finally {
      await reopened.store.close();
    }
  }

  /** A store on `power`'s file system seen through a FaultyFileSystem, with a topic `t` of one partition holding one record. */
  async function oneRecordStore() {
    const faulty = new FaultyFileSystem(power.fs);
    const { store } = await openFileStore(dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1 });
    await store.append('t', 0, { records: values('kept', 1) });
    return { faulty, store };
  }

  it('acknowledges appends to several partitions after one shared fdatasync, and none of their segments', async () => {
    const { store } = await openFileStore(dir, { fs: power.fs });
    await store.createTopic('t', { partitions: 3 });
    const walSyncs = power.syncCount('.wal');
    const logSyncs = power.syncCount('.log');
    const appends = Array.from({ length: 30 }, (_, i) => store.append('t', i % 3, { records: values(`r${i}`, 1) }));
    const results = await Promise.all(appends);
    expect(results.map((result) => result.baseOffset)).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 3)));
    expect(power.syncCount('.log') - logSyncs).toBe(0);
    expect(power.syncCount('.wal') - walSyncs).toBeGreaterThanOrEqual(1);
    expect(power.syncCount('.wal') - walSyncs).toBeLessThanOrEqual(3);
    // Acknowledged, yet a power loss now would take these segments' appends: only the WAL holds them.
    expect(power.dirtyFiles('.log')).toHaveLength(3);
    await store.close();
    // A clean close makes the segments durable.
    expect(power.dirtyFiles('.log')).toEqual([]);
  });

  it('lets a partition’s next group join the fdatasync its previous frame waits for, instead of waiting for that one to end', async () => {
    const { faulty, store } = await oneRecordStore();
    const walWrites = faulty.count('writev', '.wal');
    const walSyncs = faulty.count('fdatasync', '.wal');
    // Two groups of one partition, the second written while the first's frame waits (as a batch's
    // audit event follows the one before it into the audit partition).
    const results = await Promise.all([store.append('t', 0, { records: values('a', 1) }), store.append('t', 0, { records: values('b', 1) })]);
    expect(results.map((result) => result.baseOffset)).toEqual([1, 2]);
    expect(faulty.count('writev', '.wal') - walWrites).toBe(2);
    expect(faulty.count('fdatasync', '.wal') - walSyncs).toBe(1);
    await store.close();
  });

  it('acknowledges a partition’s groups in the order they were written, whichever sync ends first', async () => {
    const { faulty, store } = await oneRecordStore();
    // The WAL's fdatasync fails, so each frame falls back to the segment's own fdatasync: the
    // first of those is held until released, the second ends at once.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let segmentSyncs = 0;
    let secondDone = false;
    faulty.before = async (op, file, args) => {
      if (op !== 'fdatasync') return undefined;
      if (file.endsWith('.wal')) throw fsError('EIO');
      if (!file.endsWith('.log')) return undefined;
      segmentSyncs += 1;
      if (segmentSyncs === 1) return gate.then(() => undefined);
      await faulty.real.fdatasync(args[0] as number);
      secondDone = true;
      return null;
    };
    const acked: string[] = [];
    const appends = ['a', 'b'].map((name) => store.append('t', 0, { records: values(name, 1) }).then(() => acked.push(name)));
    await eventually(() => secondDone);
    // The second group is durable, the first not yet: neither is acknowledged or visible.
    expect(acked).toEqual([]);
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(1);
    release();
    await Promise.all(appends);
    expect(acked).toEqual(['a', 'b']);
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(3);
    await store.close();
  });

  it('never acknowledges a group once a sync before it failed, even when its own fdatasync then succeeded', async () => {
    const { faulty, store } = await oneRecordStore();
    // The WAL's fdatasync fails, so each frame falls back to the segment's own fdatasync: the
    // first of those fails too, the second succeeds.
    let segmentSyncs = 0;
    faulty.before = (op, file) => {
      if (op !== 'fdatasync') return undefined;
      if (file.endsWith('.wal')) return Promise.reject(fsError('EIO'));
      if (file.endsWith('.log') && ++segmentSyncs === 1) return Promise.reject(fsError('EIO'));
      return undefined;
    };
    const settled = await Promise.allSettled([store.append('t', 0, { records: values('a', 1) }), store.append('t', 0, { records: values('b', 1) })]);
    expect(segmentSyncs).toBe(2);
    expect(settled.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as { code: string }).code : 'acked'))).toEqual(['SEALBUS_ERR_STORAGE_IO', 'SEALBUS_ERR_STORAGE_IO']);
    await expectCode(store.append('t', 0, { records: values('later', 1) }), 'SEALBUS_ERR_PARTITION_READ_ONLY');
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(1);
    await store.close();
  });

  it('writes what only the WAL held back into the segments after a power loss', async () => {
    const { store } = await openFileStore(dir, { fs: power.fs });
    await store.createTopic('t', { partitions: 3 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.append('t', i % 3, { records: values(`r${i}`, 2) })));
    expect(power.dirtyFiles('.log')).toHaveLength(3);
    await power.copyAfterPowerLoss(dir, copy);
    // An offline check says that the WAL is in use (it does not replay it).
    const checked = await checkLogDir(copy);
    expect(checked.problems.filter((problem) => problem.kind === 'wal-replayed').map((problem) => problem.segment)).toEqual(['wal/0.wal']);
    const { held, problems } = await afterPowerLoss('t', 3);
    // Once opened, the WAL is written back and cleared.
    expect((await checkLogDir(copy)).problems).toEqual([]);
    for (let p = 0; p < 3; p++) {
      const expected = Array.from({ length: 10 }, (_, k) => [`r${p + 3 * k}-0`, `r${p + 3 * k}-1`]).flat();
      expect(held[p]).toEqual(expected);
    }
    const replayed = problems.filter((problem) => problem.kind === 'wal-replayed');
    expect(replayed).toHaveLength(1);
    // Every byte of the three segments came back from the WAL (several appends share a frame).
    const segmentBytes = (await store.describeTopic('t')).partitions.reduce((sum, partition) => sum + partition.sizeBytes, 0);
    expect(replayed[0]!.detail).toBe(`wrote ${replayed[0]!.detail.match(/^wrote (\d+)/)![1]} WAL frames (${segmentBytes} bytes) back into their segments after an unclean stop; 0 belonged to deleted segments or topics`);
    expect(replayed[0]!.bytes).toBe(segmentBytes);
    expect(problems.filter((problem) => problem.kind !== 'wal-replayed')).toEqual([]);
    await store.close();
  });

  it('never writes a deleted topic’s frames into a new topic of the same name', async () => {
    const { store } = await openFileStore(dir, { fs: power.fs });
    await store.createTopic('t', { partitions: 1 });
    await store.append('t', 0, { records: values('old-a', 1) });
    await store.append('t', 0, { records: values('old-b', 1) });
    await store.deleteTopic('t');
    await store.createTopic('t', { partitions: 1 });
    await store.append('t', 0, { records: values('new-a', 1) });
    await power.copyAfterPowerLoss(dir, copy);
    await store.close();

    const { held, problems } = await afterPowerLoss('t', 1);
    expect(held[0]).toEqual(['new-a-0']);
    expect(problems.find((problem) => problem.kind === 'wal-replayed')?.detail).toMatch(/; 2 belonged to deleted segments or topics$/);
  });

  it('recycles its two files as they fill, making the segments durable first, and loses nothing', async () => {
    // Files of 70 KiB: a few dozen appends of 1 KiB fill one.
    const { store } = await openFileStore(dir, { fs: power.fs, walFileBytes: 70 * 1024 });
    await store.createTopic('t', { partitions: 2 });
    const written: string[][] = [[], []];
    for (let wave = 0; wave < 12; wave++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const name = `w${wave}-${i}`;
          written[i % 2]!.push(name);
          return store.append('t', i % 2, { records: values(name, 1, 1000) });
        }),
      );
    }
    expect(power.syncCount('.log')).toBeGreaterThan(0);
    await power.copyAfterPowerLoss(dir, copy);
    await store.close();

    const { held } = await afterPowerLoss('t', 2);
    for (let p = 0; p < 2; p++) expect(held[p]).toEqual(written[p]!.map((name) => `${name}-0`));
  });

  it('falls back to each segment’s own fdatasync when the WAL’s fails, and loses nothing', async () => {
    const faulty = new FaultyFileSystem(power.fs);
    const { store } = await openFileStore(dir, { fs: faulty.fs });
    let failed = 0;
    faulty.before = (op, file) => {
      if (op === 'fdatasync' && file.endsWith('.wal') && failed === 0) {
        failed += 1;
        return Promise.reject(fsError('EIO'));
      }
      return undefined;
    };
    await store.createTopic('t', { partitions: 2 });
    const walSyncsBefore = faulty.count('fdatasync', '.wal');
    const first = await Promise.all([0, 1].map((p) => store.append('t', p, { records: values(`a${p}`, 1) })));
    expect(failed).toBe(1);
    expect(first.map((result) => result.baseOffset)).toEqual([0, 0]);
    // The WAL is not used again: the next appends fdatasync their segments.
    const logSyncs = faulty.count('fdatasync', '.log');
    await Promise.all([0, 1].map((p) => store.append('t', p, { records: values(`b${p}`, 1) })));
    expect(faulty.count('fdatasync', '.log')).toBeGreaterThan(logSyncs);
    expect(faulty.count('fdatasync', '.wal')).toBe(walSyncsBefore + 1);
    expect((await store.describeTopic('t')).partitions.map((partition) => partition.readOnly)).toEqual([false, false]);
    await power.copyAfterPowerLoss(dir, copy);
    await store.close();

    const { held } = await afterPowerLoss('t', 2);
    expect(held).toEqual([
      ['a0-0', 'b0-0'],
      ['a1-0', 'b1-0'],
    ]);
  });

  it('replays a hostile WAL file into nothing: a traversing topic name, another topic id, a frame whose CRC fails', async () => {
    const { store } = await openFileStore(dir);
    await store.createTopic('t', { partitions: 1 });
    await store.close();
    const topicId = (JSON.parse(await readFile(join(dir, 'topics', 't', 'topic.json'), 'utf8')) as { id: string }).id;
    const salt = 77;
    const frame = (topic: string, id: string, payload: Buffer): Buffer[] => {
      const place = { topic, topicId: id, partition: 0, segmentBase: 0, position: 0 };
      return [encodeFrameHeader(salt, place, Buffer.from(topic), [payload], payload.length), payload];
    };
    const traversing = frame('../../escape', topicId, Buffer.from('EVIL'));
    const otherIncarnation = frame('t', '00000000-0000-4000-8000-000000000000', Buffer.from('EVIL'));
    const corrupted = frame('t', topicId, Buffer.from('EVIL'));
    corrupted[0]!.writeUInt32BE((corrupted[0]!.readUInt32BE(0) ^ 1) >>> 0, 0);
    const handle = await openFile(join(dir, 'wal', '0.wal'), 'r+');
    await handle.write(encodeHeader(5, salt), 0, undefined, 0);
    await handle.writev([...traversing, ...otherIncarnation, ...corrupted], HEADER_SPACE);
    await handle.close();

    // Every path the store touches while replaying: none may come from the frame's topic name.
    const touched: string[] = [];
    const watching = new FaultyFileSystem();
    watching.before = (_op, _file, args) => {
      if (typeof args[0] === 'string') touched.push(args[0]);
      return undefined;
    };
    const reopened = await openFileStore(dir, { fs: watching.fs });
    expect(touched.filter((path) => path.includes('escape'))).toEqual([]);
    expect(reopened.report.problems.map((problem) => [problem.kind, problem.detail])).toEqual([
      ['wal-replayed', 'wrote 0 WAL frames (0 bytes) back into their segments after an unclean stop; 2 belonged to deleted segments or topics'],
    ]);
    expect(existsSync(join(temp.dir, 'escape'))).toBe(false);
    expect((await reopened.store.describeTopic('t')).partitions[0]!.sizeBytes).toBe(0);
    await reopened.store.close();
  });
});
