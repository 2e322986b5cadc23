/**
 * Reading the audit topic of a LogStore: queries with filters (and a long poll to follow the log),
 * the JSON-lines export that `verifyAuditLog` checks, and the chain head the writer resumes from.
 * Readers never trust what they read: a record that is not an event is skipped by queries and
 * handed on as it is by the export, so that verification names it.
 */
import { SealbusError, isSealbusError } from '../errors/index.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';
import { decodeBatchHeader, decodeRecords, type LogRecord } from '../log/record-batch.js';
import type { LogStore } from '../log/types.js';
import { AUDIT_PARTITION, AUDIT_TOPIC, auditPartitionState } from './audit-topic.js';
import { type AuditHead, GENESIS_HASH } from './chain.js';
import { AUDIT_CHECKPOINT_TYPE, type AuditCheckpoint } from './checkpoint.js';
import { MAX_AUDIT_LINE_BYTES, MalformedEntry, readLogEntry } from './log-entry.js';

const READ_MAX_BYTES = 1024 * 1024;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const DEFAULT_MAX_SCAN_RECORDS = 10_000;
/** How far back from the end the writer looks for the last event before giving up. */
const RESUME_SCAN_RECORDS = 10_000;

export { AUDIT_TOPIC } from './audit-topic.js';

export interface AuditFilter {
  /** `data.principal` equals it. */
  readonly principal?: string;
  /** `data.resource` or `subject` is `topic:<topic>`. */
  readonly topic?: string;
  /** `data.action` equals it. */
  readonly action?: string;
  readonly decision?: 'allow' | 'deny';
  /** The event type exactly, or a prefix ending in `.` (`sealbus.admin.`). */
  readonly type?: string;
  /** ms since the epoch: the event's `time` is at or after it. */
  readonly since?: number;
  /** ms since the epoch: the event's `time` is at or before it. */
  readonly until?: number;
}

export interface AuditQueryOptions {
  /** The chain's topic (`__sealbus.audit.<brokerId>` on a shared store); default `__sealbus.audit`. */
  readonly topic?: string;
  readonly filter?: AuditFilter;
  /**
   * Where to start; default: `filter.since` through store.offsetForTimestamp, else the log start.
   * An offset below the log start is moved up to it, one past the end down to the end.
   */
  readonly fromOffset?: number;
  /** Events returned; default 100, at most 1000. */
  readonly limit?: number;
  /** Records scanned per call; default 10000. */
  readonly maxScanRecords?: number;
  /**
   * When no event matched: wait up to this long for new records and scan them (long poll),
   * returning as soon as one matches, or at the deadline. No wait when the topic does not exist.
   */
  readonly waitMs?: number;
  /** Ends the wait early; the page scanned so far is returned. */
  readonly signal?: AbortSignal;
}

