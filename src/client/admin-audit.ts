/**
 * The audit API of the SDK (`/v1/audit`): query with filters, follow live, export every record,
 * and the broker's audit public keys. Every call needs `read-audit` on the cluster. `Admin`
 * exposes these as methods; they take the HTTP client so that they can be tested on their own.
 */
import type { AuditPublicJwk } from '../audit/checkpoint.js';
import { MAX_AUDIT_LINE_BYTES } from '../audit/log-entry.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { DEFAULT_RETRY, backoffDelay, type RetryOptions } from './backoff.js';
import type { HttpClient } from './https-client.js';
import { splitLines } from './json-lines.js';

export type { AuditPublicJwk } from '../audit/checkpoint.js';

/** A point in time for the API: milliseconds since the epoch, a Date, or an RFC 3339 string. */
export type AuditTime = number | Date | string;

/** What `queryAudit` and `followAudit` ask for; every filter narrows, none is required. */
export interface AuditQuery {
  /** Events of this principal (`data.principal`). */
  readonly principal?: string;
  /** Events about this topic (resource `topic:<name>`). */
  readonly topic?: string;
  /** Events of this policy action (`produce`, `create`, `read-audit`, ...). */
  readonly action?: string;
  readonly decision?: 'allow' | 'deny';
  /** An event type (`sealbus.auth.failure`), or a prefix ending in `.` (`sealbus.auth.`). */
  readonly type?: string;
  /** Events at or after this time. */
  readonly since?: AuditTime;
  /** Events before this time. */
  readonly until?: AuditTime;
  /** The offset to read from in the audit log: the `next` of an earlier page. Default: the start. */
  readonly from?: number;
  /** Events in one page, 1 to 1000 (default 100). */
  readonly limit?: number;
  /** Long poll: wait up to this long (at most 30 s, and the broker's `limits.longPollMaxMs`) for a matching new event. */
  readonly waitMs?: number;
  /** On a shared store (docs/cluster.md): the id of the broker whose chain to read; default the broker asked. */
  readonly broker?: string;
}

/** An audit record as stored: a CloudEvents event (with `sealbusseq`, `sealbusprev`). */
export type AuditRecord = Readonly<Record<string, unknown>>;

/** One page of a query. */
export interface AuditPage {
  readonly events: AuditRecord[];
  /** Where the next page starts: pass it as `from`. */
  readonly next: number;
  /** The audit log's end when the page was read: caught up once `next` reaches it. */
  readonly highWatermark: number;
}

/** The broker's audit keys, to verify the checkpoints of its log. */
export interface AuditKeys {
  /** The broker's name in its events: `sealbus://<broker-id>`. */
  readonly source: string;
  readonly keys: AuditPublicJwk[];
}

export interface FollowAuditOptions {
  /** Long poll of each request; default 20 s (below the client's 30 s request timeout). */
  readonly waitMs?: number;
  /** Retries of retriable failures (a broker restart) in a row before giving up; default DEFAULT_RETRY. */
  readonly retry?: RetryOptions;
  readonly random?: () => number;
}

export const DEFAULT_FOLLOW_WAIT_MS = 20_000;

function unexpected(what: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: `client: unexpected ${what}` });
}

function timeParameter(time: AuditTime): string {
  if (typeof time === 'string') return time;
  return String(time instanceof Date ? time.getTime() : time);
}

/** The query string of `/v1/audit` for `query` (with its leading `?`, or empty). */
export function auditQueryString(query: AuditQuery): string {
  const params = new URLSearchParams();
  for (const name of ['broker', 'principal', 'topic', 'action', 'decision', 'type'] as const) {
    const value = query[name];
    if (value !== undefined) params.set(name, value);
  }
  if (query.since !== undefined) params.set('since', timeParameter(query.since));
  if (query.until !== undefined) params.set('until', timeParameter(query.until));
  if (query.from !== undefined) params.set('from', String(query.from));
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.waitMs !== undefined) params.set('waitMs', String(query.waitMs));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function asPage(body: unknown): AuditPage {
  const page = body as { events?: unknown; next?: unknown; highWatermark?: unknown } | null;
  if (page === null || typeof page !== 'object' || !Array.isArray(page.events) || typeof page.next !== 'number' || typeof page.highWatermark !== 'number') {
    throw unexpected('audit page');
  }
  return { events: page.events as AuditRecord[], next: page.next, highWatermark: page.highWatermark };
}

