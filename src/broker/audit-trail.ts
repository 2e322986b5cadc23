/**
 * The broker's side of the audit log: turns actors, actions, resources and decisions into audit
 * events (what they say: audit-event-data.ts) and applies the fail mode. Storage (the hash chain,
 * checkpoints, group commit) is the AuditLog's business (src/audit); this class decides *what* is
 * recorded, *when* an operation must wait for its event, and what happens when the log cannot be
 * written:
 *
 * - `closed` (the default): while the log is unavailable, operations it must record are refused up
 *   front (SEALBUS_ERR_AUDIT_UNAVAILABLE), and an operation's reply waits until its event is durable.
 * - `open`: operations go on; events that could not be written are counted (`dropped`).
 *
 * Volume: allow decisions and authentication successes are recorded once per connection (a
 * keep-alive HTTP connection or a WebSocket session) and key, never per request; denials and
 * failures always. Data access is per batch, per session, or not at all (`dataAccess`).
 */
import type { AuditAppendInput, AuditEventData, AuditEventType } from '../audit/index.js';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { decodeBatchHeader } from '../log/record-batch.js';
import type { AppendResult, PlacedBatch } from '../log/types.js';
import type { Action, Actor, Decision, Resource } from './access.js';
import { accessOf, actorData, auditText, dataEvent, redacted, resourceName, type DataAccess } from './audit-event-data.js';

/** Where events go: the AuditLog in a broker, an array in tests. */
export interface AuditSink {
  readonly available: boolean;
  readonly unavailableReason: string | null;
  /** Resolves once the event is durable; rejects SEALBUS_ERR_AUDIT_UNAVAILABLE or SEALBUS_ERR_AUDIT_INVALID. */
  append(input: AuditAppendInput): Promise<unknown>;
}

export type AuditFailMode = 'closed' | 'open';
export type DataAccessDetail = 'batch' | 'session' | 'none';

export interface AuditTrailOptions {
  readonly sink: AuditSink;
  readonly failMode: AuditFailMode;
  readonly dataAccess: DataAccessDetail;
  /** An event was lost (open mode, or an event recorded in the background): count it, alert on it. */
  readonly onDropped?: (err: unknown) => void;
  /** Counts what passes through the trail (metrics), whatever is recorded. */
  readonly observer?: TrailObserver;
}

/** Called synchronously, once per batch, decision or failure (never per record); must not throw. */
export interface TrailObserver {
  /** A batch appended (not a retry of a stored one): its records and bytes. */
  produced(topic: string, records: number, bytes: number): void;
  /** Stored batches delivered to a consumer. */
  consumed(topic: string, records: number, bytes: number): void;
  denied(action: Action, rule: string): void;
  authFailed(code: string): void;
}


/** Who tried to authenticate, as far as it is known when authentication fails. */
export interface AuthAttempt {
  readonly certificate?: { readonly subject: string; readonly fingerprint256: string } | null;
  readonly principal?: string;
  readonly sourceIp?: string | null;
  readonly sessionId?: string;
  readonly requestId?: string;
}

/** Keys remembered per connection for deduplication; beyond it, events are recorded again. */
const MAX_SEEN_PER_SESSION = 1024;
/** Tallies of data access per session (session detail): beyond it, the oldest are written early. */
const MAX_TALLIES_PER_SESSION = 1024;




interface Tally {
  readonly type: 'sealbus.data.produce' | 'sealbus.data.consume';
  readonly actor: Actor;
  readonly topic: string;
  readonly partition: number;
  records: number;
  bytes: number;
  batches: number;
  firstOffset: number;
  lastOffset: number;
  rule: string;
}

interface SessionState {
  readonly seen: Set<string>;
  readonly tallies: Map<string, Tally>;
}

export class AuditTrail {
  readonly #sink: AuditSink;
  readonly failMode: AuditFailMode;
  readonly dataAccess: DataAccessDetail;
  readonly #onDropped: (err: unknown) => void;
  readonly #observer: TrailObserver | undefined;
  readonly #sessions = new Map<string, SessionState>();

  constructor(options: AuditTrailOptions) {
    this.#sink = options.sink;
    this.failMode = options.failMode;
    this.dataAccess = options.dataAccess;
    this.#onDropped = options.onDropped ?? (() => {});
    this.#observer = options.observer;
  }

