import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealbusError } from '../../src/errors/index.js';
import { checkLogDir } from '../../src/log/check.js';
import { decodeBatchHeader, decodeRecords, verifyBatch } from '../../src/log/record-batch.js';
import type { LogStore } from '../../src/log/types.js';
import { openFileStore } from './helpers/file-store.js';
import { makeTempDir, segmentBases, segmentPath, seededRandom, text, values } from './helpers/log-test-kit.js';

const BATCHES = 80;

interface StoredBatch {
  readonly position: number;
  readonly end: number;
  readonly baseOffset: number;
  readonly count: number;
}

function batchesOf(file: Buffer): StoredBatch[] {
  const out: StoredBatch[] = [];
  for (let position = 0; position < file.length; ) {
    const header = decodeBatchHeader(file, position)!;
    out.push({ position, end: position + header.totalBytes, baseOffset: header.baseOffset, count: header.recordCount });
    position += header.totalBytes;
  }
  return out;
}

/** Reads from 0 to the high watermark; corrupted ranges are recorded and skipped as a consumer would. */
async function readThrough(store: LogStore, expected: Map<number, string>) {
  const seen = new Map<number, string>();
  const skipped: { from: number; to: number; next: number }[] = [];
  const highWatermark = (await store.describeTopic('t')).partitions[0]!.highWatermark;
  let offset = 0;
  while (offset < highWatermark) {
    try {
      const result = await store.read('t', 0, offset, { maxBytes: 2048 });
      for (const batch of result.batches) {
        expect(verifyBatch(batch)).toBe(true);
        for (const record of decodeRecords(batch)) if (record.offset >= offset) seen.set(record.offset, text(record.value));
      }
      expect(result.nextOffset).toBeGreaterThan(offset);
      offset = result.nextOffset;
    } catch (err) {
      if (!isSealbusError(err, 'SEALBUS_ERR_RECORDS_CORRUPTED')) throw err;
      const details = err.details as { from: number; to: number; next: number };
      expect(details.from).toBeLessThanOrEqual(offset);
      expect(details.to).toBeGreaterThanOrEqual(offset);
      expect(details.next).toBe(details.to + 1);
      skipped.push(details);
      offset = details.next;
    }
  }
  for (const [at, value] of seen) expect(value).toBe(expected.get(at));
  return { seen, skipped };
}

describe('bit rot in sealed segments', () => {
  let pristine: Awaited<ReturnType<typeof makeTempDir>>;
  const expected = new Map<number, string>();

  beforeAll(async () => {
    pristine = await makeTempDir();
    const { store } = await openFileStore(pristine.dir);
    await store.createTopic('t', { partitions: 1, segmentBytes: 4096 });
    for (let i = 0; i < BATCHES; i++) {
      const { baseOffset } = await store.append('t', 0, { records: values(`b${i}`, 3, 50) });
      for (let r = 0; r < 3; r++) expected.set(baseOffset + r, `b${i}-${r}`);
    }
    await store.close();
  });
  afterAll(async () => {
    await pristine.remove();
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
    it(`detects, quarantines and reports random bit flips, serving the rest (seed ${seed})`, async () => {
      const random = seededRandom(seed);
      const temp = await makeTempDir();
      try {
        await cp(pristine.dir, temp.dir, { recursive: true });
        await rm(join(temp.dir, 'LOCK'), { force: true });
        const bases = await segmentBases(temp.dir, 't', 0);
        const victim = bases[Math.floor(random() * (bases.length - 1))]!;
        const path = segmentPath(temp.dir, 't', 0, victim);
        const file = await readFile(path);
        const stored = batchesOf(file);
        const hit = new Set<StoredBatch>();
        const flips = 1 + Math.floor(random() * 3);
        for (let i = 0; i < flips; i++) {
          const position = Math.floor(random() * file.length);
          file[position]! ^= 1 << Math.floor(random() * 8);
          hit.add(stored.find((batch) => batch.position <= position && position < batch.end)!);
        }
        await writeFile(path, file);
        const damagedOffsets = new Set([...hit].flatMap((batch) => Array.from({ length: batch.count }, (_, i) => batch.baseOffset + i)));

        const { store, report, late } = await openFileStore(temp.dir);
        const { seen, skipped } = await readThrough(store, expected);
        const skippedOffsets = new Set(skipped.flatMap((range) => Array.from({ length: range.to - range.from + 1 }, (_, i) => range.from + i)));
        expect(skippedOffsets).toEqual(damagedOffsets);
        expect(seen.size + skippedOffsets.size).toBe(expected.size);
        const reported = [...report.problems, ...late].filter((p) => p.kind === 'corrupt-batch');
        expect(reported.every((p) => p.segment === `${String(victim).padStart(20, '0')}.log`)).toBe(true);
        const reportedOffsets = new Set(reported.flatMap((p) => Array.from({ length: p.toOffset! - p.fromOffset! + 1 }, (_, i) => p.fromOffset! + i)));
        expect(reportedOffsets).toEqual(damagedOffsets);

        // Offsets are never reused: appends continue after the old end.
        expect((await store.append('t', 0, { records: values('new', 1) })).baseOffset).toBe(expected.size);
        await store.close();

        const checked = await checkLogDir(temp.dir);
        const checkedOffsets = new Set(
          checked.problems
            .filter((p) => p.kind === 'corrupt-batch')
            .flatMap((p) => Array.from({ length: p.toOffset! - p.fromOffset! + 1 }, (_, i) => p.fromOffset! + i)),
        );
        expect(checkedOffsets).toEqual(damagedOffsets);

        // Opened without a checkpoint, recovery finds the same damage itself.
        await rm(join(temp.dir, 'checkpoint.json'));
        const again = await openFileStore(temp.dir);
        const found = again.report.problems.filter((p) => p.kind === 'corrupt-batch');
        expect(new Set(found.flatMap((p) => Array.from({ length: p.toOffset! - p.fromOffset! + 1 }, (_, i) => p.fromOffset! + i)))).toEqual(damagedOffsets);
        expect((await again.store.describeTopic('t')).partitions[0]!.highWatermark).toBe(expected.size + 1);
        await again.store.close();
      } finally {
        await temp.remove();
      }
    });
  }
});
