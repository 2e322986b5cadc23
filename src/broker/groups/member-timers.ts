/**
 * The coordinator's timers per member: the liveness timer, due at the member's session or
 * revocation deadline, and the one-tick timer after a join that holds pushes until the reply is
 * out. Membership and delivery stay with the coordinator, reached through `TimerHost`.
 */
import { SealbusError, type ErrorCode } from '../../errors/index.js';
import type { ConsumerGroup, Member } from './consumer-group.js';
import type { CoordinatorTimers } from './types.js';

export const nodeTimers: CoordinatorTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What the timers need from the coordinator when they fire. */
export interface TimerHost {
  /** The active group named by the member, whether or not the member is still in it. */
  groupOf(member: Member): ConsumerGroup | undefined;
  /** Pushes to each member still in the group (see the coordinator's deliver). */
  deliver(state: ConsumerGroup, members: Iterable<Member>): void;
  /** Drops the member from the group and rebalances the others. */
  remove(state: ConsumerGroup, member: Member): void;
}

export class MemberTimers {
  readonly #timers: CoordinatorTimers;
  readonly #clock: () => number;
  readonly #host: TimerHost;

  constructor(timers: CoordinatorTimers, clock: () => number, host: TimerHost) {
    this.#timers = timers;
    this.#clock = clock;
    this.#host = host;
  }

  /** Marks the member ready at the next timer tick, unless a heartbeat does it first. */
  armReady(member: Member): void {
    member.readyTimer = { handle: this.#timers.setTimeout(() => this.#onReady(member), 0) };
  }

  /** One timer per member, at its earliest deadline; a heartbeat moves the deadline and the timer re-arms when it fires. */
  arm(member: Member): void {
    const due = Math.min(member.lastHeartbeatAt + member.sessionTimeoutMs, member.revokeDeadline ?? Infinity);
    if (member.timer !== null && member.timer.due <= due) return;
    if (member.timer !== null) this.#timers.clearTimeout(member.timer.handle);
    const handle = this.#timers.setTimeout(() => this.#onTimer(member), Math.max(0, due - this.#clock()));
    member.timer = { handle, due };
  }

  cancel(member: Member): void {
    if (member.timer !== null) this.#timers.clearTimeout(member.timer.handle);
    member.timer = null;
    this.cancelReady(member);
  }

  cancelReady(member: Member): void {
    if (member.readyTimer !== null) this.#timers.clearTimeout(member.readyTimer.handle);
    member.readyTimer = null;
  }

  #onReady(member: Member): void {
    member.readyTimer = null;
    const state = this.#host.groupOf(member);
    if (state === undefined || member.ready) return;
    member.ready = true;
    if (member.pushDue) this.#host.deliver(state, [member]);
  }

  #onTimer(member: Member): void {
    member.timer = null;
    const state = this.#host.groupOf(member);
    if (state === undefined || state.members.get(member.id) !== member) return;
    const now = this.#clock();
    if (now >= member.lastHeartbeatAt + member.sessionTimeoutMs) {
      this.#expire(state, member, 'SEALBUS_ERR_GROUP_SESSION_TIMEOUT', member.sessionTimeoutMs);
    } else if (member.revokeDeadline !== null && now >= member.revokeDeadline) {
      this.#expire(state, member, 'SEALBUS_ERR_GROUP_REBALANCE_TIMEOUT', member.rebalanceTimeoutMs);
    } else {
      this.arm(member);
    }
  }

  #expire(state: ConsumerGroup, member: Member, code: ErrorCode, timeoutMs: number): void {
    this.#host.remove(state, member);
    try {
      member.channel.removed(new SealbusError(code, { group: state.name, memberId: member.id, timeoutMs }));
    } catch {
      // The member is gone either way; a failing transport must not stop the timer that found it.
    }
  }
}
