/**
 * Offline verification of an audit log: the chain link by link, each checkpoint's signature and
 * what it covers, and, given the head verified last time, that the log did not go back. The log
 * is read once, in order, in bounded memory; each problem names the position of the entry (0-based,
 * counting events, checkpoints and malformed lines alike) where the log first differs from an
 * intact one, as far as the evidence allows.
 */
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { SealbusError } from '../errors/index.js';
import { type AuditHead, GENESIS_HASH, isAuditHead } from './chain.js';
import { type AuditCheckpoint, checkpointSignatureValid, importAuditPublicKeys } from './checkpoint.js';
import { readLogEntry } from './log-entry.js';

export { MAX_AUDIT_LINE_BYTES, MalformedEntry, parseAuditLines } from './log-entry.js';

export type AuditProblemKind =
  | 'malformed'
  | 'edited'
  | 'deleted'
  | 'reordered'
  | 'duplicated'
  | 'truncated'
  | 'rolled-back'
  | 'bad-signature'
  | 'unknown-key';

export interface AuditProblem {
  /** 0-based index of the entry in the log (for a JSON-lines export, line `position + 1`). */
  readonly position: number;
  /** The sequence number concerned, when there is one. */
  readonly seq: number | null;
  readonly kind: AuditProblemKind;
  readonly detail: string;
}

export interface AuditVerifyReport {
  /** No problem found. An unsigned tail alone does not make a log fail. */
  readonly ok: boolean;
  /** Event records read (not checkpoints, not malformed entries). */
  readonly events: number;
  /** Checkpoint records read, valid or not. */
  readonly checkpoints: number;
  /** The last checkpoint whose signature verified and which matched the chain; keep it as the next `lastVerified`. */
  readonly lastCheckpoint: AuditHead | null;
  /** Events after `lastCheckpoint` (or all of them if none): chained but not yet signed, e.g. the tail a crash left. */
  readonly unsignedTail: number;
  /** In log order; the first is the first bad position. */
  readonly problems: readonly AuditProblem[];
  /** Problems found beyond `maxProblems` and not listed. */
  readonly problemsOmitted: number;
}

export interface VerifyAuditLogOptions {
  /** The broker's audit public keys (KeyObjects or Ed25519 JWKs); checkpoints are matched by key id. */
  readonly publicKeys: readonly (KeyObject | JWK)[];
  /** The `lastCheckpoint` of an earlier verification: the log must still hold it, unchanged. */
  readonly lastVerified?: AuditHead;
  /**
   * The log may start after its first event (an export made with `--since`, or retention): the
   * first event, or a checkpoint before it, anchors the chain. Default false: the log starts at
   * sequence number 0.
   */
  readonly partial?: boolean;
  /** Default 1000. */
  readonly maxProblems?: number;
}

/** Events remembered for checkpoints written late or replayed, and for naming duplicates. */
const RECENT_EVENTS = 1024;
const PENDING_GAPS = 64;

interface Gap {
  readonly from: number;
  readonly to: number;
  readonly problem: { kind: AuditProblemKind; detail: string };
}

interface MutableProblem {
  position: number;
  seq: number | null;
  kind: AuditProblemKind;
  detail: string;
}

class LogVerifier {
  readonly #keys: ReadonlyMap<string, KeyObject>;
  readonly #lastVerified: AuditHead | undefined;
  readonly #maxProblems: number;
  readonly problems: MutableProblem[] = [];
  problemsOmitted = 0;
  events = 0;
  checkpoints = 0;
  lastCheckpoint: AuditHead | null = null;
  unsignedTail = 0;
  /** False until the chain is anchored: at once for a full log, at the first record for a partial one. */
  #anchored: boolean;
  #lastSeq = -1;
  #head = GENESIS_HASH;
  /** Where the head was set, and whether by an event (rather than by a checkpoint's signed statement). */
  #headPosition = -1;
  #headFromEvent = false;
  /** The last entry found good: the first bad position comes after it. */
  #lastGoodPosition = -1;
  readonly #recent = new Map<number, { position: number; hash: string }>();
  readonly #gaps: Gap[] = [];
  readonly #checkpointHeads = new Set<string>();
  readonly #reported = new Set<number>();
  /** Checkpoints covering events that are missing with no event after them yet: truncation unless one comes. */
  #missingAtEnd: MutableProblem[] = [];

  constructor(keys: ReadonlyMap<string, KeyObject>, options: VerifyAuditLogOptions) {
    this.#keys = keys;
    this.#lastVerified = options.lastVerified;
    this.#maxProblems = options.maxProblems ?? 1000;
    this.#anchored = options.partial !== true;
  }

  #report(position: number, seq: number | null, kind: AuditProblemKind, detail: string): MutableProblem | null {
    // One position, one problem: the first explanation found is the most specific.
    if (this.#reported.has(position)) return null;
    if (this.problems.length >= this.#maxProblems) {
      // Counted only, so that a log broken everywhere is still read in bounded memory.
      this.problemsOmitted += 1;
      return null;
    }
    this.#reported.add(position);
    const problem = { position, seq, kind, detail };
    this.problems.push(problem);
    return problem;
  }

