import { join } from 'node:path';
import type { ProducerSequences } from '../producer-sequences.js';
import type { BatchHeader } from '../record-batch.js';
import type { RecoveryProblem } from '../types.js';
import type { PartitionCheckpoint } from './checkpoint.js';
import { errorCode, type LogFileSystem } from './fs-seam.js';
import { LogSegment } from './log-segment.js';
import { SEGMENT_NAME } from './paths.js';
import { Quarantine } from './quarantine.js';
import { OffsetIndex, TimeIndex } from './segment-indexes.js';
import { scanSegment, walkHeaders, type DamagedRange } from './segment-scan.js';

export type PartitionProblem = Omit<RecoveryProblem, 'topic' | 'partition'>;

export interface RecoveryInput {
  readonly fileSystem: LogFileSystem;
  readonly directory: string;
  readonly checkpoint: PartitionCheckpoint | null;
  readonly sequences: ProducerSequences;
  readonly report: (problem: PartitionProblem) => void;
}

export interface RecoveredPartition {
  /** Oldest first; the last one is active and holds an fd open for writing. */
  readonly segments: LogSegment[];
  readonly quarantine: Quarantine;
  readonly nextOffset: number;
  readonly scannedBytes: number;
}

type Mode = 'trusted' | 'resume' | 'full';

function problem(kind: RecoveryProblem['kind'], segment: string, fields: Partial<PartitionProblem> & { detail: string }): PartitionProblem {
  return { kind, segment, position: 0, bytes: 0, fromOffset: null, toOffset: null, ...fields };
}

/** Sorts a partition directory: segment bases, and leftovers of interrupted work (removed and reported). */
async function listSegments(input: RecoveryInput): Promise<number[]> {
  const { fileSystem, directory, report } = input;
  await fileSystem.mkdir(directory);
  const names = await fileSystem.readdir(directory);
  const logs = new Set<string>();
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (match?.[2] === 'log') logs.add(match[1]!);
  }
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (name.endsWith('.deleted')) {
      await fileSystem.unlink(join(directory, name));
      report(problem('incomplete-delete', name, { detail: 'finished a retention delete interrupted by a crash' }));
    } else if (name.endsWith('.tmp')) {
      await fileSystem.unlink(join(directory, name));
      report(problem('orphan-file', name, { detail: 'removed a temporary file left by a crash' }));
    } else if (match !== null && match[2] !== 'log' && !logs.has(match[1]!)) {
      await fileSystem.unlink(join(directory, name));
      report(problem('orphan-file', name, { detail: 'removed an index whose segment is gone' }));
    } else if (match === null) {
      report(problem('orphan-file', name, { detail: 'unknown file left in place' }));
    }
  }
  return [...logs].map(Number).sort((a, b) => a - b);
}

async function loadIndexes(fileSystem: LogFileSystem, segment: LogSegment, size: number): Promise<string | null> {
  let offsetBytes: Buffer;
  let timeBytes: Buffer;
  try {
    offsetBytes = await fileSystem.readFile(segment.indexPath);
    timeBytes = await fileSystem.readFile(segment.timeIndexPath);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'index file missing';
    throw err;
  }
  const offsets = OffsetIndex.parse(offsetBytes, Math.max(size, 1));
  if (typeof offsets === 'string') return `offset index: ${offsets}`;
  const times = TimeIndex.parse(timeBytes);
  if (typeof times === 'string') return `time index: ${times}`;
  segment.offsetIndex = offsets;
  segment.timeIndex = times;
  return null;
}

interface WalkOutcome {
  /** Why the index files were not usable (they are rebuilt), or null. */
  readonly indexProblem: string | null;
  /** Why the vouched-for bytes did not hold together (the segment is then verified in full), or null. */
  readonly walkProblem: string | null;
}

/** Trusted bytes: load the index files and walk headers from their last entry to `end`. */
async function walkTrusted(context: SegmentContext, end: number): Promise<WalkOutcome> {
  const { input, segment, fd, size, onBatch } = context;
  const walk = (startPosition: number, startOffset: number) =>
    walkHeaders({ fileSystem: input.fileSystem, fd, size, startPosition, startOffset, endPosition: end, onBatch });
  let indexProblem = await loadIndexes(input.fileSystem, segment, size);
  if (indexProblem === null && segment.offsetIndex.length > 0) {
    segment.offsetIndex.truncateAt(end);
    const last = segment.offsetIndex.floor(Number.MAX_SAFE_INTEGER);
    segment.timeIndex.truncateAfter(last.relativeOffset);
    if ((await walk(last.position, segment.baseOffset + last.relativeOffset)) === null) return { indexProblem: null, walkProblem: null };
    indexProblem = 'an index entry does not match the log';
  }
  segment.resetContent();
  return { indexProblem, walkProblem: await walk(0, segment.baseOffset) };
}