export interface AuditQueryPage {
  /** Parsed events as stored, in log order; checkpoints and malformed records are skipped. */
  readonly events: Record<string, unknown>[];
  /** The offset to continue from: after the last record scanned. */
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly scanned: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

/** A record value as an audit entry: its parsed JSON, or a MalformedEntry saying why it is none. */
export function parseAuditRecordValue(value: Buffer | null): unknown {
  if (value === null) return new MalformedEntry('the record has no value');
  if (value.length > MAX_AUDIT_LINE_BYTES) return new MalformedEntry(`the record is larger than ${MAX_AUDIT_LINE_BYTES} bytes`);
  try {
    return parseJson(value, 'audit record');
  } catch (err) {
    const limit = jsonLimitReason(err);
    return new MalformedEntry(limit === null ? 'the record is not JSON' : `the record ${limit}`);
  }
}

/** Loose on purpose: a query shows what is stored; whether it is intact is for verification. */
function isEventRecord(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && typeof value['type'] === 'string' && value['type'] !== AUDIT_CHECKPOINT_TYPE && typeof value['sealbusseq'] === 'number';
}

export function matchesAuditFilter(event: Record<string, unknown>, filter: AuditFilter): boolean {
  const data = isRecord(event['data']) ? event['data'] : {};
  if (filter.principal !== undefined && data['principal'] !== filter.principal) return false;
  if (filter.topic !== undefined) {
    const resource = `topic:${filter.topic}`;
    if (data['resource'] !== resource && event['subject'] !== resource) return false;
  }
  if (filter.action !== undefined && data['action'] !== filter.action) return false;
  if (filter.decision !== undefined && data['decision'] !== filter.decision) return false;
  if (filter.type !== undefined) {
    const type = event['type'];
    if (typeof type !== 'string') return false;
    if (filter.type.endsWith('.') ? !type.startsWith(filter.type) : type !== filter.type) return false;
  }
  if (filter.since !== undefined || filter.until !== undefined) {
    const time = typeof event['time'] === 'string' ? Date.parse(event['time']) : Number.NaN;
    if (Number.isNaN(time)) return false;
    if (filter.since !== undefined && time < filter.since) return false;
    if (filter.until !== undefined && time > filter.until) return false;
  }
  return true;
}

/**
 * Where to go on when `offset` cannot be read: past a range the store quarantined as corrupted, or
 * to the log start when retention deleted it. Null when the error is something else.
 */
async function unreadable(store: LogStore, topic: string, err: unknown, offset: number): Promise<{ next: number; why: string; retention: boolean } | null> {
  if (isSealbusError(err, 'SEALBUS_ERR_RECORDS_CORRUPTED')) {
    const next = err.details?.['next'];
    return typeof next === 'number' && next > offset ? { next, why: 'they failed their checksum', retention: false } : null;
  }
  if (isSealbusError(err, 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE')) {
    const state = await auditPartitionState(store, topic);
    if (state === null) return null;
    if (offset < state.logStartOffset) return { next: state.logStartOffset, why: 'retention deleted them during the export', retention: true };
  }
  return null;
}

function decodeOrNull(batch: Buffer): LogRecord[] | null {
  try {
    return decodeRecords(batch);
  } catch {
    return null;
  }
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw invalid(`${name} must be an integer >= ${min}`);
  return value;
}

interface Cursor {
  readonly topic: string;
  offset: number;
  highWatermark: number;
  scanned: number;
  readonly events: Record<string, unknown>[];
  readonly limit: number;
  readonly maxScan: number;
  readonly filter: AuditFilter;
}

/** Scans one batch into the page; false once the page is full. */
function scanBatch(cursor: Cursor, batch: Buffer): boolean {
  const records = decodeOrNull(batch);
  if (records === null) {
    const header = decodeBatchHeader(batch);
    if (header !== null) cursor.offset = Math.max(cursor.offset, header.baseOffset + header.recordCount);
    return true;
  }
  for (const record of records) {
    if (record.offset < cursor.offset) continue; // a batch may start before the offset asked for
    if (cursor.events.length >= cursor.limit || cursor.scanned >= cursor.maxScan) return false;
    cursor.scanned += 1;
    cursor.offset = record.offset + 1;
    const value = parseAuditRecordValue(record.value);
    if (isEventRecord(value) && matchesAuditFilter(value, cursor.filter)) cursor.events.push(value);
  }
  return true;
}

/** Scans from the cursor to the end of the log, or until the page or the scan budget is full. */
async function scan(store: LogStore, cursor: Cursor): Promise<void> {
  while (cursor.events.length < cursor.limit && cursor.scanned < cursor.maxScan) {
    let result;
    try {
      result = await store.read(cursor.topic, AUDIT_PARTITION, cursor.offset, { maxBytes: READ_MAX_BYTES, maxRecords: cursor.maxScan - cursor.scanned });
    } catch (err) {
      const skip = await unreadable(store, cursor.topic, err, cursor.offset);
      if (skip === null) throw err;
      cursor.offset = skip.next;
      continue;
    }
    cursor.highWatermark = result.highWatermark;
    if (result.batches.length === 0) return;
    for (const batch of result.batches) if (!scanBatch(cursor, batch)) return;
  }
}

/** Waits for records after the cursor and scans them, until one matches or `waitMs` ran out. */
async function longPoll(store: LogStore, cursor: Cursor, waitMs: number, external: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (cursor.events.length === 0 && cursor.scanned < cursor.maxScan) {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || external?.aborted === true) return;
    const timeout = AbortSignal.timeout(remaining);
    const signal = external === undefined ? timeout : AbortSignal.any([timeout, external]);
    try {
      await store.waitForData(cursor.topic, AUDIT_PARTITION, cursor.offset, signal);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    await scan(store, cursor);
  }
}

/**
 * One page of the events matching `options.filter`, in log order. Throws SEALBUS_ERR_REQUEST_INVALID
 * for a limit, scan bound, offset or wait that is not a non-negative integer.
 */
export async function queryAuditLog(store: LogStore, options: AuditQueryOptions = {}): Promise<AuditQueryPage> {
  const limit = Math.min(checkCount('limit', options.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);
  const maxScan = checkCount('maxScanRecords', options.maxScanRecords ?? DEFAULT_MAX_SCAN_RECORDS, 1);
  const waitMs = checkCount('waitMs', options.waitMs ?? 0, 0);
  if (options.fromOffset !== undefined) checkCount('fromOffset', options.fromOffset, 0);
  const filter = options.filter ?? {};
  const topic = options.topic ?? AUDIT_TOPIC;
  const state = await auditPartitionState(store, topic);
  if (state === null) return { events: [], nextOffset: options.fromOffset ?? 0, highWatermark: 0, scanned: 0 };
  const start =
    options.fromOffset ?? (filter.since !== undefined ? await store.offsetForTimestamp(topic, AUDIT_PARTITION, filter.since) : state.logStartOffset);
  const cursor: Cursor = {
    topic,
    offset: Math.min(Math.max(start, state.logStartOffset), state.highWatermark),
    highWatermark: state.highWatermark,
    scanned: 0,
    events: [],
    limit,
    maxScan,
    filter,
  };
  await scan(store, cursor);
  if (cursor.events.length === 0 && waitMs > 0) await longPoll(store, cursor, waitMs, options.signal);
  return { events: cursor.events, nextOffset: cursor.offset, highWatermark: cursor.highWatermark, scanned: cursor.scanned };
}

/**
 * A line in place of records that cannot be exported. It is deliberately not JSON: verification
 * reports it as malformed at its position, so the reader learns where the log is damaged instead
 * of getting a shorter log that might verify. The text says which offsets and why.
 */
function unexportedLine(topic: string, from: number, to: number, why: string): string {
  return `!sealbus-export: offsets ${from}..${to} of ${topic} were not exported: ${why}`;
}

function exportLine(topic: string, record: LogRecord): string {
  if (record.value === null) return unexportedLine(topic, record.offset, record.offset, 'the record has no value');
  const text = record.value.toString('utf8');
  // One record, one line: a value holding a line break would shift every position after it.
  if (/[\r\n]/.test(text)) return unexportedLine(topic, record.offset, record.offset, 'the record holds a line break');
  return text;
}

/**
 * Every record (events and checkpoints) as JSON lines without the newline, in log order, from the
 * log start or from the first batch stamped at or after `since`, up to the end of the log when the
 * export started. Malformed records are yielded as stored; records the store cannot serve (a
 * corrupted range, or retention deleting them during the export) become one line that is not JSON
 * per range, so that verification names the place. Yields nothing when the topic does not exist.
 * Throws the signal's reason once it aborts.
 */
export async function* exportAuditLog(store: LogStore, options: { topic?: string; since?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
  const topic = options.topic ?? AUDIT_TOPIC;
  const state = await auditPartitionState(store, topic);
  if (state === null) return;
  const end = state.highWatermark;
  let offset = options.since === undefined ? state.logStartOffset : await store.offsetForTimestamp(topic, AUDIT_PARTITION, options.since);
  offset = Math.max(offset, state.logStartOffset);
  let started = false;
  while (offset < end) {
    options.signal?.throwIfAborted();
    let result;
    try {
      result = await store.read(topic, AUDIT_PARTITION, offset, { maxBytes: READ_MAX_BYTES });
    } catch (err) {
      const skip = await unreadable(store, topic, err, offset);
      if (skip === null) throw err;
      // Retention moving the start before anything was exported only makes the export start later.
      if (started || !skip.retention) yield unexportedLine(topic, offset, Math.min(skip.next, end) - 1, skip.why);
      offset = skip.next;
      continue;
    }
    if (result.batches.length === 0) return;
    started = true;
    for (const batch of result.batches) {
      const records = decodeOrNull(batch);
      if (records === null) {
        const header = decodeBatchHeader(batch);
        const next = header === null ? offset + 1 : Math.max(offset + 1, header.baseOffset + header.recordCount);
        yield unexportedLine(topic, offset, Math.min(next, end) - 1, 'the batch could not be decoded');
        offset = next;
        continue;
      }
      for (const record of records) {
        if (record.offset < offset) continue;
        if (record.offset >= end) return;
        yield exportLine(topic, record);
        offset = record.offset + 1;
      }
    }
  }
}

/** Where the writer resumes the chain, read from the end of the stored log. */
export interface StoredAuditHead {
  /** The chain head: after the last event, or a later checkpoint's statement when that covers more. */
  readonly head: AuditHead;
  /** Whether a trusted checkpoint after the last event covers the head: no checkpoint is due yet. */
  readonly signed: boolean;
}

interface BackwardScan {
  readonly topic: string;
  /** Offsets below this are still to be looked at. */
  end: number;
  scanned: number;
  /** The newest trusted checkpoint found after every event seen so far. */
  checkpoint: AuditCheckpoint | null;
  event: AuditHead | null;
}

/** Looks at the batch holding offset `scan.end - 1`, newest record first; false when it cannot go further back. */
async function stepBack(store: LogStore, scan: BackwardScan, trusted: (checkpoint: AuditCheckpoint) => boolean): Promise<boolean> {
  let batch: Buffer | undefined;
  try {
    batch = (await store.read(scan.topic, AUDIT_PARTITION, scan.end - 1, { maxBytes: 1 })).batches[0];
  } catch (err) {
    const from = isSealbusError(err, 'SEALBUS_ERR_RECORDS_CORRUPTED') ? err.details?.['from'] : undefined;
    if (typeof from === 'number' && from < scan.end) {
      scan.end = from; // skip back past the quarantined range; verification reports it
      return true;
    }
    if (isSealbusError(err, 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE')) return false;
    throw err;
  }
  const header = batch === undefined ? null : decodeBatchHeader(batch);
  if (batch === undefined || header === null || header.baseOffset >= scan.end) return false;
  const records = decodeOrNull(batch) ?? [];
  for (let i = records.length - 1; i >= 0 && scan.event === null; i--) {
    const record = records[i]!;
    if (record.offset >= scan.end) continue;
    scan.scanned += 1;
    const entry = readLogEntry(parseAuditRecordValue(record.value));
    if (entry.kind === 'event') scan.event = { count: entry.seq + 1, headHash: entry.hash };
    else if (entry.kind === 'checkpoint' && scan.checkpoint === null && trusted(entry.checkpoint)) scan.checkpoint = entry.checkpoint;
  }
  scan.end = header.baseOffset;
  return true;
}

/**
 * The head to continue the chain from: reads the log backwards from its end, batch by batch, to
 * the last event (skipping malformed records and corrupted ranges, which verification reports).
 * A trusted checkpoint after it that covers at least as much wins: its signed statement is what
 * verification checks the next events against. An empty topic starts a fresh chain. Throws
 * SEALBUS_ERR_AUDIT_UNAVAILABLE when records exist but neither an event nor a trusted checkpoint is
 * found within the last 10000 records: continuing from a guess would fork the chain.
 */
export async function readAuditHead(store: LogStore, trusted: (checkpoint: AuditCheckpoint) => boolean, topic: string = AUDIT_TOPIC): Promise<StoredAuditHead> {
  const state = await auditPartitionState(store, topic);
  if (state === null) throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic });
  const scan: BackwardScan = { topic, end: state.highWatermark, scanned: 0, checkpoint: null, event: null };
  while (scan.event === null && scan.end > state.logStartOffset && scan.scanned < RESUME_SCAN_RECORDS) {
    if (!(await stepBack(store, scan, trusted))) break;
  }
  const { event, checkpoint } = scan;
  if (checkpoint !== null && (event === null || checkpoint.data.count >= event.count)) {
    return { head: { count: checkpoint.data.count, headHash: checkpoint.data.headHash }, signed: true };
  }
  if (event !== null) return { head: event, signed: false };
  if (state.highWatermark === 0 || (state.logStartOffset === 0 && scan.end === 0)) return { head: { count: 0, headHash: GENESIS_HASH }, signed: true };
  throw new SealbusError('SEALBUS_ERR_AUDIT_UNAVAILABLE', {
    reason: `no event or checkpoint to continue the chain from was found in ${topic} (offsets ${state.logStartOffset}..${state.highWatermark - 1})`,
  });
}