  malformed(position: number, seq: number | null, reason: string): void {
    this.#report(position, seq, 'malformed', reason);
  }

  #accept(position: number, seq: number, hash: string): void {
    const verified = this.#lastVerified;
    if (verified !== undefined && seq === verified.count - 1 && hash !== verified.headHash) {
      this.#report(position, seq, 'rolled-back', `seq ${seq} no longer hashes to the head hash verified before (count ${verified.count}): the log was rolled back or rewritten at or before this event`);
    }
    this.#lastSeq = seq;
    this.#head = hash;
    this.#headPosition = position;
    this.#headFromEvent = true;
    this.#lastGoodPosition = position;
    this.#recent.set(seq, { position, hash });
    if (this.#recent.size > RECENT_EVENTS) this.#recent.delete(this.#recent.keys().next().value as number);
    this.unsignedTail += 1;
    this.#missingAtEnd = [];
  }

  event(position: number, seq: number, prev: string, hash: string): void {
    this.events += 1;
    if (!this.#anchored) {
      this.#anchored = true;
      this.#accept(position, seq, hash);
      return;
    }
    const expected = this.#lastSeq + 1;
    if (seq !== expected && prev === this.#head) {
      // It links to the head (the event before it, genesis, or a signed checkpoint), so it belongs
      // here: its own sequence number was edited.
      this.#report(position, seq, 'edited', `sealbusseq is ${seq} but the event links to seq ${this.#lastSeq}: expected ${expected}`);
      this.#accept(position, expected, hash);
      return;
    }
    if (seq === expected) {
      if (prev !== this.#head) this.#brokenLink(position, seq);
      this.#accept(position, seq, hash);
    } else if (seq > expected) {
      this.#gap(position, expected, seq);
      this.#accept(position, seq, hash);
    } else {
      this.#seen(position, seq, hash);
    }
  }

  #brokenLink(position: number, seq: number): void {
    if (this.#headPosition < 0) {
      this.#report(position, seq, 'edited', `the first event's sealbusprev is not ${GENESIS_HASH.slice(0, 8)}… (genesis)`);
    } else if (this.#headFromEvent) {
      this.#report(
        this.#headPosition,
        this.#lastSeq,
        'edited',
        `seq ${this.#lastSeq} does not hash to the sealbusprev of seq ${seq} (position ${position}): this event, or that sealbusprev, was edited`,
      );
    } else {
      this.#report(position, seq, 'edited', `sealbusprev does not match the head hash signed by the checkpoint at position ${this.#headPosition}`);
    }
  }

  #gap(position: number, expected: number, seq: number): void {
    const missing = seq - expected;
    const where = expected === 0 ? 'the log starts' : `after seq ${expected - 1} the log goes on`;
    const problem = this.#report(this.#lastGoodPosition + 1, expected, 'deleted', `${where} with seq ${seq} (position ${position}): ${missing} event(s) missing`);
    if (problem === null) return;
    this.#gaps.push({ from: expected, to: seq - 1, problem });
    if (this.#gaps.length > PENDING_GAPS) this.#gaps.shift();
  }

  /** An event whose sequence number was passed already: one that was missing turns up late, or a copy. */
  #seen(position: number, seq: number, hash: string): void {
    const gap = this.#gaps.find((candidate) => seq >= candidate.from && seq <= candidate.to);
    if (gap !== undefined) {
      gap.problem.kind = 'reordered';
      gap.problem.detail = `seq ${gap.from}${gap.to > gap.from ? `..${gap.to}` : ''} is out of order: seq ${seq} comes later, at position ${position}`;
      return;
    }
    const earlier = this.#recent.get(seq);
    const detail =
      earlier === undefined
        ? `seq ${seq} was already seen`
        : earlier.hash === hash
          ? `a copy of the event at position ${earlier.position} (seq ${seq})`
          : `a second, different event with seq ${seq} (the first is at position ${earlier.position})`;
    this.#report(position, seq, 'duplicated', detail);
  }

  checkpoint(position: number, checkpoint: AuditCheckpoint): void {
    this.checkpoints += 1;
    const { count, headHash, keyId } = checkpoint.data;
    const key = this.#keys.get(keyId);
    if (key === undefined) {
      this.#report(position, null, 'unknown-key', `the checkpoint for count ${count} is signed by key ${keyId}, which is not one of the given public keys`);
      return;
    }
    if (!checkpointSignatureValid(checkpoint, key)) {
      this.#report(position, null, 'bad-signature', `the signature of the checkpoint for count ${count} does not verify with key ${keyId}`);
      return;
    }
    const verified = this.#lastVerified;
    if (verified !== undefined && count === verified.count && headHash !== verified.headHash) {
      this.#report(position, null, 'rolled-back', `the checkpoint for count ${count} signs another head hash than the one verified before: the log was rolled back or rewritten`);
    }
    const covered = this.#lastSeq + 1;
    if (!this.#anchored || count > covered) {
      if (this.#anchored) {
        const problem = this.#report(
          this.#lastGoodPosition + 1,
          covered,
          'deleted',
          `the checkpoint at position ${position} covers ${count} events but only ${covered} precede it: seq ${covered}..${count - 1} are missing`,
        );
        if (problem !== null) this.#missingAtEnd.push(problem);
      }
      // The signed statement is the best head there is: the events after it are checked against it.
      this.#anchored = true;
      this.#resync(position, count, headHash);
      return;
    }
    if (count === covered) {
      if (headHash === this.#head) {
        this.#lastGoodPosition = position;
        this.lastCheckpoint = { count, headHash };
        this.#checkpointHeads.add(`${count}:${headHash}`);
        this.unsignedTail = 0;
      } else {
        const blamed = this.#headFromEvent ? this.#headPosition : position;
        this.#report(blamed, this.#lastSeq, 'edited', `seq ${this.#lastSeq} does not hash to the head hash signed by the checkpoint at position ${position}`);
        this.#resync(position, count, headHash);
      }
      return;
    }
    this.#staleCheckpoint(position, count, headHash);
  }

  #resync(position: number, count: number, headHash: string): void {
    this.#lastSeq = count - 1;
    this.#head = headHash;
    this.#headPosition = position;
    this.#headFromEvent = false;
    this.#lastGoodPosition = position;
    this.unsignedTail = 0;
  }

  /** A valid checkpoint covering fewer events than precede it: written late, moved, or replayed. */
  #staleCheckpoint(position: number, count: number, headHash: string): void {
    const last = this.#recent.get(count - 1);
    if (last !== undefined && last.hash !== headHash) {
      this.#report(last.position, count - 1, 'edited', `seq ${count - 1} does not hash to the head hash signed by the checkpoint at position ${position}`);
      return;
    }
    if (count === 0 ? headHash === GENESIS_HASH : last !== undefined) {
      if (this.#checkpointHeads.has(`${count}:${headHash}`)) {
        this.#report(position, null, 'duplicated', `a copy of an earlier checkpoint (count ${count})`);
        return;
      }
      const next = this.#recent.get(count);
      this.#report(next?.position ?? position, count, 'reordered', `the checkpoint for count ${count} (position ${position}) should come right after seq ${count - 1}`);
      return;
    }
    this.#report(position, null, 'reordered', `the checkpoint for count ${count} comes after seq ${this.#lastSeq}, and what it covers cannot be checked here`);
  }

  finish(entries: number): AuditVerifyReport {
    for (const problem of this.#missingAtEnd) {
      problem.kind = 'truncated';
      problem.detail = `${problem.detail}, and no event follows: the log was truncated`;
    }
    const verified = this.#lastVerified;
    const held = this.#anchored ? this.#lastSeq + 1 : 0;
    if (verified !== undefined && held < verified.count) {
      this.#report(entries, held, 'rolled-back', `the log ends at ${held} events, fewer than the ${verified.count} verified before: it was truncated or restored from an older copy`);
    }
    const problems = [...this.problems].sort((a, b) => a.position - b.position);
    return {
      ok: problems.length === 0 && this.problemsOmitted === 0,
      events: this.events,
      checkpoints: this.checkpoints,
      lastCheckpoint: this.lastCheckpoint,
      unsignedTail: this.unsignedTail,
      problems,
      problemsOmitted: this.problemsOmitted,
    };
  }
}

