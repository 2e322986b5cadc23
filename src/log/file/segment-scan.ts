import { BATCH_HEADER_BYTES, BATCH_MAGIC, decodeBatchHeader, verifyBatch, type BatchHeader } from '../record-batch.js';
import { readAt, type LogFileSystem } from './fs-seam.js';

const WINDOW_BYTES = 1024 * 1024;
/** The smallest record is its length field and 11 bytes of fixed fields. */
const MIN_BATCH_BYTES = BATCH_HEADER_BYTES + 15;
/** No stored batch may claim more than this, whatever its length field says (topic limit + header). */
export const MAX_STORED_BATCH_BYTES = 256 * 1024 * 1024 + BATCH_HEADER_BYTES;

/** A stretch of a segment that holds no verifiable batch. */
export interface DamagedRange {
  readonly position: number;
  readonly bytes: number;
  /** The first offset it should have held. */
  readonly fromOffset: number;
  /** Base offset of the verified batch found after it; null when the damage runs to the end of the file. */
  readonly resumeOffset: number | null;
  /** Last offset the first damaged header claims, when that header looks plausible (a torn write). */
  readonly claimedLastOffset: number | null;
  readonly reason: string;
}

export interface ScanResult {
  /** End of the last verified batch. */
  readonly validEnd: number;
  /** Offset after the last verified batch (or resume point). */
  readonly nextOffset: number;
  readonly damage: readonly DamagedRange[];
  readonly scannedBytes: number;
}

export interface ScanOptions {
  readonly fileSystem: LogFileSystem;
  readonly fd: number;
  readonly size: number;
  readonly startPosition: number;
  readonly startOffset: number;
  readonly onBatch?: (header: BatchHeader, position: number) => void;
}

/** Reads through one cached window, so a scan makes one syscall per megabyte, not per batch. */
class WindowReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fileSystem: LogFileSystem,
    private readonly fd: number,
    private readonly size: number,
  ) {}

  async get(position: number, length: number): Promise<Buffer | null> {
    if (position + length > this.size) return null;
    const offset = position - this.windowStart;
    if (offset >= 0 && offset + length <= this.window.length) return this.window.subarray(offset, offset + length);
    const want = Math.min(Math.max(length, WINDOW_BYTES), this.size - position);
    this.window = await readAt(this.fileSystem, this.fd, position, want);
    this.windowStart = position;
    return this.window.length >= length ? this.window.subarray(0, length) : null;
  }
}

type Verdict = { readonly header: BatchHeader } | { readonly reason: string; readonly claimedLastOffset: number | null };

async function verifyAt(reader: WindowReader, position: number, expected: number, size: number): Promise<Verdict> {
  const head = await reader.get(position, BATCH_HEADER_BYTES);
  if (head === null) return { reason: `${size - position} bytes are too few for a batch header`, claimedLastOffset: null };
  const header = decodeBatchHeader(head)!;
  const plausible = header.baseOffset === expected && header.magic === BATCH_MAGIC && header.recordCount > 0;
  const claimedLastOffset = plausible ? header.baseOffset + header.recordCount - 1 : null;
  if (header.totalBytes < MIN_BATCH_BYTES || header.totalBytes > MAX_STORED_BATCH_BYTES) {
    return { reason: `batch length ${header.totalBytes} is impossible`, claimedLastOffset: null };
  }
  if (header.totalBytes > size - position) {
    return { reason: `batch of ${header.totalBytes} bytes runs past the end of the file`, claimedLastOffset };
  }
  if (header.magic !== BATCH_MAGIC) return { reason: `unknown batch format ${header.magic}`, claimedLastOffset: null };
  if (header.baseOffset !== expected) {
    return { reason: `batch claims offset ${header.baseOffset} where ${expected} was expected`, claimedLastOffset: null };
  }
  const batch = await reader.get(position, header.totalBytes);
  if (batch === null || !verifyBatch(batch)) return { reason: 'checksum mismatch', claimedLastOffset };
  return { header };
}

