import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/log-check.js';
import { checkLogDir } from '../../src/log/check.js';
import { openFileStore } from './helpers/file-store.js';
import { expectCode, makeTempDir, segmentBases, segmentPath, values } from './helpers/log-test-kit.js';

describe('log check', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let bases: number[];
  beforeEach(async () => {
    temp = await makeTempDir();
    const { store } = await openFileStore(temp.dir);
    await store.createTopic('orders', { partitions: 2, segmentBytes: 2048 });
    await store.createTopic('audit', { partitions: 1 });
    for (let i = 0; i < 30; i++) await store.append('orders', i % 2, { records: values(`o${i}`, 2, 100) });
    await store.append('audit', 0, { records: values('a', 1) });
    await store.commitOffsets('g', [{ topic: 'orders', partition: 0, offset: 3, metadata: '' }]);
    await store.close();
    bases = await segmentBases(temp.dir, 'orders', 1);
  });
  afterEach(async () => {
    await temp.remove();
  });

  it('finds nothing wrong with a healthy directory', async () => {
    const result = await checkLogDir(temp.dir);
    expect(result.problems).toEqual([]);
    expect(result).toMatchObject({ topics: 2, partitions: 3 });
    expect(result.segments).toBe(1 + bases.length + (await segmentBases(temp.dir, 'orders', 0)).length);
  });

  it('reports each problem with topic, partition, segment and offsets, without changing anything', async () => {
    const sealed = segmentPath(temp.dir, 'orders', 1, bases[0]!);
    const file = await readFile(sealed);
    file[300]! ^= 0x10;
    await writeFile(sealed, file);
    await appendFile(segmentPath(temp.dir, 'orders', 1, bases.at(-1)!), Buffer.from('half a batch'));
    await rm(segmentPath(temp.dir, 'orders', 1, bases[1]!, 'index'));
    await writeFile(`${segmentPath(temp.dir, 'orders', 0, 0)}.deleted`, 'x');
    await rm(join(temp.dir, 'topics', 'audit', 'topic.json'));
    await appendFile(join(temp.dir, 'offsets.journal'), Buffer.from([9, 0, 0, 0, 1]));
    const before = await readFile(sealed);

    const { problems } = await checkLogDir(temp.dir);
    const summary = problems.map((p) => [p.kind, p.topic, p.partition, p.segment, p.fromOffset, p.toOffset]);
    expect(summary).toEqual([
      ['torn-tail', '', -1, 'offsets.journal', null, null],
      ['orphan-file', 'audit', -1, 'topic.json', null, null],
      ['incomplete-delete', 'orders', 0, '00000000000000000000.log.deleted', null, null],
      ['corrupt-batch', 'orders', 1, '00000000000000000000.log', 2, 3],
      ['index-damaged', 'orders', 1, `${String(bases[1]).padStart(20, '0')}.log`, null, null],
      ['torn-tail', 'orders', 1, `${String(bases.at(-1)).padStart(20, '0')}.log`, 30, null],
    ]);
    expect(await readFile(sealed)).toEqual(before);
  });

  it('refuses a directory that is not a data directory', async () => {
    await mkdir(join(temp.dir, 'empty'));
    await expectCode(checkLogDir(join(temp.dir, 'empty')), 'SEALBUS_ERR_REQUEST_INVALID');
  });

  describe('sealbus log check', () => {
    async function run(dir: string): Promise<{ lines: string[]; exitCode: typeof process.exitCode }> {
      const program = new Command('sealbus').exitOverride();
      register(program);
      const lines: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(...String(chunk).split('\n').filter((line) => line.length > 0));
        return true;
      });
      const saved = process.exitCode;
      try {
        await program.parseAsync(['log', 'check', dir], { from: 'user' });
        return { lines, exitCode: process.exitCode };
      } finally {
        spy.mockRestore();
        process.exitCode = saved;
      }
    }

    it('prints ok and leaves the exit code alone when the directory is healthy', async () => {
      const { lines, exitCode } = await run(temp.dir);
      expect(lines).toEqual([expect.stringMatching(/^ok: 2 topics, 3 partitions, \d+ segments, \d+ bytes checked$/)]);
      expect(exitCode).toBeUndefined();
    });

    it('prints one line per problem and exits 1', async () => {
      const sealed = segmentPath(temp.dir, 'orders', 1, bases[0]!);
      const file = await readFile(sealed);
      file[300]! ^= 0x01;
      await writeFile(sealed, file);
      const { lines, exitCode } = await run(temp.dir);
      expect(lines).toEqual([
        expect.stringMatching(/^orders 1 00000000000000000000\.log 2\.\.3: corrupt-batch: checksum mismatch; .* \(\d+ bytes at position \d+\)$/),
        expect.stringMatching(/^1 problems: /),
      ]);
      expect(exitCode).toBe(1);
    });
  });
});
