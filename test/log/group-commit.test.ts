import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlacedBatch } from '../../src/log/types.js';
import { FaultyFileSystem, fsError } from './helpers/faulty-fs.js';
import { openFileStore } from './helpers/file-store.js';
import { eventually, expectCode, makeTempDir, readAll, values } from './helpers/log-test-kit.js';

/** Holds matching fdatasync calls until released. */
function gateSyncs(faulty: FaultyFileSystem, matches: (file: string, calls: number) => boolean) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  faulty.before = async (op, file) => {
    if (op !== 'fdatasync') return undefined;
    calls++;
    if (matches(file, calls)) await gate;
    return undefined;
  };
  return { release };
}

describe('group commit and fsync policies', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let faulty: FaultyFileSystem;
  beforeEach(async () => {
    temp = await makeTempDir();
    faulty = new FaultyFileSystem();
  });
  afterEach(async () => {
    await temp.remove();
  });

  // These tests hold each segment's own fdatasync: the store's WAL, which takes small groups, is off (store-wal.test.ts).
  it('acknowledges nothing before its fsync, and one fsync covers every append written while another ran', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs, wal: false });
    await store.createTopic('t', { partitions: 1 });
    const syncsBefore = faulty.count('fdatasync', '.log');
    const { release } = gateSyncs(faulty, (file, calls) => file.endsWith('.log') && calls === 1);
    const acked: number[] = [];
    const appends = Array.from({ length: 64 }, (_, i) => store.append('t', 0, { records: values(`n${i}`, 1) }).then((r) => acked.push(r.baseOffset)));
    await eventually(() => faulty.count('writev', '.log') >= 2);
    expect(acked).toEqual([]);
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(0);
    release();
    await Promise.all(appends);
    expect(acked).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(faulty.count('fdatasync', '.log') - syncsBefore).toBe(2);
    expect((await readAll(store, 't', 0)).get(63)).toBe('n63-0');
    await store.close();
  });

  it('lets partitions fsync independently', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs, wal: false });
    await store.createTopic('t', { partitions: 2 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Partition 0's fsync hangs; partition 1 must not wait for it.
    faulty.before = async (op, _file, args) => {
      if (op === 'fdatasync' && String(faulty.paths.get(args[0] as number)).includes('/topics/t/0/')) await gate;
      return undefined;
    };
    let slowDone = false;
    const slow = store.append('t', 0, { records: values('slow', 1) }).then(() => (slowDone = true));
    await store.append('t', 1, { records: values('fast', 1) });
    expect(slowDone).toBe(false);
    open();
    await slow;
    await store.close();
  });

  it('under the interval policy acknowledges at write time and fsyncs on the timer', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1, fsync: { mode: 'interval', intervalMs: 5 } });
    const { release } = gateSyncs(faulty, (file) => file.endsWith('.log'));
    const result = await store.append('t', 0, { records: values('fast', 2) });
    expect(result.baseOffset).toBe(0);
    expect([...(await readAll(store, 't', 0)).values()]).toEqual(['fast-0', 'fast-1']);
    await eventually(() => faulty.count('fdatasync', '.log') >= 1);
    release();
    await store.close();
    const again = await openFileStore(temp.dir);
    expect((await again.store.describeTopic('t')).partitions[0]!.highWatermark).toBe(2);
    await again.store.close();
  });

  it('tells an append its offsets (onPlaced) once they are final, before its fsync completes; never a duplicate, never a failed write', async () => {
    const { store } = await openFileStore(temp.dir, { fs: faulty.fs });
    await store.createTopic('t', { partitions: 1 });
    const producer = await store.initProducer('p');
    const placed: [string, PlacedBatch][] = [];
    const onPlaced = (tag: string) => (batch: PlacedBatch) => void placed.push([tag, batch]);
    const { release } = gateSyncs(faulty, (file) => file.endsWith('.log'));
    let acked = false;
    const first = store.append('t', 0, { records: values('a', 2), producer: { ...producer, baseSequence: 0 }, onPlaced: onPlaced('a') }).then((r) => {
      acked = true;
      return r;
    });
    const second = store.append('t', 0, { records: values('b', 1), onPlaced: onPlaced('b') });
    // A retry of the first while it is in flight: answered with it, never placed.
    const retry = store.append('t', 0, { records: values('a', 2), producer: { ...producer, baseSequence: 0 }, onPlaced: onPlaced('retry') });
    await eventually(() => placed.length === 2);
    expect(acked).toBe(false);
    expect(placed.map(([tag, batch]) => [tag, batch.baseOffset, batch.count])).toEqual([
      ['a', 0, 2],
      ['b', 2, 1],
    ]);
    release();
    const results = await Promise.all([first, second, retry]);
    expect(results.map((r) => ({ baseOffset: r.baseOffset, count: r.count, timestamp: r.timestamp }))).toEqual([placed[0]![1], placed[1]![1], placed[0]![1]]);
    expect(results[2]!.duplicate).toBe(true);
    // A retry of a stored batch: not placed either.
    await store.append('t', 0, { records: values('a', 2), producer: { ...producer, baseSequence: 0 }, onPlaced: onPlaced('late retry') });
    // A write that fails (disk full) gives its offsets back: it is never placed.
    faulty.before = (op, file) => {
      if (op === 'writev' && file.endsWith('.log')) throw fsError('ENOSPC');
      return undefined;
    };
    await expectCode(store.append('t', 0, { records: values('c', 1), onPlaced: onPlaced('c') }), 'SEALBUS_ERR_STORAGE_FULL');
    faulty.before = () => undefined;
    // A hook that throws does not disturb the log.
    const next = await store.append('t', 0, {
      records: values('d', 1),
      onPlaced: () => {
        throw new Error('a misbehaving hook');
      },
    });
    expect(next.baseOffset).toBe(3);
    expect(placed.map(([tag]) => tag)).toEqual(['a', 'b']);
    await store.close();
  });
});
