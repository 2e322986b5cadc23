import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultyFileSystem, fsError } from './helpers/faulty-fs.js';
import { openFileStore } from './helpers/file-store.js';
import { eventually, expectCode, makeTempDir, readAll, segmentPath, values } from './helpers/log-test-kit.js';

describe('file store under file-system faults', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let faulty: FaultyFileSystem;
  beforeEach(async () => {
    temp = await makeTempDir();
    faulty = new FaultyFileSystem();
  });
  afterEach(async () => {
    await temp.remove();
  });

  it('fails an append with STORAGE_FULL on ENOSPC, leaves nothing of it on disk, and goes on once space is back', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1 });
    await store.append('t', 0, { records: values('a', 2) });
    const path = segmentPath(temp.dir, 't', 0, 0);
    const sizeBefore = (await stat(path)).size;
    // The disk fills up part-way through the write: half the bytes land, then ENOSPC.
    faulty.before = async (op, file, args) => {
      if (op !== 'writev' || !file.endsWith('.log')) return undefined;
      const [fd, buffers, position] = args as [number, Buffer[], number];
      const all = Buffer.concat(buffers);
      await faulty.real.writev(fd, [all.subarray(0, all.length >> 1)], position);
      throw fsError('ENOSPC');
    };
    const err = await expectCode(store.append('t', 0, { records: values('b', 3) }), 'SEALBUS_ERR_STORAGE_FULL');
    expect(err.retriable).toBe(true);
    expect((await stat(path)).size).toBe(sizeBefore);
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(2);
    faulty.before = () => undefined;
    expect((await store.append('t', 0, { records: values('c', 1) })).baseOffset).toBe(2);
    await store.close();
    const again = await openFileStore(temp.dir);
    expect(again.report.problems).toEqual([]);
    expect([...(await readAll(again.store, 't', 0)).values()]).toEqual(['a-0', 'a-1', 'c-0']);
    await again.store.close();
  });

  it('rolls back the producer sequence of a batch that could not be written', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1 });
    const producer = await store.initProducer('p');
    faulty.before = (op, file) => (op === 'writev' && file.endsWith('.log') ? Promise.reject(fsError('ENOSPC')) : undefined);
    await expectCode(store.append('t', 0, { records: values('a', 1), producer: { ...producer, baseSequence: 0 } }), 'SEALBUS_ERR_STORAGE_FULL');
    faulty.before = () => undefined;
    const retried = await store.append('t', 0, { records: values('a', 1), producer: { ...producer, baseSequence: 0 } });
    expect(retried).toMatchObject({ baseOffset: 0, duplicate: false });
    await store.close();
  });

  it('fails the append that needs a new segment when the disk is full, without leaving a stray file', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1, segmentBytes: 1024 });
    // Two 361-byte batches fit in a 1 KiB segment; the third needs a new one.
    for (let i = 0; i < 2; i++) await store.append('t', 0, { records: values(`a${i}`, 1, 300) });
    faulty.before = (op, file, args) => (op === 'open' && file.endsWith('.log') && args[1] === 'wx+' ? Promise.reject(fsError('ENOSPC')) : undefined);
    await expectCode(store.append('t', 0, { records: values('b', 1, 300) }), 'SEALBUS_ERR_STORAGE_FULL');
    expect((await readdir(join(temp.dir, 'topics', 't', '0'))).filter((name) => name.endsWith('.log'))).toHaveLength(1);
    faulty.before = () => undefined;
    expect((await store.append('t', 0, { records: values('b', 1, 300) })).baseOffset).toBe(2);
    expect((await store.describeTopic('t')).partitions[0]!.segments).toBe(2);
    await store.close();
  });

  it('turns a partition read-only after an fsync error and never acknowledges what that fsync covered', async () => {
    // The segment's own fdatasync fails: the store's WAL, which would take these small groups, is off.
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs, wal: false });
    await store.createTopic('t', { partitions: 2 });
    await store.append('t', 0, { records: values('kept', 1) });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let failNext = true;
    faulty.before = async (op, file) => {
      if (op !== 'fdatasync' || !file.endsWith('.log') || !failNext) return undefined;
      failNext = false;
      await gate;
      throw fsError('EIO');
    };
    const settled: string[] = [];
    const appends = Array.from({ length: 8 }, (_, i) =>
      store.append('t', 0, { records: values(`lost${i}`, 1) }).then(
        () => settled.push('acked'),
        (err: { code: string }) => settled.push(err.code),
      ),
    );
    // Every append is placed and written while the first fsync hangs.
    await eventually(() => faulty.count('writev', '.log') === 2 && faulty.count('fdatasync', '.log') === 1);
    release();
    await Promise.all(appends);
    expect(settled).toEqual(Array(8).fill('SEALBUS_ERR_STORAGE_IO'));
    await expectCode(store.append('t', 0, { records: values('later', 1) }), 'SEALBUS_ERR_PARTITION_READ_ONLY');
    const state = (await store.describeTopic('t')).partitions;
    expect([state[0]!.readOnly, state[0]!.highWatermark, state[1]!.readOnly]).toEqual([true, 1, false]);
    expect([...(await readAll(store, 't', 0)).values()]).toEqual(['kept-0']);
    expect((await store.append('t', 1, { records: values('other', 1) })).baseOffset).toBe(0);
    await store.close();
  });

  it('fails an offset commit whose journal fsync fails, and keeps the previous offset', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1 });
    await store.commitOffsets('g', [{ topic: 't', partition: 0, offset: 1, metadata: '' }]);
    faulty.before = (op, file) => (op === 'fdatasync' && file === 'offsets.journal' ? Promise.reject(fsError('EIO')) : undefined);
    await expectCode(store.commitOffsets('g', [{ topic: 't', partition: 0, offset: 2, metadata: '' }]), 'SEALBUS_ERR_STORAGE_IO');
    expect((await store.fetchOffsets('g')).map((o) => o.offset)).toEqual([1]);
    faulty.before = () => undefined;
    await expectCode(store.commitOffsets('g', [{ topic: 't', partition: 0, offset: 3, metadata: '' }]), 'SEALBUS_ERR_STORAGE_IO');
    await store.close();
  });

  it('reports a topic creation that hits a full disk and leaves no half-created topic', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    faulty.before = (op, file) => (op === 'writev' && file === 'topic.json.tmp' ? Promise.reject(fsError('ENOSPC')) : undefined);
    await expectCode(store.createTopic('t', { partitions: 2 }), 'SEALBUS_ERR_STORAGE_FULL');
    expect(await readdir(join(temp.dir, 'topics'))).toEqual([]);
    faulty.before = () => undefined;
    await store.createTopic('t', { partitions: 2 });
    await store.close();
  });
});
