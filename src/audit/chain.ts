/**
 * The hash chain: each event carries its 0-based sequence number and the hash of the event before
 * it, so deleting, reordering, duplicating or editing an event breaks a link that anyone can
 * recompute. The chain alone proves nothing against someone who rewrites the whole tail; the
 * signed checkpoints (checkpoint.ts) pin it to the broker's key.
 */
import { SealbusError } from '../errors/index.js';
import { type AuditEvent, type AuditEventBody, chainedEvent, hashEvent, parseAuditEventBody } from './event.js';

/** The `sealbusprev` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** How far a chain goes: the number of events and the hash of the last one (GENESIS_HASH when empty). */
export interface AuditHead {
  readonly count: number;
  readonly headHash: string;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

export function isAuditHead(value: unknown): value is AuditHead {
  if (typeof value !== 'object' || value === null) return false;
  const { count, headHash } = value as Record<string, unknown>;
  return typeof count === 'number' && Number.isSafeInteger(count) && count >= 0 && typeof headHash === 'string' && HEX_SHA256.test(headHash);
}

/** The head of a chain whose last event is `event`. */
export function headAfter(event: AuditEvent): AuditHead {
  return { count: event.sealbusseq + 1, headHash: hashEvent(event) };
}

/**
 * The writer's side of the chain, in memory: it numbers and links events, nothing else. The
 * writer must store each event it gets from `append` before it appends the next one; if storing
 * fails, the chain has moved on without the event, so the writer stops (fails closed) and resumes
 * from what storage holds (`AuditChain.resume(headAfter(lastStoredEvent))`).
 */
export class AuditChain {
  #count = 0;
  #headHash = GENESIS_HASH;

  /** Continues a chain: `head` is `headAfter` the last stored event, or a checkpoint's count and head hash. */
  static resume(head: AuditHead): AuditChain {
    if (!isAuditHead(head)) throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'a chain head is a count (integer >= 0) and a hex SHA-256 headHash' });
    if (head.count === 0 && head.headHash !== GENESIS_HASH) {
      throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'an empty chain has the genesis head hash (64 zeros)' });
    }
    const chain = new AuditChain();
    chain.#count = head.count;
    chain.#headHash = head.headHash;
    return chain;
  }

  head(): AuditHead {
    return { count: this.#count, headHash: this.#headHash };
  }

  /**
   * Checks `body` (as `buildEvent` does), gives it the next sequence number and the current head
   * hash, and advances the head. Returns the frozen event to store.
   */
  append(body: AuditEventBody): AuditEvent {
    const checked = parseAuditEventBody(body);
    if (this.#count >= Number.MAX_SAFE_INTEGER) throw new SealbusError('SEALBUS_ERR_AUDIT_UNAVAILABLE', { reason: 'the chain is full' });
    const event = chainedEvent(checked, this.#count, this.#headHash);
    this.#headHash = hashEvent(event);
    this.#count += 1;
    return event;
  }
}
