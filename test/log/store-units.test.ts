import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { SYNC_WRITE_BYTES, nodeFileSystem } from '../../src/log/file/fs-seam.js';
import { openLogStore } from '../../src/log/index.js';
import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { MAX_PRODUCER_EPOCH, ProducerRegistry } from '../../src/log/producer-registry.js';
import { segmentsToDelete } from '../../src/log/retention-policy.js';
import { expectCode, makeTempDir, values } from './helpers/log-test-kit.js';

describe('retention policy', () => {
  const segments = [
    { sizeBytes: 100, maxTimestamp: 1_000 },
    { sizeBytes: 100, maxTimestamp: 2_000 },
    { sizeBytes: 100, maxTimestamp: 3_000 },
  ];

  it('keeps everything when no limit is set', () => {
    expect(segmentsToDelete(segments, { retentionMs: null, retentionBytes: null }, 10 ** 9)).toBe(0);
  });

  it('deletes oldest first by age, never the active (last) segment', () => {
    expect(segmentsToDelete(segments, { retentionMs: 1_500, retentionBytes: null }, 3_400)).toBe(1);
    expect(segmentsToDelete(segments, { retentionMs: 1, retentionBytes: null }, 10 ** 9)).toBe(2);
  });

  it('deletes oldest first while the partition is larger than retentionBytes', () => {
    expect(segmentsToDelete(segments, { retentionMs: null, retentionBytes: 250 }, 0)).toBe(1);
    expect(segmentsToDelete(segments, { retentionMs: null, retentionBytes: 300 }, 0)).toBe(0);
    expect(segmentsToDelete(segments, { retentionMs: null, retentionBytes: 1 }, 0)).toBe(2);
  });
});

describe('producer registry', () => {
  it('moves a name that used up its epochs to a new id and fences the old id for good', () => {
    const registry = new ProducerRegistry();
    registry.apply({ name: 'p', producerId: 1, epoch: MAX_PRODUCER_EPOCH });
    const next = registry.next('p');
    expect(next).toEqual([
      { name: null, producerId: 1, epoch: MAX_PRODUCER_EPOCH + 1 },
      { name: 'p', producerId: 2, epoch: 0 },
    ]);
    for (const registration of next) registry.apply(registration);
    expect(() => registry.check({ producerId: 1, epoch: MAX_PRODUCER_EPOCH, baseSequence: 0 })).toThrow(
      expect.objectContaining({ code: 'SEALBUS_ERR_PRODUCER_FENCED' }),
    );
    expect(() => registry.check({ producerId: 2, epoch: 0, baseSequence: 0 })).not.toThrow();
  });
});

describe('openLogStore', () => {
  it('builds the backend named by kind', async () => {
    expect(openLogStore({ kind: 'memory' })).toBeInstanceOf(MemoryLogStore);
    const temp = await makeTempDir();
    try {
      const store = openLogStore({ kind: 'file', dir: temp.dir, retentionCheckMs: 0 });
      expect(store).toBeInstanceOf(FileLogStore);
      await store.open();
      await store.createTopic('t', { partitions: 1 });
      expect((await store.append('t', 0, { records: values('a', 1) })).baseOffset).toBe(0);
      await store.close();
    } finally {
      await temp.remove();
    }
  });

  it('refuses to work before open and after close', async () => {
    const store = new MemoryLogStore();
    await expectCode(store.listTopics(), 'SEALBUS_ERR_STORE_CLOSED');
    await store.open();
    await expectCode(store.open(), 'SEALBUS_ERR_STORE_CLOSED');
    await store.close();
    await expectCode(store.createTopic('t', { partitions: 1 }), 'SEALBUS_ERR_STORE_CLOSED');
  });
});

describe('the file system seam', () => {
  it('writes every byte at the position, small writes on this thread and large ones in the pool, and rejects (never throws) on a bad descriptor', async () => {
    const { dir, remove } = await makeTempDir();
    const fd = await nodeFileSystem.open(join(dir, 'f'), 'w');
    const small = [Buffer.from('head'), Buffer.alloc(1000, 1)];
    const large = [Buffer.alloc(SYNC_WRITE_BYTES, 2), Buffer.alloc(10, 3)];
    expect(await nodeFileSystem.writev(fd, small, 0)).toBe(1004);
    expect(await nodeFileSystem.writev(fd, large, 1004)).toBe(SYNC_WRITE_BYTES + 10);
    await nodeFileSystem.close(fd);
    expect(await readFile(join(dir, 'f'))).toEqual(Buffer.concat([...small, ...large]));
    for (const buffers of [small, large]) {
      let result: Promise<number> | undefined;
      expect(() => (result = nodeFileSystem.writev(fd, buffers, 0))).not.toThrow();
      await expect(result).rejects.toMatchObject({ code: 'EBADF' });
    }
    await remove();
  });
});
