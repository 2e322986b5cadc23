import type { Broker, Actor } from '../../broker/index.js';
import { SealbusError } from '../../errors/index.js';
import type { BrokerFrame, CommitFrame, HeartbeatFrame, JoinGroupFrame, LeaveGroupFrame } from '../../protocol/index.js';

export interface SessionGroupsDeps {
  readonly broker: Broker;
  /** The session's current principal (it changes on REFRESH, never its name). */
  readonly actor: () => Actor;
  readonly send: (frame: BrokerFrame) => void;
  readonly clientAddress: string | null;
  readonly maxMemberships: number;
}

/**
 * One member of this session. Until GROUP_JOINED is on the wire its pushes are held, so that the
 * client never sees a push for a member id it has not been told yet.
 */
class Membership {
  memberId = '';
  #held: BrokerFrame[] | null = [];

  constructor(
    readonly group: string,
    readonly topics: readonly string[],
    readonly send: (frame: BrokerFrame) => void,
  ) {}

  push(frame: BrokerFrame): void {
    if (this.#held === null) this.send(frame);
    else this.#held.push(frame);
  }

  /** GROUP_JOINED and the first ASSIGNMENT went out: send what was held behind them. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const frame of held) this.send(frame);
  }
}

/**
 * The consumer-group memberships of one WebSocket session. The session object is the owner the
 * coordinator binds members to: heartbeats, commits and leaves for a member id work only from the
 * session that joined it. When the session ends, its members leave at once, so their partitions
 * move without waiting for a session timeout.
 */
export class SessionGroups {
  readonly #deps: SessionGroupsDeps;
  readonly #owner: object;
  readonly #members = new Map<string, Membership>();
  #closed = false;

  constructor(owner: object, deps: SessionGroupsDeps) {
    this.#owner = owner;
    this.#deps = deps;
  }

  /** Joins; sends GROUP_JOINED and then the first ASSIGNMENT itself, in that order. */
  async join(frame: JoinGroupFrame): Promise<void> {
    if (this.#members.size >= this.#deps.maxMemberships) {
      throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', {
        reason: `a session may hold at most ${this.#deps.maxMemberships} group memberships; leave one or open another session`,
      });
    }
    const membership = new Membership(frame.group, frame.topics, this.#deps.send);
    const joined = await this.#deps.broker.groups.join(this.#deps.actor(), {
      group: frame.group,
      topics: frame.topics,
      strategy: frame.strategy,
      sessionTimeoutMs: frame.sessionTimeoutMs,
      rebalanceTimeoutMs: frame.rebalanceTimeoutMs,
      owner: this.#owner,
      clientAddress: this.#deps.clientAddress,
      channel: {
        assign: (assignment) => membership.push({ type: 'ASSIGNMENT', ...assignment }),
        removed: (error) => {
          this.#members.delete(membership.memberId);
          membership.push({
            type: 'GROUP_ERROR',
            group: frame.group,
            memberId: membership.memberId,
            code: error.code,
            message: error.message,
            retriable: error.retriable,
          });
        },
      },
    });
    membership.memberId = joined.memberId;
    if (this.#closed) {
      // The session ended while the join was pending: the member must not outlive it.
      await Promise.resolve(this.#deps.broker.groups.leave(frame.group, joined.memberId, this.#owner)).catch(() => {});
      throw new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'session closed' });
    }
    this.#members.set(joined.memberId, membership);
    this.#deps.send({ type: 'GROUP_JOINED', requestId: frame.requestId, memberId: joined.memberId, heartbeatIntervalMs: joined.heartbeatIntervalMs });
    this.#deps.send({ type: 'ASSIGNMENT', ...joined.assignment });
    membership.release();
  }

  /** Answered at once when this broker coordinates the group, after the coordinator's answer when it is forwarded. */
  async heartbeat(frame: HeartbeatFrame): Promise<BrokerFrame> {
    await this.#deps.broker.groups.heartbeat(frame.group, frame.memberId, this.#owner, frame.generation);
    return { type: 'OK', requestId: frame.requestId };
  }

  async commit(frame: CommitFrame): Promise<BrokerFrame> {
    await this.#deps.broker.groups.commit(this.#deps.actor(), frame.group, frame.memberId, this.#owner, frame.generation, frame.offsets);
    return { type: 'OK', requestId: frame.requestId };
  }

  async leave(frame: LeaveGroupFrame): Promise<BrokerFrame> {
    const left = this.#deps.broker.groups.leave(frame.group, frame.memberId, this.#owner);
    this.#members.delete(frame.memberId);
    await left;
    return { type: 'OK', requestId: frame.requestId };
  }

  /** Ends, with GROUP_ERROR, the memberships whose group or topics the principal may no longer consume. */
  revalidate(): void {
    for (const [memberId, membership] of [...this.#members]) {
      try {
        this.#recheck(memberId, membership);
      } catch {
        // reported to the client by #recheck
      }
    }
  }

  /**
   * A member keeps the rights it joined with: `consume` on the group and on each topic. When one is
   * withdrawn the member leaves (its partitions move on) and the client gets GROUP_ERROR; throws it.
   */
  #recheck(memberId: string, membership: Membership): void {
    const actor = this.#deps.actor();
    try {
      this.#deps.broker.authorize(actor, 'consume', { kind: 'group', name: membership.group });
      for (const topic of membership.topics) this.#deps.broker.authorize(actor, 'consume', { kind: 'topic', name: topic });
    } catch (err) {
      const error = err as SealbusError;
      if (this.#deps.broker.groups.hasMember(membership.group, memberId, this.#owner)) {
        void Promise.resolve(this.#deps.broker.groups.leave(membership.group, memberId, this.#owner)).catch(() => {});
      }
      this.#members.delete(memberId);
      membership.push({ type: 'GROUP_ERROR', group: membership.group, memberId, code: error.code, message: error.message, retriable: error.retriable });
      throw error;
    }
  }

  /** The session ended: every member it holds leaves now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#members.clear();
    this.#deps.broker.groups.leaveAll(this.#owner);
  }
}
