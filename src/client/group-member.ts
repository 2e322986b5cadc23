import { SealbusError, isSealbusError } from '../errors/index.js';
import type { AssignmentFrame, CommitOffset, GroupStrategy } from '../protocol/index.js';
import { asSealbusError, retryDelay, type RetryOptions } from './backoff.js';
import type { Session } from './session.js';
import type { SessionSource } from './session-source.js';

/** A topic partition, as rebalance callbacks name it. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Called around rebalances; awaited, so the application can finish work before partitions move. */
export interface RebalanceListener {
  /** These partitions are now this consumer's; reading starts after the group's committed offsets. */
  assigned?(partitions: readonly TopicPartition[]): void | Promise<void>;
  /**
   * These partitions are being taken away: called once none of their records is handed out any
   * more and the loop finished the one it held, before their offsets are committed and released.
   */
  revoked?(partitions: readonly TopicPartition[]): void | Promise<void>;
}

export interface GroupOptions {
  readonly group: string;
  readonly strategy: GroupStrategy;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** Where a partition without a committed offset starts. */
  readonly resetTo: 'earliest' | 'latest';
  readonly autoCommitIntervalMs: number | null;
  readonly listener: RebalanceListener;
  readonly retry: RetryOptions;
  readonly random: () => number;
}

/** What the member needs of the consumer that reads for it. */
export interface GroupReader {
  /** Starts reading a partition from an offset, or from the reset position when null. */
  start(topic: string, partition: number, from: number | null): void;
  /** Stops reading a partition at once and returns the offset after its last processed record, if any. */
  stop(topic: string, partition: number): Promise<number | null>;
  /** The offset to commit for a partition: `processed` (records the loop finished) or `position` (records handed out). */
  offset(topic: string, partition: number, kind: 'processed' | 'position'): number | null;
  /** The membership failed for good: the iteration ends with this error. */
  fail(error: SealbusError): void;
}

/** Errors that end a membership but not the consumer: it joins again as a new member. */
const REJOIN_CODES: ReadonlySet<string> = new Set(['SEALBUS_ERR_GROUP_UNKNOWN_MEMBER', 'SEALBUS_ERR_GROUP_NOT_ASSIGNED']);

const key = (topic: string, partition: number): string => `${partition}:${topic}`;

/**
 * The client side of a consumer-group membership: joins, heartbeats, applies ASSIGNMENT pushes in
 * order (releasing revoked partitions only after their offsets are committed, then acknowledging
 * with a HEARTBEAT, so that the broker can hand them on), auto-commits, and rejoins after a
 * retriable loss (a lost session, a missed heartbeat). Offsets committed are always those of
 * records the application finished (or, with `commit()`, was handed), never beyond.
 */
export class GroupMember {
  readonly #sessions: SessionSource;
  readonly #options: GroupOptions;
  readonly #reader: GroupReader;
  readonly #owned = new Map<string, TopicPartition>();
  readonly #committed = new Map<string, number>();
  #topics: readonly string[] = [];
  #session: Session | null = null;
  #memberId: string | null = null;
  #generation = -1;
  #applied = -1;
  #queue: Promise<void> = Promise.resolve();
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #commitTimer: NodeJS.Timeout | null = null;
  #rejoinTimer: NodeJS.Timeout | null = null;
  #attempts = 0;
  #closed = false;

  constructor(sessions: SessionSource, options: GroupOptions, reader: GroupReader) {
    this.#sessions = sessions;
    this.#options = options;
    this.#reader = reader;
  }