interface SegmentContext {
  readonly input: RecoveryInput;
  readonly segment: LogSegment;
  readonly fd: number;
  readonly size: number;
  readonly isLast: boolean;
  /** Base of the next segment, when there is one. */
  readonly nextBase: number | undefined;
  readonly quarantine: Quarantine;
  readonly onBatch: (header: BatchHeader, position: number) => void;
}

function pickMode(checkpoint: PartitionCheckpoint | null, base: number, isLast: boolean): Mode {
  if (checkpoint === null) return 'full';
  if (base === checkpoint.segment) return 'resume';
  return base < checkpoint.segment && !isLast ? 'trusted' : 'full';
}

/** Recovers one segment; returns the offset that follows it and the bytes it scanned. */
async function recoverSegment(context: SegmentContext, mode: Mode): Promise<{ nextOffset: number; scannedBytes: number; indexesRebuilt: boolean }> {
  const { input, segment, fd, size, isLast } = context;
  const checkpoint = input.checkpoint;
  let scanFrom = 0;
  let indexesRebuilt = mode !== 'trusted';
  // Damage that runs to the end of the file is a torn tail only past everything known good.
  let sealedBoundary = isLast ? 0 : size;
  if (mode !== 'full') {
    const end = mode === 'trusted' ? size : Math.min(checkpoint!.position, size);
    const outcome = await walkTrusted(context, end);
    if (outcome.indexProblem !== null && !isLast) {
      input.report(problem('index-rebuilt', segment.name, { detail: outcome.indexProblem }));
      indexesRebuilt = true;
    }
    sealedBoundary = Math.max(sealedBoundary, end);
    if (outcome.walkProblem === null && end === (mode === 'trusted' ? size : checkpoint!.position)) {
      scanFrom = end;
    } else {
      input.report(problem('offset-gap', segment.name, { detail: `known good data does not check out (${outcome.walkProblem ?? 'file shorter than the checkpoint'}); verifying the whole segment` }));
      segment.resetContent();
      indexesRebuilt = true;
    }
  } else if (!isLast) {
    const indexProblem = await loadIndexes(input.fileSystem, segment, size);
    segment.resetContent();
    if (indexProblem !== null) input.report(problem('index-rebuilt', segment.name, { detail: indexProblem }));
  }
  let end = size;
  let nextOffset = segment.nextOffset;
  if (scanFrom < size) {
    const result = await scanSegment({ fileSystem: input.fileSystem, fd, size, startPosition: scanFrom, startOffset: segment.nextOffset, onBatch: context.onBatch });
    nextOffset = result.nextOffset;
    for (const damage of result.damage) {
      const sealedNext = isLast ? checkpoint?.nextOffset ?? null : context.nextBase ?? null;
      const outcome = handleDamage(damage, { segment, isLast, sealedBoundary, quarantine: context.quarantine, sealedNext, report: input.report });
      if (outcome.truncateTo !== null) {
        await input.fileSystem.ftruncate(fd, outcome.truncateTo);
        end = outcome.truncateTo;
      }
      if (outcome.nextOffset !== null) nextOffset = Math.max(nextOffset, outcome.nextOffset);
    }
  }
  segment.size = end;
  segment.readableSize = end;
  segment.nextOffset = nextOffset;
  return { nextOffset, scannedBytes: size - scanFrom, indexesRebuilt };
}

/**
 * Rebuilds one partition's state from its directory: trusts what the checkpoint vouches for, scans
 * the rest batch by batch, cuts a torn tail of the active segment, quarantines damage in sealed
 * data, and never lets an offset be reused.
 */
