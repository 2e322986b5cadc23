import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { LogFileSystem } from './fs-seam.js';

/**
 * The write-ahead log's files and frames (docs/log-format.md#the-write-ahead-log), and how they are
 * read back at open: what store-wal.ts writes, and the only code that trusts what it reads after
 * checking length, salt and CRC.
 */

/** Groups above this are fdatasync'd in their own segment: big groups gain nothing from sharing. */
export const WAL_MAX_PAYLOAD = 60 * 1024;
export const DEFAULT_WAL_FILE_BYTES = 16 * 1024 * 1024;
/** A partition fdatasyncs its segment in the background after this many bytes went through the WAL. */
export const WAL_FLUSH_BYTES = 256 * 1024;
export const HEADER_SPACE = 4096;
const MAGIC = Buffer.from('SEALWAL1', 'latin1');
export const HEADER_BYTES = 24;
/** crc, length, salt, partition, topic length, topic id, segment base, position. */
export const FRAME_FIXED = 4 + 4 + 4 + 4 + 2 + 36 + 6 + 6;
export const MAX_TOPIC_BYTES = 255;
const TOPIC_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MAX_POSITION = 2 ** 48 - 1;

/** Where a frame's bytes belong. */
export interface WalPlace {
  readonly topic: string;
  /** topic.json's id: a frame is never replayed into a later topic of the same name. */
  readonly topicId: string;
  readonly partition: number;
  readonly segmentBase: number;
  readonly position: number;
}

export interface WalReplay {
  readonly frames: number;
  readonly bytes: number;
  /** Frames whose topic or segment no longer exists (deleted after they were written). */
  readonly skipped: number;
}

export function walPath(dir: string, index: number): string {
  return join(dir, `${index}.wal`);
}

export function encodeHeader(generation: number, salt: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUIntBE(generation, 8, 6);
  header.writeUInt32BE(salt, 14);
  header.writeUInt32BE(crc32(header.subarray(0, 18)), 18);
  return header;
}

export function decodeHeader(header: Buffer): { generation: number; salt: number } | null {
  if (header.length < HEADER_BYTES || !header.subarray(0, 8).equals(MAGIC)) return null;
  if (header.readUInt32BE(18) !== crc32(header.subarray(0, 18))) return null;
  return { generation: header.readUIntBE(8, 6), salt: header.readUInt32BE(14) };
}

/** The fixed part of a frame and its topic name, CRC included (computed over it and `payload`). */
export function encodeFrameHeader(salt: number, place: WalPlace, topic: Buffer, payload: readonly Buffer[], payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_FIXED + topic.length);
  header.writeUInt32BE(FRAME_FIXED + topic.length + payloadBytes, 4);
  header.writeUInt32BE(salt, 8);
  header.writeUInt32BE(place.partition, 12);
  header.writeUInt16BE(topic.length, 16);
  header.write(place.topicId, 18, 36, 'latin1');
  header.writeUIntBE(place.segmentBase, 54, 6);
  header.writeUIntBE(place.position, 60, 6);
  topic.copy(header, FRAME_FIXED);
  let crc = crc32(header.subarray(4));
  for (const buffer of payload) crc = crc32(buffer, crc);
  header.writeUInt32BE(crc, 0);
  return header;
}

/** The WAL files of `dir` that are in use (frames the next open writes back), for an offline check. */
export async function walFilesInUse(fileSystem: LogFileSystem, dir: string): Promise<string[]> {
  const inUse: string[] = [];
  for (const index of [0, 1]) {
    let fd: number;
    try {
      fd = await fileSystem.open(walPath(dir, index), 'r');
    } catch {
      continue;
    }
    try {
      const head = Buffer.alloc(HEADER_BYTES);
      if ((await fileSystem.read(fd, head, 0, HEADER_BYTES, 0)) === HEADER_BYTES && decodeHeader(head) !== null) inUse.push(`${index}.wal`);
    } finally {
      await fileSystem.close(fd);
    }
  }
  return inUse;
}

/** Where a frame's segment file is, or null when its topic (that incarnation of it) is gone. */
export type SegmentLocator = (topic: string, topicId: string, partition: number, segmentBase: number) => Promise<string | null>;

/** Writes each file's frames back, in order, up to the first that is not whole and current. */
export async function replayFrames(fileSystem: LogFileSystem, locate: SegmentLocator, files: readonly { fd: number; size: number; salt: number }[]): Promise<WalReplay> {
  const targets = new Map<string, number | null>();
  let frames = 0;
  let bytes = 0;
  let skipped = 0;
  try {
    for (const file of files) {
      let position = HEADER_SPACE;
      for (;;) {
        const frame = await readFrame(fileSystem, file.fd, file.size, position, file.salt);
        if (frame === null) break;
        position += frame.length;
        const path = await locate(frame.topic, frame.topicId, frame.partition, frame.segmentBase);
        let fd = path === null ? null : targets.get(path);
        if (path !== null && fd === undefined) {
          try {
            fd = await fileSystem.open(path, 'r+');
          } catch (err) {
            if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
            fd = null;
          }
          targets.set(path, fd);
        }
        if (fd === null || fd === undefined) {
          skipped += 1;
          continue;
        }
        await fileSystem.writev(fd, [frame.payload], frame.position);
        frames += 1;
        bytes += frame.payload.length;
      }
    }
    for (const fd of targets.values()) if (fd !== null) await fileSystem.fdatasync(fd);
  } finally {
    for (const fd of targets.values()) if (fd !== null) await fileSystem.close(fd).catch(() => undefined);
  }
  return { frames, bytes, skipped };
}

interface Frame extends WalPlace {
  readonly length: number;
  readonly payload: Buffer;
}

/** The frame at `position`, or null where the current frames end (zeros, a stale or torn frame). */
async function readFrame(fileSystem: LogFileSystem, fd: number, size: number, position: number, salt: number): Promise<Frame | null> {
  if (position + FRAME_FIXED > size) return null;
  const fixed = Buffer.alloc(FRAME_FIXED);
  if ((await fileSystem.read(fd, fixed, 0, FRAME_FIXED, position)) !== FRAME_FIXED) return null;
  const length = fixed.readUInt32BE(4);
  const topicBytes = fixed.readUInt16BE(16);
  if (fixed.readUInt32BE(8) !== salt || topicBytes === 0 || topicBytes > MAX_TOPIC_BYTES) return null;
  const payloadBytes = length - FRAME_FIXED - topicBytes;
  if (payloadBytes < 1 || payloadBytes > WAL_MAX_PAYLOAD || position + length > size) return null;
  const rest = Buffer.alloc(length - FRAME_FIXED);
  if ((await fileSystem.read(fd, rest, 0, rest.length, position + FRAME_FIXED)) !== rest.length) return null;
  if (crc32(rest, crc32(fixed.subarray(4))) !== fixed.readUInt32BE(0)) return null;
  const topicId = fixed.toString('latin1', 18, 54);
  if (!TOPIC_ID.test(topicId)) return null;
  return {
    length,
    topic: rest.toString('utf8', 0, topicBytes),
    topicId,
    partition: fixed.readUInt32BE(12),
    segmentBase: fixed.readUIntBE(54, 6),
    position: fixed.readUIntBE(60, 6),
    payload: rest.subarray(topicBytes),
  };
}