  get memberId(): string | null {
    return this.#memberId;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The partitions this member owns now. */
  get assignment(): TopicPartition[] {
    return [...this.#owned.values()];
  }

  subscribe(topics: readonly string[]): void {
    this.#topics = [...topics];
    void this.#join();
  }

  async #join(): Promise<void> {
    if (this.#closed) return;
    let session: Session;
    try {
      session = await this.#sessions.get();
      if (this.#closed) return;
      const reply = await session.request({
        type: 'JOIN_GROUP',
        group: this.#options.group,
        strategy: this.#options.strategy,
        sessionTimeoutMs: this.#options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
        topics: this.#topics,
      });
      if (this.#closed) {
        void session.request({ type: 'LEAVE_GROUP', group: this.#options.group, memberId: reply.memberId }).catch(() => {});
        return;
      }
      this.#session = session;
      this.#memberId = reply.memberId;
      this.#attempts = 0;
      session.addGroupMember(reply.memberId, {
        assignment: (frame) => this.#enqueue(() => this.#apply(session, frame)),
        removed: (error) => this.#lost(session, error),
      });
      this.#startTimers(session, reply.heartbeatIntervalMs);
    } catch (err) {
      this.#retryJoin(asSealbusError(err));
    }
  }

  #retryJoin(error: SealbusError): void {
    if (this.#closed) return;
    if (!error.retriable || ++this.#attempts >= this.#options.retry.maxAttempts) {
      this.#reader.fail(error);
      return;
    }
    this.#rejoinTimer = setTimeout(() => {
      this.#rejoinTimer = null;
      void this.#join();
    }, retryDelay(error, this.#attempts, this.#options.retry, this.#options.random));
  }

  #startTimers(session: Session, heartbeatIntervalMs: number): void {
    this.#stopTimers();
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(session), Math.max(50, heartbeatIntervalMs));
    if (this.#options.autoCommitIntervalMs !== null) {
      this.#commitTimer = setInterval(() => {
        this.commit('processed').catch(() => {
          // an auto-commit that failed is simply made again at the next interval
        });
      }, this.#options.autoCommitIntervalMs);
    }
  }

  #stopTimers(): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    if (this.#commitTimer !== null) clearInterval(this.#commitTimer);
    this.#heartbeatTimer = null;
    this.#commitTimer = null;
  }

  #heartbeat(session: Session): void {
    const memberId = this.#memberId;
    if (memberId === null || this.#session !== session) return;
    session.request({ type: 'HEARTBEAT', group: this.#options.group, memberId, generation: Math.max(0, this.#applied) }).catch((err: unknown) => {
      const error = asSealbusError(err);
      // A closed session is handled by `removed`; anything else the broker says ends the membership.
      if (error.code !== 'SEALBUS_ERR_CONNECTION_CLOSED' && error.code !== 'SEALBUS_ERR_TIMEOUT') this.#lost(session, error);
    });
  }

  /** Assignments are applied one at a time, in the order the broker sent them. */
  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((err: unknown) => this.#reader.fail(asSealbusError(err)));
  }

  async #apply(session: Session, frame: AssignmentFrame): Promise<void> {
    if (this.#session !== session || this.#closed) return;
    const next = new Map(frame.partitions.map((p) => [key(p.topic, p.partition), p]));
    const revoked = [...this.#owned].filter(([k]) => !next.has(k)).map(([, tp]) => tp);
    const added = frame.partitions.filter((p) => !this.#owned.has(key(p.topic, p.partition)));
    this.#generation = frame.generation;
    if (revoked.length > 0) await this.#release(session, revoked);
    for (const p of added) {
      this.#owned.set(key(p.topic, p.partition), { topic: p.topic, partition: p.partition });
      if (p.committedOffset !== null) this.#committed.set(key(p.topic, p.partition), p.committedOffset);
      this.#reader.start(p.topic, p.partition, p.committedOffset);
    }
    this.#applied = frame.generation;
    if (revoked.length > 0) this.#heartbeat(session); // releases the partitions at once
    if (added.length > 0) await this.#options.listener.assigned?.(added.map(({ topic, partition }) => ({ topic, partition })));
  }

  /** Stops reading revoked partitions and commits what was processed of them, before acknowledging. */
  async #release(session: Session, revoked: readonly TopicPartition[]): Promise<void> {
    const offsets: CommitOffset[] = [];
    const committed = new Map<string, number | undefined>();
    for (const { topic, partition } of revoked) {
      const k = key(topic, partition);
      this.#owned.delete(k);
      committed.set(k, this.#committed.get(k));
      this.#committed.delete(k);
      const offset = await this.#reader.stop(topic, partition);
      if (offset !== null && offset !== committed.get(k)) offsets.push({ topic, partition, offset });
    }
    await this.#options.listener.revoked?.(revoked);
    // Still ours until the acknowledging heartbeat: the broker accepts this commit.
    if (offsets.length > 0) await this.#sendCommit(session, offsets).catch(() => {});
  }

  /**
   * Commits the offsets of the owned partitions: `processed` commits records the loop has
   * finished, `position` every record handed out. A commit that raced a rebalance is made again
   * with the new generation once it is applied.
   */
  async commit(kind: 'processed' | 'position'): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const session = this.#session;
      if (session === null || this.#memberId === null) return;
      const offsets: CommitOffset[] = [];
      for (const [k, { topic, partition }] of this.#owned) {
        const offset = this.#reader.offset(topic, partition, kind);
        if (offset !== null && offset !== this.#committed.get(k)) offsets.push({ topic, partition, offset });
      }
      if (offsets.length === 0) return;
      try {
        await this.#sendCommit(session, offsets);
        return;
      } catch (err) {
        if (!isSealbusError(err, 'SEALBUS_ERR_GROUP_STALE_GENERATION') || attempt >= 3) throw err;
        await this.#queue; // the newer assignment is on its way: apply it, then commit again
      }
    }
  }

  async #sendCommit(session: Session, offsets: readonly CommitOffset[]): Promise<void> {
    const memberId = this.#memberId;
    if (memberId === null) return;
    await session.request({ type: 'COMMIT', group: this.#options.group, memberId, generation: Math.max(0, this.#generation), offsets });
    for (const { topic, partition, offset } of offsets) {
      if (this.#owned.has(key(topic, partition))) this.#committed.set(key(topic, partition), offset);
    }
  }

  /** The membership is gone (removed, session lost): stop reading everything, then join again. */
  #lost(session: Session, error: SealbusError): void {
    if (this.#session !== session) return;
    this.#session = null;
    const memberId = this.#memberId;
    this.#memberId = null;
    if (memberId !== null) session.removeGroupMember(memberId);
    this.#stopTimers();
    this.#generation = -1;
    this.#applied = -1;
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    this.#committed.clear();
    this.#enqueue(async () => {
      // Not ours any more: no commit, and the records still buffered are dropped.
      for (const { topic, partition } of owned) await this.#reader.stop(topic, partition);
      if (owned.length > 0) await this.#options.listener.revoked?.(owned);
    });
    // Removed by the broker (timeouts, an unknown member after a broker restart): join again.
    this.#retryJoin(REJOIN_CODES.has(error.code) ? new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: error.message }) : error);
  }

  /** Commits what was processed, leaves the group and stops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.commit('processed').catch(() => {});
    this.#closed = true;
    this.#stopTimers();
    if (this.#rejoinTimer !== null) clearTimeout(this.#rejoinTimer);
    const session = this.#session;
    const memberId = this.#memberId;
    this.#session = null;
    this.#memberId = null;
    if (session !== null && memberId !== null) {
      session.removeGroupMember(memberId);
      await session.request({ type: 'LEAVE_GROUP', group: this.#options.group, memberId }).catch(() => {});
    }
  }
}
