import { join } from 'node:path';
import type { RecoveryProblem } from '../types.js';
import { errorCode, type LogFileSystem } from './fs-seam.js';
import { SEGMENT_NAME, segmentFileName } from './paths.js';
import { OffsetIndex, TimeIndex } from './segment-indexes.js';
import { scanSegment } from './segment-scan.js';

export interface PartitionCheck {
  readonly problems: RecoveryProblem[];
  readonly segments: number;
  readonly bytes: number;
}

interface BatchSeen {
  readonly position: number;
  readonly timestamp: number;
}

type Report = (kind: RecoveryProblem['kind'], segment: string, detail: string, fields?: Partial<RecoveryProblem>) => void;

async function readOptional(fileSystem: LogFileSystem, path: string): Promise<Buffer | null> {
  try {
    return await fileSystem.readFile(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Checks that every index entry points at a real batch start, with the right offset and timestamp. */
async function checkIndexes(
  fileSystem: LogFileSystem,
  directory: string,
  base: number,
  size: number,
  batches: ReadonlyMap<number, BatchSeen>,
  lastRelative: number,
  sealed: boolean,
  report: Report,
): Promise<void> {
  const name = segmentFileName(base, 'log');
  const offsetBytes = await readOptional(fileSystem, join(directory, segmentFileName(base, 'index')));
  const timeBytes = await readOptional(fileSystem, join(directory, segmentFileName(base, 'timeindex')));
  if (offsetBytes === null || timeBytes === null) {
    // The active segment's indexes are only written at a clean close.
    if (sealed) report('index-damaged', name, 'index file missing; the next open rebuilds it');
    return;
  }
  const offsets = OffsetIndex.parse(offsetBytes, Math.max(size, 1));
  const times = TimeIndex.parse(timeBytes);
  if (typeof offsets === 'string') return report('index-damaged', name, `offset index: ${offsets}`);
  if (typeof times === 'string') return report('index-damaged', name, `time index: ${times}`);
  for (let i = 0; i < offsets.length; i++) {
    const entry = offsets.entry(i);
    if (batches.get(entry.relativeOffset)?.position !== entry.position) {
      return report('index-damaged', name, `offset index entry ${i} does not point at the batch of offset ${base + entry.relativeOffset}`);
    }
  }
  for (let i = 0; i < times.length; i++) {
    const entry = times.entry(i);
    if (batches.get(entry.relativeOffset)?.timestamp !== entry.timestamp) {
      return report('index-damaged', name, `time index entry ${i} does not match the batch of offset ${base + entry.relativeOffset}`);
    }
  }
  if (sealed && lastRelative >= 0 && times.last()?.relativeOffset !== lastRelative) {
    report('index-damaged', name, 'time index does not end at the last batch');
  }
}

/** Verifies one segment and its indexes; returns its size. */
async function checkSegment(fileSystem: LogFileSystem, directory: string, bases: readonly number[], i: number, report: Report): Promise<number> {
  const base = bases[i]!;
  const name = segmentFileName(base, 'log');
  const sealed = i < bases.length - 1;
  const nextBase = bases[i + 1];
  const batches = new Map<number, BatchSeen>();
  let lastRelative = -1;
  const fd = await fileSystem.open(join(directory, name), 'r');
  try {
    const size = await fileSystem.fileSize(fd);
    const result = await scanSegment({
      fileSystem,
      fd,
      size,
      startPosition: 0,
      startOffset: base,
      onBatch: (header, position) => {
        lastRelative = header.baseOffset - base;
        batches.set(lastRelative, { position, timestamp: header.timestamp });
      },
    });
    for (const damage of result.damage) {
      const torn = !sealed && damage.resumeOffset === null;
      const toOffset = damage.resumeOffset !== null ? damage.resumeOffset - 1 : nextBase !== undefined ? nextBase - 1 : damage.claimedLastOffset;
      const detail = torn ? `${damage.reason}; a torn tail the next open cuts` : `${damage.reason}; quarantined by the store, never served`;
      report(torn ? 'torn-tail' : 'corrupt-batch', name, detail, {
        position: damage.position,
        bytes: damage.bytes,
        fromOffset: damage.fromOffset,
        toOffset: toOffset !== null && toOffset >= damage.fromOffset ? toOffset : null,
      });
    }
    const damagedTail = result.damage.at(-1)?.resumeOffset === null;
    if (nextBase !== undefined && !damagedTail && result.nextOffset !== nextBase) {
      const detail = result.nextOffset < nextBase ? 'offsets missing before the next segment' : 'offsets overlap the next segment';
      report('offset-gap', name, detail, { fromOffset: Math.min(result.nextOffset, nextBase), toOffset: Math.max(result.nextOffset, nextBase) - 1 });
    }
    await checkIndexes(fileSystem, directory, base, size, batches, lastRelative, sealed, report);
    return size;
  } finally {
    await fileSystem.close(fd);
  }
}

/** Verifies one partition directory: every batch, every index entry, offset continuity, leftovers. */
export async function checkPartitionDirectory(fileSystem: LogFileSystem, directory: string, topic: string, partition: number): Promise<PartitionCheck> {
  const problems: RecoveryProblem[] = [];
  const report: Report = (kind, segment, detail, fields = {}) => {
    problems.push({ kind, topic, partition, segment, position: 0, bytes: 0, fromOffset: null, toOffset: null, detail, ...fields });
  };
  const names = await fileSystem.readdir(directory);
  const bases: number[] = [];
  const logs = new Set(names.filter((name) => SEGMENT_NAME.exec(name)?.[2] === 'log').map((name) => name.slice(0, 20)));
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (match?.[2] === 'log') bases.push(Number(match[1]));
    else if (name.endsWith('.deleted')) report('incomplete-delete', name, 'retention delete interrupted; the next open finishes it');
    else if (match === null) report('orphan-file', name, 'unknown file');
    else if (!logs.has(match[1]!)) report('orphan-file', name, 'index without a segment');
  }
  bases.sort((a, b) => a - b);
  let bytes = 0;
  for (let i = 0; i < bases.length; i++) bytes += await checkSegment(fileSystem, directory, bases, i, report);
  return { problems, segments: bases.length, bytes };
}