/**
 * Verifies an audit log: `entries` are its records in order, as JSON lines (strings), parsed
 * values, or `parseAuditLines` output. Never throws for what the log holds: every problem is in the
 * report. Throws SEALBUS_ERR_AUTH_MATERIAL_INVALID for a public key that is not Ed25519, and
 * SEALBUS_ERR_AUDIT_INVALID for a malformed `lastVerified`.
 */
export async function verifyAuditLog(entries: Iterable<unknown> | AsyncIterable<unknown>, options: VerifyAuditLogOptions): Promise<AuditVerifyReport> {
  if (options.lastVerified !== undefined && !isAuditHead(options.lastVerified)) {
    throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: 'lastVerified is a count (integer >= 0) and a hex SHA-256 headHash' });
  }
  const verifier = new LogVerifier(await importAuditPublicKeys(options.publicKeys), options);
  let position = 0;
  for await (const raw of entries) {
    const entry = readLogEntry(raw);
    if (entry.kind === 'event') verifier.event(position, entry.seq, entry.prev, entry.hash);
    else if (entry.kind === 'checkpoint') verifier.checkpoint(position, entry.checkpoint);
    else verifier.malformed(position, entry.seq, entry.reason);
    position += 1;
  }
  return verifier.finish(position);
}

/** Throws SEALBUS_ERR_AUDIT_TAMPERED naming the first problem of `report`, if it has one. */
export function assertAuditLogVerified(report: AuditVerifyReport): void {
  const first = report.problems[0];
  if (first !== undefined) {
    throw new SealbusError('SEALBUS_ERR_AUDIT_TAMPERED', { position: first.position, reason: `${first.kind}: ${first.detail}` }, { details: { problems: report.problems.length + report.problemsOmitted } });
  } else if (report.problemsOmitted > 0) {
    throw new SealbusError('SEALBUS_ERR_AUDIT_TAMPERED', { position: 'unknown', reason: 'too many problems' });
  }
}