/** One page of audit events matching `query`. */
export async function queryAudit(http: HttpClient, query: AuditQuery, signal?: AbortSignal): Promise<AuditPage> {
  const { body } = await http.request('GET', `/v1/audit${auditQueryString(query)}`, undefined, signal === undefined ? {} : { signal });
  return asPage(body);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls `onEvent` for every event matching `query` from `query.from` on, then for each new one as
 * it is written, until `signal` aborts (then it resolves). Each request is a long poll on the
 * client's kept-alive connection, so an idle follower costs one request per `waitMs`, not a new
 * connection. Retriable failures are retried with backoff; others reject.
 */
export async function followAudit(
  http: HttpClient,
  query: AuditQuery,
  onEvent: (event: AuditRecord) => void,
  signal: AbortSignal,
  options: FollowAuditOptions = {},
): Promise<void> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  const waitMs = query.waitMs ?? options.waitMs ?? DEFAULT_FOLLOW_WAIT_MS;
  let from = query.from;
  let failures = 0;
  while (!signal.aborted) {
    let page: AuditPage;
    try {
      page = await queryAudit(http, { ...query, waitMs, ...(from !== undefined && { from }) }, signal);
    } catch (err) {
      if (signal.aborted) return;
      failures += 1;
      if (!isSealbusError(err) || !err.retriable || failures >= retry.maxAttempts) throw err;
      await pause(backoffDelay(failures, retry, random), signal);
      continue;
    }
    failures = 0;
    for (const event of page.events) onEvent(event);
    from = page.next;
  }
}

/**
 * Every record of the audit log (events and checkpoints), in order, as JSON lines without their
 * newline: what `sealbus audit verify --file` reads. `since` starts at the first record at or
 * after that time (the result then starts after seq 0: verify it as partial). Streamed: memory
 * stays bounded however long the log. A line over 64 KiB is cut at 64 KiB + 1 bytes, so that it
 * still reads as malformed.
 */
export async function* exportAudit(http: HttpClient, options: { since?: AuditTime; broker?: string; signal?: AbortSignal } = {}): AsyncGenerator<string> {
  if (http.stream === undefined) throw unexpected('HTTP client without streaming: exportAudit needs HttpClient.stream');
  const params = new URLSearchParams();
  if (options.broker !== undefined) params.set('broker', options.broker);
  if (options.since !== undefined) params.set('since', timeParameter(options.since));
  const query = params.toString();
  const { body } = await http.stream(`/v1/audit/export${query === '' ? '' : `?${query}`}`, options.signal === undefined ? {} : { signal: options.signal });
  yield* splitLines(body, MAX_AUDIT_LINE_BYTES);
}

/**
 * The broker's audit public keys (Ed25519 JWKs with their `kid`) and its source name; with
 * `broker`, those another broker on the shared store published (as trustworthy as the store).
 */
export async function auditKeys(http: HttpClient, broker?: string): Promise<AuditKeys> {
  const { body } = await http.request('GET', broker === undefined ? '/v1/audit/keys' : `/v1/audit/keys?broker=${encodeURIComponent(broker)}`);
  const keys = body as { source?: unknown; keys?: unknown } | null;
  if (keys === null || typeof keys !== 'object' || typeof keys.source !== 'string' || !Array.isArray(keys.keys)) throw unexpected('audit keys');
  return { source: keys.source, keys: keys.keys as AuditPublicJwk[] };
}
