/**
 * Reading the records of an audit log for verification: each entry is an event of the chain, a
 * checkpoint, or malformed. Checks here are about shape and size only, and deliberately loose about
 * what an event says (an unknown type from a newer broker is still an event): whether an event was
 * edited is for the chain and the checkpoints to tell.
 */
import { SealbusError } from '../errors/index.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';
import { canonicalBytes, sha256Hex } from './canonical-json.js';
import { AUDIT_CHECKPOINT_TYPE, type AuditCheckpoint, parseCheckpoint } from './checkpoint.js';

/** A line (or a record) of more than 64 KiB is malformed, whatever it holds. */
export const MAX_AUDIT_LINE_BYTES = 64 * 1024;

/** An entry that could not even be parsed; `parseAuditLines` yields it, verification reports it. */
export class MalformedEntry {
  constructor(readonly reason: string) {}
}

export type LogEntry =
  | { readonly kind: 'event'; readonly seq: number; readonly prev: string; readonly hash: string }
  | { readonly kind: 'checkpoint'; readonly checkpoint: AuditCheckpoint }
  | { readonly kind: 'malformed'; readonly seq: number | null; readonly reason: string };

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function parseLine(line: string): unknown {
  if (Buffer.byteLength(line, 'utf8') > MAX_AUDIT_LINE_BYTES) return new MalformedEntry(`the line is longer than ${MAX_AUDIT_LINE_BYTES} bytes`);
  if (line.trim() === '') return new MalformedEntry('the line is empty');
  try {
    return parseJson(line, 'audit line');
  } catch (err) {
    const limit = jsonLimitReason(err);
    return new MalformedEntry(limit === null ? 'the line is not JSON' : `the line ${limit}`);
  }
}

/**
 * The entries of a JSON-lines export, one per line, in order: entry `i` is line `i + 1`. A line
 * that is empty, not JSON or over 64 KiB becomes a MalformedEntry rather than an exception, so
 * verification can name its position. One final newline is expected; `\r\n` is accepted. For
 * files too large to hold in memory, pass the lines (strings) to `verifyAuditLog` as they are read.
 */
export function parseAuditLines(text: string): unknown[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => parseLine(line.endsWith('\r') ? line.slice(0, -1) : line));
}

function seqOf(value: Record<string, unknown>): number | null {
  const seq = value['sealbusseq'];
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}

function malformed(seq: number | null, reason: string): LogEntry {
  return { kind: 'malformed', seq, reason };
}

function readEvent(value: Record<string, unknown>): LogEntry {
  const seq = seqOf(value);
  if (seq === null) return malformed(null, 'sealbusseq is not an integer >= 0');
  const prev = value['sealbusprev'];
  if (typeof prev !== 'string' || !HEX_SHA256.test(prev)) return malformed(seq, 'sealbusprev is not a lowercase hex SHA-256');
  if (value['specversion'] !== '1.0') return malformed(seq, 'specversion is not "1.0"');
  for (const attribute of ['id', 'source', 'type', 'time']) {
    if (typeof value[attribute] !== 'string') return malformed(seq, `${attribute} is not a string`);
  }
  if (value['type'] === AUDIT_CHECKPOINT_TYPE) return malformed(seq, 'a checkpoint is not part of the chain but has a sealbusseq');
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(value);
  } catch (err) {
    if (err instanceof SealbusError) return malformed(seq, err.message);
    throw err;
  }
  if (bytes.length > MAX_AUDIT_LINE_BYTES) return malformed(seq, `the event is larger than ${MAX_AUDIT_LINE_BYTES} bytes`);
  return { kind: 'event', seq, prev, hash: sha256Hex(bytes) };
}

/** Classifies one entry: a JSON line (string), a MalformedEntry, or an already parsed record. */
export function readLogEntry(entry: unknown): LogEntry {
  const value = typeof entry === 'string' ? parseLine(entry) : entry;
  if (value instanceof MalformedEntry) return malformed(null, value.reason);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed(null, 'the entry is not a JSON object');
  const record = value as Record<string, unknown>;
  if (record['type'] === AUDIT_CHECKPOINT_TYPE && !('sealbusseq' in record)) {
    try {
      return { kind: 'checkpoint', checkpoint: parseCheckpoint(record) };
    } catch (err) {
      if (err instanceof SealbusError) return malformed(null, err.message);
      throw err;
    }
  }
  return readEvent(record);
}