/**
 * Finds the next verifiable batch after damage by trying every byte position; candidates are
 * filtered on the magic byte and a plausible offset before their CRC is computed.
 */
async function resync(
  reader: WindowReader,
  damageStart: number,
  expected: number,
  size: number,
): Promise<{ position: number; header: BatchHeader } | null> {
  let start = damageStart + 1;
  while (start + BATCH_HEADER_BYTES <= size) {
    const length = Math.min(WINDOW_BYTES, size - start);
    const window = await reader.get(start, length);
    if (window === null) return null;
    const last = window.length - BATCH_HEADER_BYTES;
    for (let i = 0; i <= last; i++) {
      if (window[i + 16] !== BATCH_MAGIC || window[i + 17] !== 0 || window[i + 18] !== 0 || window[i + 19] !== 0) continue;
      const low = window.readUInt32LE(i);
      const high = window.readUInt32LE(i + 4);
      const baseOffset = high * 0x1_0000_0000 + low;
      // Every offset takes at least one byte, so the damage cannot hide more offsets than bytes.
      if (baseOffset < expected || baseOffset > expected + (start + i - damageStart)) continue;
      const position = start + i;
      const verdict = await verifyAt(reader, position, baseOffset, size);
      if ('header' in verdict) return { position, header: verdict.header };
    }
    start += last + 1;
  }
  return null;
}

/**
 * Walks a segment from `startPosition`, verifying every batch: length, format, offset continuity
 * and CRC. Damage is skipped to the next verifiable batch and reported; nothing is modified here,
 * the caller decides whether a damaged end is a torn tail (cut) or sealed data (quarantined).
 */
export async function scanSegment(options: ScanOptions): Promise<ScanResult> {
  const { fileSystem, fd, size, startPosition, startOffset, onBatch } = options;
  const reader = new WindowReader(fileSystem, fd, size);
  const damage: DamagedRange[] = [];
  let position = startPosition;
  let expected = startOffset;
  let validEnd = startPosition;
  while (position < size) {
    const verdict = await verifyAt(reader, position, expected, size);
    if ('header' in verdict) {
      onBatch?.(verdict.header, position);
      position += verdict.header.totalBytes;
      expected = verdict.header.baseOffset + verdict.header.recordCount;
      validEnd = position;
      continue;
    }
    const found = await resync(reader, position, expected, size);
    damage.push({
      position,
      bytes: (found?.position ?? size) - position,
      fromOffset: expected,
      resumeOffset: found?.header.baseOffset ?? null,
      claimedLastOffset: verdict.claimedLastOffset,
      reason: verdict.reason,
    });
    if (found === null) break;
    position = found.position;
    expected = found.header.baseOffset;
  }
  return { validEnd, nextOffset: expected, damage, scannedBytes: size - startPosition };
}

/**
 * Walks batch headers without checking CRCs, over bytes a checkpoint vouches for: enough to rebuild
 * indexes and find the newest timestamp cheaply. Returns the reason when the chain breaks, and the
 * caller falls back to a full scan.
 */
export async function walkHeaders(options: ScanOptions & { readonly endPosition: number }): Promise<string | null> {
  const { fileSystem, fd, size, endPosition, onBatch } = options;
  if (endPosition > size) return `the file holds ${size} bytes, fewer than the ${endPosition} known good`;
  const reader = new WindowReader(fileSystem, fd, size);
  let position = options.startPosition;
  let expected = options.startOffset;
  while (position < endPosition) {
    const head = await reader.get(position, BATCH_HEADER_BYTES);
    const header = head === null ? null : decodeBatchHeader(head);
    if (header === null || header.baseOffset !== expected || header.magic !== BATCH_MAGIC || header.recordCount < 1) {
      return `no batch header for offset ${expected} at position ${position}`;
    }
    if (header.totalBytes < MIN_BATCH_BYTES || position + header.totalBytes > endPosition) {
      return `batch at position ${position} does not end within the known good bytes`;
    }
    onBatch?.(header, position);
    position += header.totalBytes;
    expected += header.recordCount;
  }
  return null;
}