export async function recoverPartition(input: RecoveryInput): Promise<RecoveredPartition> {
  const { fileSystem, directory, checkpoint, sequences, report } = input;
  const bases = await listSegments(input);
  const segments: LogSegment[] = [];
  const quarantine = new Quarantine();
  let scannedBytes = 0;
  let nextOffset = bases[0] ?? 0;
  if (checkpoint !== null) sequences.restore(checkpoint.producers);
  // Batches below the checkpoint are already in its producer snapshot.
  const replayFrom = checkpoint?.nextOffset ?? 0;

  for (let i = 0; i < bases.length; i++) {
    const base = bases[i]!;
    const isLast = i === bases.length - 1;
    const nextBase = bases[i + 1];
    const segment = new LogSegment(fileSystem, directory, base);
    const fd = await fileSystem.open(segment.logPath, isLast ? 'r+' : 'r');
    const size = await fileSystem.fileSize(fd);
    const onBatch = (header: BatchHeader, position: number): void => {
      segment.noteBatch(header.baseOffset, header.recordCount, header.timestamp, position, header.totalBytes);
      if (header.producerEpoch !== null && header.baseSequence !== null && header.baseOffset >= replayFrom) {
        const { baseSequence, recordCount: count, baseOffset, timestamp } = header;
        sequences.replay(header.producerId, header.producerEpoch, { baseSequence, count, baseOffset, timestamp });
      }
    };
    const mode = pickMode(checkpoint, base, isLast);
    const result = await recoverSegment({ input, segment, fd, size, isLast, nextBase, quarantine, onBatch }, mode);
    scannedBytes += result.scannedBytes;
    if (nextBase !== undefined && result.nextOffset !== nextBase && mode !== 'trusted') {
      const low = Math.min(result.nextOffset, nextBase);
      const high = Math.max(result.nextOffset, nextBase);
      const detail = result.nextOffset < nextBase ? 'offsets missing before the next segment' : 'offsets overlap the next segment';
      report(problem('offset-gap', segment.name, { fromOffset: low, toOffset: high - 1, detail }));
    }
    if (isLast) segment.attach(fd);
    else {
      await fileSystem.close(fd);
      if (result.indexesRebuilt) await segment.writeIndexes();
    }
    segments.push(segment);
    nextOffset = result.nextOffset;
  }
  return finishRecovery(input, segments, quarantine, nextOffset, scannedBytes);
}

interface DamageContext {
  readonly segment: LogSegment;
  readonly isLast: boolean;
  readonly sealedBoundary: number;
  readonly quarantine: Quarantine;
  /** Offset that follows this segment when it is sealed (next segment base, or the checkpoint's). */
  readonly sealedNext: number | null;
  readonly report: (problem: PartitionProblem) => void;
}

function handleDamage(damage: DamagedRange, context: DamageContext): { truncateTo: number | null; nextOffset: number | null } {
  const { segment, quarantine, report } = context;
  const common = { position: damage.position, bytes: damage.bytes, fromOffset: damage.fromOffset };
  if (damage.resumeOffset === null && context.isLast && damage.position >= context.sealedBoundary) {
    report(
      problem('torn-tail', segment.name, {
        ...common,
        toOffset: damage.claimedLastOffset,
        detail: `cut ${damage.bytes} bytes of an unfinished write (${damage.reason}); none of it was acknowledged`,
      }),
    );
    return { truncateTo: damage.position, nextOffset: null };
  }
  const toOffset = (damage.resumeOffset ?? context.sealedNext ?? damage.fromOffset) - 1;
  quarantine.add({ segment: segment.baseOffset, position: damage.position, bytes: damage.bytes, fromOffset: damage.fromOffset, toOffset });
  report(
    problem('corrupt-batch', segment.name, {
      ...common,
      toOffset: toOffset >= damage.fromOffset ? toOffset : null,
      detail: `${damage.reason}; ${damage.bytes} bytes quarantined`,
    }),
  );
  return { truncateTo: null, nextOffset: toOffset + 1 };
}

async function finishRecovery(
  input: RecoveryInput,
  segments: LogSegment[],
  quarantine: Quarantine,
  recoveredNext: number,
  scannedBytes: number,
): Promise<RecoveredPartition> {
  const { fileSystem, directory, checkpoint, report } = input;
  let nextOffset = recoveredNext;
  const last = segments.at(-1);
  const floor = checkpoint?.nextOffset ?? 0;
  if (last === undefined || nextOffset < floor) {
    // Offsets below a clean checkpoint may have been read already: start after them, never reuse them.
    if (last !== undefined) {
      report(problem('offset-gap', last.name, { fromOffset: nextOffset, toOffset: floor - 1, detail: 'offsets below the clean checkpoint are missing' }));
      await last.writeIndexes();
    } else if (floor > 0) {
      report(problem('offset-gap', '', { fromOffset: 0, toOffset: floor - 1, detail: 'every segment of the partition is missing' }));
    }
    nextOffset = Math.max(nextOffset, floor);
    const fresh = new LogSegment(fileSystem, directory, nextOffset);
    fresh.attach(await fileSystem.open(fresh.logPath, 'wx+'));
    await fileSystem.syncDirectory(directory);
    segments.push(fresh);
  } else if (scannedBytes > 0) {
    // Recovered bytes may sit only in the page cache (an interval-policy crash): make them durable first.
    await fileSystem.fdatasync(last.writeFd);
  }
  return { segments, quarantine, nextOffset, scannedBytes };
}