  /** Closed mode: throws SEALBUS_ERR_AUDIT_UNAVAILABLE while the log cannot be written. */
  assertAvailable(): void {
    if (this.failMode === 'closed' && !this.#sink.available) {
      throw new SealbusError('SEALBUS_ERR_AUDIT_UNAVAILABLE', { reason: this.#sink.unavailableReason ?? 'the audit log is not writable' });
    }
  }

  /**
   * Records an event the operation depends on. Closed mode: resolves once it is durable, and
   * rejects SEALBUS_ERR_AUDIT_UNAVAILABLE when it cannot be written (the operation reports that).
   * Open mode: resolves at once; a failure is counted.
   */
  async record(input: AuditAppendInput): Promise<void> {
    const written = this.#append(input);
    if (this.failMode === 'open') {
      written.catch((err: unknown) => this.#onDropped(err));
      return;
    }
    await written;
  }

  /** Records in the background, whatever the mode: for events no reply waits on (denials, failures). */
  note(input: AuditAppendInput): void {
    this.#append(input).catch((err: unknown) => this.#onDropped(err));
  }

  /**
   * Appends, and when the event itself is refused (something in it looks like a secret, a value
   * is out of bounds) records the same event stripped to what is safe, saying why: an attacker
   * must not be able to keep an action out of the log by naming themselves like a token.
   */
  async #append(input: AuditAppendInput): Promise<void> {
    try {
      await this.#sink.append(input);
    } catch (err) {
      if (!isSealbusError(err, 'SEALBUS_ERR_AUDIT_INVALID')) throw err;
      await this.#sink.append(redacted(input, err.message));
    }
  }

  /**
   * An authorization decision. Denials are always recorded; an allow once per connection and
   * (action, resource). Data actions (produce, consume) allowed are recorded by their data events.
   */
  decision(actor: Actor, action: Action, resource: Resource, decision: Decision): void {
    const allowed = decision.allowed;
    if (!allowed) this.#observer?.denied(action, decision.rule);
    if (allowed && (action === 'produce' || action === 'consume')) return;
    if (allowed && this.#seenBefore(actor.sessionId, `authz ${action} ${resourceName(resource)} ${actor.token?.jti ?? actor.name}`)) return;
    const resourceText = auditText(resourceName(resource));
    this.note({
      type: 'sealbus.authz.decision',
      subject: resourceText,
      data: actorData(actor, { action, resource: resourceText, decision: allowed ? 'allow' : 'deny', rule: auditText(decision.rule) }),
    });
  }

  /** A successful authentication: once per connection and token (a refresh is a new token). */
  authSuccess(actor: Actor & { readonly via?: string }): void {
    if (this.#seenBefore(actor.sessionId, `auth ${actor.token?.jti ?? ''} ${actor.name}`)) return;
    this.note({ type: 'sealbus.auth.success', data: actorData(actor, actor.via !== undefined ? { method: actor.via } : undefined) });
  }

  authFailure(attempt: AuthAttempt, code: string): void {
    this.#observer?.authFailed(code);
    this.note({
      type: 'sealbus.auth.failure',
      data: {
        code,
        ...(attempt.principal !== undefined && { principal: auditText(attempt.principal) }),
        ...(attempt.certificate !== undefined &&
          attempt.certificate !== null && { certificate: { subject: auditText(attempt.certificate.subject), thumbprint: attempt.certificate.fingerprint256 } }),
        ...(attempt.sourceIp !== undefined && attempt.sourceIp !== null && { sourceIp: attempt.sourceIp }),
        ...(attempt.sessionId !== undefined && { sessionId: attempt.sessionId }),
        ...(attempt.requestId !== undefined && { requestId: attempt.requestId }),
      },
    });
  }

  /**
   * A batch produced or consumed. `batch` detail: recorded now (closed mode: the caller's reply
   * waits for it). `session` detail: added to the connection's tally, written when it ends.
   */
  async data(kind: 'produce' | 'consume', actor: Actor, access: DataAccess): Promise<void> {
    if (this.dataAccess === 'none' || access.records === 0) return;
    const type = kind === 'produce' ? 'sealbus.data.produce' : 'sealbus.data.consume';
    if (this.dataAccess === 'session' && actor.sessionId !== undefined) {
      this.#tally(type, actor, access);
      return;
    }
    await this.record(dataEvent(kind, actor, access));
  }

  /**
   * Whether a produce by `actor` is answered only once its own event is durable (closed mode, one
   * event per batch): only then is it worth starting that event early (`beginProduced`).
   */
  awaitsEachProduce(actor: Actor): boolean {
    return this.failMode === 'closed' && (this.dataAccess === 'batch' || (this.dataAccess === 'session' && actor.sessionId === undefined));
  }

  /**
   * Starts writing the data event of a batch the store has placed (given its offsets) but not yet
   * made durable, so that the event's fsync runs alongside the log's: the caller hands the result
   * to `produced`, which awaits it. The event is the one `produced` would write after the append.
   * Returns null when the event is not written that way (see awaitsEachProduce; an empty batch):
   * `produced` then does as usual. The write never goes unhandled: if the append fails and nobody
   * awaits it, its outcome is dropped (the event records an attempt that was not acknowledged).
   */
  beginProduced(actor: Actor, where: { readonly topic: string; readonly partition: number; readonly rule: string }, placed: PlacedBatch, bytes: number): Promise<void> | null {
    if (!this.awaitsEachProduce(actor) || placed.count === 0) return null;
    const access = accessOf(where, placed.count, bytes, placed.baseOffset, placed.baseOffset + placed.count - 1);
    const written = this.#append(dataEvent('produce', actor, access));
    written.catch(() => {});
    return written;
  }

  /**
   * The data event of an appended batch (a retry stored before is recorded with its original
   * offsets). `started`: the write `beginProduced` started for this batch, awaited instead of a new one.
   */
  async produced(
    actor: Actor,
    where: { readonly topic: string; readonly partition: number; readonly rule: string },
    result: AppendResult,
    bytes: number,
    started: Promise<void> | null = null,
  ): Promise<void> {
    if (!result.duplicate) this.#observer?.produced(where.topic, result.count, bytes);
    if (started !== null) return started;
    await this.data('produce', actor, accessOf(where, result.count, bytes, result.baseOffset, result.baseOffset + result.count - 1));
  }

  /** The data event of stored batches read for a consumer: their record count and offset range. */
  async consumed(actor: Actor, where: { readonly topic: string; readonly partition: number; readonly rule: string }, batches: readonly Buffer[]): Promise<void> {
    if (batches.length === 0 || (this.dataAccess === 'none' && this.#observer === undefined)) return;
    let records = 0;
    let bytes = 0;
    for (const batch of batches) {
      records += decodeBatchHeader(batch)?.recordCount ?? 0;
      bytes += batch.length;
    }
    this.#observer?.consumed(where.topic, records, bytes);
    if (this.dataAccess === 'none') return;
    const first = decodeBatchHeader(batches[0]!);
    const last = decodeBatchHeader(batches[batches.length - 1]!);
    if (first === null || last === null) return;
    await this.data('consume', actor, accessOf(where, records, bytes, first.baseOffset, last.baseOffset + last.recordCount - 1));
  }

  /** An administrative change that happened (closed mode: the reply waits for its event). */
  async admin(type: AuditEventType, actor: Actor, resource: Resource, extra: AuditEventData = {}): Promise<void> {
    const resourceText = auditText(resourceName(resource));
    await this.record({ type, subject: resourceText, data: actorData(actor, { resource: resourceText, ...extra }) });
  }

  /** The connection ended: its tallies are written and its memory released. */
  endSession(sessionId: string): void {
    const state = this.#sessions.get(sessionId);
    if (state === undefined) return;
    this.#sessions.delete(sessionId);
    for (const tally of state.tallies.values()) this.#writeTally(tally);
  }

  /** Writes every open tally (the broker is stopping). */
  endAllSessions(): void {
    for (const sessionId of [...this.#sessions.keys()]) this.endSession(sessionId);
  }

  #state(sessionId: string): SessionState {
    let state = this.#sessions.get(sessionId);
    if (state === undefined) this.#sessions.set(sessionId, (state = { seen: new Set(), tallies: new Map() }));
    return state;
  }

  #seenBefore(sessionId: string | undefined, key: string): boolean {
    if (sessionId === undefined) return false;
    const { seen } = this.#state(sessionId);
    if (seen.has(key)) return true;
    if (seen.size >= MAX_SEEN_PER_SESSION) seen.clear();
    seen.add(key);
    return false;
  }

  #tally(type: Tally['type'], actor: Actor, access: DataAccess): void {
    const { tallies } = this.#state(actor.sessionId!);
    const key = `${type} ${access.topic} ${access.partition}`;
    const tally = tallies.get(key);
    if (tally !== undefined) {
      tally.records += access.records;
      tally.bytes += access.bytes;
      tally.batches += 1;
      tally.firstOffset = Math.min(tally.firstOffset, access.firstOffset);
      tally.lastOffset = Math.max(tally.lastOffset, access.lastOffset);
      tally.rule = access.rule;
      return;
    }
    if (tallies.size >= MAX_TALLIES_PER_SESSION) {
      const [oldestKey, oldest] = tallies.entries().next().value as [string, Tally];
      tallies.delete(oldestKey);
      this.#writeTally(oldest);
    }
    tallies.set(key, { type, actor, topic: access.topic, partition: access.partition, records: access.records, bytes: access.bytes, batches: 1, firstOffset: access.firstOffset, lastOffset: access.lastOffset, rule: access.rule });
  }

  #writeTally(tally: Tally): void {
    const resource = auditText(`topic:${tally.topic}`);
    this.note({
      type: tally.type,
      subject: resource,
      data: actorData(tally.actor, {
        action: tally.type === 'sealbus.data.produce' ? 'produce' : 'consume',
        resource,
        decision: 'allow',
        rule: auditText(tally.rule),
        partition: tally.partition,
        records: tally.records,
        bytes: tally.bytes,
        batches: tally.batches,
        firstOffset: tally.firstOffset,
        lastOffset: tally.lastOffset,
      }),
    });
  }
}



/** The audit trail of a broker that records nothing: tests of layers below auditing. */
export function silentAuditTrail(): AuditTrail {
  return new AuditTrail({
    sink: { available: true, unavailableReason: null, append: async () => undefined },
    failMode: 'open',
    dataAccess: 'none',
  });
}
