/**
 * Reading the audit topic straight from a data directory, offline, for `sealbus audit verify --data`:
 * the broker may be running or may have crashed, so nothing is locked, written or repaired here.
 * Files are opened read-only; every batch is verified (length, offset, CRC) by the same scan the
 * store's recovery uses, and damage is reported where it is rather than cut.
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { SealbusError } from '../errors/index.js';
import { errorCode, nodeFileSystem, readAt } from '../log/file/fs-seam.js';
import { SEGMENT_NAME, dataPaths, segmentFileName } from '../log/file/paths.js';
import { type DamagedRange, scanSegment } from '../log/file/segment-scan.js';
import { decodeRecords, verifyBatch } from '../log/record-batch.js';
import { parseAuditRecordValue } from './audit-reader.js';
import { AUDIT_PARTITION, AUDIT_TOPIC } from './audit-topic.js';
import { MalformedEntry } from './log-entry.js';

export interface AuditDirReport {
  /** Offset of the first record found (the first segment's base when there is none). */
  readonly firstOffset: number;
  readonly records: number;
  /**
   * Damage running to the end of the last segment: a write a crash cut short. Not an error by
   * itself (the broker cuts it on its next start), and not yielded as an entry.
   */
  readonly tornTail: { readonly segment: string; readonly position: number; readonly bytes: number } | null;
  /** Damaged ranges elsewhere (CRC mismatch, missing offsets), also yielded as MalformedEntry at their place. */
  readonly damaged: readonly { readonly segment: string; readonly position: number; readonly bytes: number; readonly reason: string }[];
}

interface Progress {
  firstOffset: number | null;
  firstSegment: number | null;
  records: number;
  tornTail: AuditDirReport['tornTail'];
  readonly damaged: AuditDirReport['damaged'][number][];
  /** The offset the next segment should start at; null before the first segment or after damage at a segment's end. */
  expected: number | null;
}

interface BatchPlace {
  readonly position: number;
  readonly bytes: number;
}

async function assertDirectory(dataDir: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dataDir)).isDirectory();
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `the data directory ${dataDir} does not exist` });
  }
  if (!isDirectory) throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `${dataDir} is not a directory` });
}

async function segmentBases(dataDir: string, directory: string): Promise<number[]> {
  let names: string[];
  try {
    names = await nodeFileSystem.readdir(directory);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: AUDIT_TOPIC }, { details: { dataDir, path: directory } });
  }
  const bases: number[] = [];
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (match?.[2] === 'log') bases.push(Number(match[1]));
  }
  return bases.sort((a, b) => a - b);
}

function damageEntry(progress: Progress, segment: string, position: number, bytes: number, reason: string): MalformedEntry {
  progress.damaged.push({ segment, position, bytes, reason });
  return new MalformedEntry(`${AUDIT_TOPIC} segment ${segment}, byte ${position}: ${reason}`);
}

/** `nextBase`: where the next segment starts, which bounds damage running to the end of a sealed one. */
function rangeReason(range: DamagedRange, nextBase: number | null): string {
  const end = range.resumeOffset ?? nextBase;
  const lost = end === null ? `offsets from ${range.fromOffset}` : end > range.fromOffset ? `offsets ${range.fromOffset}..${end - 1}` : 'no offset';
  return `${range.bytes} damaged bytes (${range.reason}), ${lost} unreadable`;
}

/** Yields the records of one segment, in order, with a MalformedEntry where damage lies between them. */
async function* readSegment(directory: string, base: number, nextBase: number | null, progress: Progress): AsyncGenerator<unknown> {
  const name = segmentFileName(base, 'log');
  let fd: number;
  try {
    fd = await nodeFileSystem.open(join(directory, name), 'r');
  } catch (err) {
    // Retention deleted it since the listing: only the oldest segments go, so nothing was read yet.
    if (errorCode(err) === 'ENOENT' && progress.firstOffset === null) return;
    throw err;
  }
  try {
    const size = await nodeFileSystem.fileSize(fd);
    const places: BatchPlace[] = [];
    const scan = await scanSegment({
      fileSystem: nodeFileSystem,
      fd,
      size,
      startPosition: 0,
      startOffset: base,
      onBatch: (header, position) => places.push({ position, bytes: header.totalBytes }),
    });
    const damage = [...scan.damage];
    for (const place of places) {
      while (damage[0] !== undefined && damage[0].position < place.position) yield* damaged(progress, name, damage.shift()!, nextBase);
      // Read again after the scan: a running broker appends (or a starting one cuts a torn tail) meanwhile.
      const batch = await readAt(nodeFileSystem, fd, place.position, place.bytes);
      if (batch.length !== place.bytes || !verifyBatch(batch)) {
        yield damageEntry(progress, name, place.position, place.bytes, 'the batch changed while it was being read');
        continue;
      }
      for (const record of decodeRecords(batch)) {
        progress.firstOffset ??= record.offset;
        progress.records += 1;
        yield parseAuditRecordValue(record.value);
      }
    }
    for (const range of damage) yield* damaged(progress, name, range, nextBase);
    progress.expected = scan.damage.at(-1)?.resumeOffset === null ? null : scan.nextOffset;
  } finally {
    await nodeFileSystem.close(fd);
  }
}

function* damaged(progress: Progress, segment: string, range: DamagedRange, nextBase: number | null): Generator<unknown> {
  if (nextBase === null && range.resumeOffset === null) {
    progress.tornTail = { segment, position: range.position, bytes: range.bytes };
    return;
  }
  yield damageEntry(progress, segment, range.position, range.bytes, rangeReason(range, nextBase));
}

async function* readEntries(dataDir: string, progress: Progress): AsyncGenerator<unknown> {
  await assertDirectory(dataDir);
  const directory = dataPaths(dataDir).partition(AUDIT_TOPIC, AUDIT_PARTITION);
  const bases = await segmentBases(dataDir, directory);
  for (const [index, base] of bases.entries()) {
    const expected = progress.expected;
    if (expected !== null && base !== expected) {
      const segment = segmentFileName(base, 'log');
      const reason = base > expected ? `offsets ${expected}..${base - 1} are missing before this segment` : `this segment starts at offset ${base}, before ${expected}`;
      yield damageEntry(progress, segment, 0, 0, reason);
    }
    progress.firstSegment ??= base;
    yield* readSegment(directory, base, bases[index + 1] ?? null, progress);
  }
}

/**
 * The audit log of `<dataDir>` (its `__sealbus.audit` topic, partition 0), read offline and
 * read-only: `entries` yields each record in offset order, parsed from JSON (or a MalformedEntry for
 * a value that is not JSON or too large, and one per damaged range), ready for `verifyAuditLog`.
 * Memory stays bounded: segments are read one at a time, batch by batch. Iterating throws
 * SEALBUS_ERR_REQUEST_INVALID when `dataDir` is not a directory and SEALBUS_ERR_TOPIC_NOT_FOUND when
 * it holds no audit topic. `report()` describes what was read so far: call it after iterating.
 * A log whose first offset is above 0 lost its start to retention: verify it as partial.
 */
export function readAuditDataDir(dataDir: string): { entries: AsyncIterable<unknown>; report(): AuditDirReport } {
  const progress: Progress = { firstOffset: null, firstSegment: null, records: 0, tornTail: null, damaged: [], expected: null };
  return {
    entries: readEntries(dataDir, progress),
    report: () => ({
      firstOffset: progress.firstOffset ?? progress.firstSegment ?? 0,
      records: progress.records,
      tornTail: progress.tornTail === null ? null : { ...progress.tornTail },
      damaged: progress.damaged.map((range) => ({ ...range })),
    }),
  };
}
