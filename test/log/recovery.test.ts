import { appendFile, readFile, rename, rm, stat, truncate, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/log/record-batch.js';
import { openFileStore } from './helpers/file-store.js';
import { expectCode, makeTempDir, readAll, segmentBases, segmentPath, values } from './helpers/log-test-kit.js';

describe('file store recovery', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    temp = await makeTempDir();
  });
  afterEach(async () => {
    await temp.remove();
  });

  async function seed(batches: number, config: { segmentBytes?: number } = {}): Promise<void> {
    const { store } = await openFileStore(temp.dir);
    await store.createTopic('t', { partitions: 1, ...config });
    for (let i = 0; i < batches; i++) await store.append('t', 0, { records: values(`v${i}`, 2, 40) });
    await store.close();
  }

  it('cuts a torn tail written after the clean checkpoint, scanning only those bytes, and reuses no acknowledged offset', async () => {
    await seed(10);
    const path = segmentPath(temp.dir, 't', 0, 0);
    const cleanSize = (await stat(path)).size;
    const torn = encodeBatch({ baseOffset: 20, timestamp: Date.now() }, values('torn', 3)).subarray(0, 70);
    await appendFile(path, torn);

    const { store, report } = await openFileStore(temp.dir);
    expect(report.scannedBytes).toBe(70);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'torn-tail', topic: 't', partition: 0, segment: '00000000000000000000.log', position: cleanSize, bytes: 70, fromOffset: 20, toOffset: 22 }),
    ]);
    expect((await stat(path)).size).toBe(cleanSize);
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(20);
    expect((await store.append('t', 0, { records: values('after', 1) })).baseOffset).toBe(20);
    const all = await readAll(store, 't', 0);
    expect([all.size, all.get(19), all.get(20)]).toEqual([21, 'v9-1', 'after-0']);
    await store.close();
  });

  it('without a checkpoint (a crash before any clean close) verifies every segment and cuts a zero-filled tail', async () => {
    await seed(40, { segmentBytes: 1024 });
    await rm(join(temp.dir, 'checkpoint.json'));
    const bases = await segmentBases(temp.dir, 't', 0);
    const last = segmentPath(temp.dir, 't', 0, bases.at(-1)!);
    await appendFile(last, Buffer.alloc(300));
    let total = 0;
    for (const base of bases) total += (await stat(segmentPath(temp.dir, 't', 0, base))).size;
    const { store, report } = await openFileStore(temp.dir);
    expect(report.scannedBytes).toBe(total);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'torn-tail', bytes: 300, fromOffset: 80, toOffset: null })]);
    expect((await readAll(store, 't', 0)).size).toBe(80);
    await store.close();
  });

  it('never reuses offsets a checkpoint vouched for, even when their bytes are gone (interval policy power loss)', async () => {
    await seed(10);
    const path = segmentPath(temp.dir, 't', 0, 0);
    const batchBytes = (await stat(path)).size / 10;
    await truncate(path, batchBytes * 8);
    const { store, report } = await openFileStore(temp.dir);
    expect(report.problems.filter((p) => p.kind === 'offset-gap').at(-1)).toMatchObject({ fromOffset: 16, toOffset: 19 });
    expect((await store.describeTopic('t')).partitions[0]!.highWatermark).toBe(20);
    expect(await store.read('t', 0, 16, { maxBytes: 100 })).toMatchObject({ batches: [], nextOffset: 20 });
    expect((await store.append('t', 0, { records: values('after', 1) })).baseOffset).toBe(20);
    const afterGap = await store.read('t', 0, 17, { maxBytes: 1000 });
    expect([afterGap.batches.length, afterGap.nextOffset]).toEqual([1, 21]);
    expect((await readAll(store, 't', 0)).size).toBe(17);
    await store.close();
  });

  it('rebuilds missing or damaged index files from the log and reports which', async () => {
    await seed(60, { segmentBytes: 2048 });
    const bases = await segmentBases(temp.dir, 't', 0);
    expect(bases.length).toBeGreaterThan(4);
    await rm(segmentPath(temp.dir, 't', 0, bases[0]!, 'index'));
    await rm(segmentPath(temp.dir, 't', 0, bases[1]!, 'timeindex'));
    await writeFile(segmentPath(temp.dir, 't', 0, bases[2]!, 'index'), Buffer.from('garbage!'));
    await truncate(segmentPath(temp.dir, 't', 0, bases[3]!, 'timeindex'), 5);

    const { store, report, late } = await openFileStore(temp.dir);
    const rebuilt = report.problems.filter((p) => p.kind === 'index-rebuilt').map((p) => p.segment);
    expect(rebuilt.sort()).toEqual(bases.slice(0, 4).map((base) => `${String(base).padStart(20, '0')}.log`));
    expect(report.problems.every((p) => p.kind === 'index-rebuilt')).toBe(true);
    const all = await readAll(store, 't', 0);
    expect(all.size).toBe(120);
    expect(all.get(77)).toBe('v38-1');
    expect(late).toEqual([]);
    expect((await stat(segmentPath(temp.dir, 't', 0, bases[0]!, 'index'))).size).toBeGreaterThanOrEqual(0);
    await store.close();
    const again = await openFileStore(temp.dir);
    expect(again.report.problems).toEqual([]);
    await again.store.close();
  });

  it('does not quarantine good data when an index entry points to the wrong place', async () => {
    await seed(400, { segmentBytes: 64 * 1024 });
    const indexPath = segmentPath(temp.dir, 't', 0, 0, 'index');
    const index = await readFile(indexPath);
    expect(index.length).toBeGreaterThanOrEqual(16);
    index.writeUInt32LE(index.readUInt32LE(4) + 8, 4);
    await writeFile(indexPath, index);
    const { store, late } = await openFileStore(temp.dir);
    const firstEntryOffset = index.readUInt32LE(0);
    const result = await store.read('t', 0, firstEntryOffset + 1, { maxBytes: 1 });
    expect(result.batches).toHaveLength(1);
    expect((await readAll(store, 't', 0)).size).toBe(800);
    expect(late).toEqual([]);
    await store.close();
  });

  it('finishes an interrupted retention delete and leaves a contiguous log', async () => {
    await seed(40, { segmentBytes: 1024 });
    const bases = await segmentBases(temp.dir, 't', 0);
    const oldest = segmentPath(temp.dir, 't', 0, bases[0]!);
    await rename(oldest, `${oldest}.deleted`);
    const { store, report } = await openFileStore(temp.dir);
    expect(report.problems.map((p) => p.kind).sort()).toEqual(['incomplete-delete', 'orphan-file', 'orphan-file']);
    const state = (await store.describeTopic('t')).partitions[0]!;
    expect([state.logStartOffset, state.highWatermark]).toEqual([bases[1], 80]);
    expect((await readAll(store, 't', 0)).size).toBe(80 - bases[1]!);
    await store.close();
  });

  it('finishes an interrupted topic deletion and removes an unfinished creation and temporary files', async () => {
    await seed(3);
    await mkdir(join(temp.dir, 'trash'), { recursive: true });
    await rename(join(temp.dir, 'topics', 't'), join(temp.dir, 'trash', 't.some-id'));
    await mkdir(join(temp.dir, 'topics', 'half', '0'), { recursive: true });
    await writeFile(join(temp.dir, 'checkpoint.json.tmp'), '{"half":');
    const { store, report } = await openFileStore(temp.dir);
    expect(report.problems.map((p) => [p.kind, p.segment])).toEqual([
      ['orphan-file', 'checkpoint.json.tmp'],
      ['incomplete-delete', 't.some-id'],
      ['orphan-file', 'half'],
    ]);
    expect(await store.listTopics()).toEqual([]);
    await store.createTopic('half', { partitions: 1 });
    await store.createTopic('t', { partitions: 1 });
    expect((await store.append('t', 0, { records: values('x', 1) })).baseOffset).toBe(0);
    await store.close();
  });

  it('refuses a data directory held by a live process and takes over one left by a dead process', async () => {
    const first = await openFileStore(temp.dir);
    const err = await expectCode(openFileStore(temp.dir), 'SEALBUS_ERR_STORE_LOCKED');
    expect(err.message).toContain(String(process.pid));
    await first.store.close();
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeFile(join(temp.dir, 'LOCK'), `${dead.stdout}\n`);
    const second = await openFileStore(temp.dir);
    await second.store.close();
  });
});
