import { SealbusError, isSealbusError } from '../../../errors/index.js';
import { BusError, type GroupSubjects, type MessageBus } from '../../../log/jetstream/message-bus.js';
import type { GroupCoordinator } from '../group-coordinator.js';
import type { CommitEntry, GroupDescription, GroupSummary, JoinRequest, JoinResult, ResetTarget } from '../types.js';
import { CoordinatorService, notCoordinator } from './coordinator-service.js';
import { MemberRelay, type RemoteMembership } from './member-relay.js';
import type { BrokerRouting } from '../../cluster/routing.js';
import { encode, parseAssignment, parsePush, parseReply, replyError, type CoordinatorRequest, type Origin } from './wire.js';

/** How long a forwarded request may wait for the coordinator's answer, by kind. */
export const FORWARD_TIMEOUTS = Object.freeze({ join: 10_000, heartbeat: 5_000, commit: 15_000, leave: 5_000, admin: 15_000, list: 3_000 });
/** How often a broker gives up the groups it no longer coordinates and forgets the members of gone brokers. */
const RECONCILE_MS = 1_000;
/** Coordinators tried for one join or admin request when the first ones turn out gone. */
const MAX_ROUTES = 3;

export interface ClusterGroupsOptions {
  readonly local: GroupCoordinator;
  readonly routing: BrokerRouting;
  readonly bus: MessageBus;
  readonly subjects: GroupSubjects;
  /** This run of the broker (the lease's instance id): coordinators drop a session's members when it changes. */
  readonly instance: string;
  readonly report?: (err: unknown) => void;
}

/**
 * Consumer groups across the brokers of one store: one coordinator per group, chosen by the
 * routing among the live brokers, with this broker's GroupCoordinator coordinating the groups that
 * fall to it. Operations on other groups are forwarded to their coordinator over the message bus,
 * which pushes assignments back here for the member's session. Authorization and audit stay with
 * the caller (ConsumerGroups), on the broker the client is connected to.
 *
 * A coordinator that is gone (no responder on its subject) is routed around until the lease shows
 * it alive again; its members get SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE (retriable) on their
 * next heartbeat or commit, join again, and the new coordinator rebuilds the group from the joins
 * (committed offsets are in the store).
 */
export class ClusterGroups {
  readonly routing: BrokerRouting;
  readonly #local: GroupCoordinator;
  readonly #bus: MessageBus;
  readonly #subjects: GroupSubjects;
  readonly #instance: string;
  readonly #relay = new MemberRelay();
  readonly #service: CoordinatorService;
  readonly #report: (err: unknown) => void;
  #served: { close(): void }[] = [];
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: ClusterGroupsOptions) {
    this.routing = options.routing;
    this.#local = options.local;
    this.#bus = options.bus;
    this.#subjects = options.subjects;
    this.#instance = options.instance;
    this.#report = options.report ?? (() => {});
    this.#service = new CoordinatorService({ local: options.local, routing: options.routing, bus: options.bus, subjects: options.subjects, report: this.#report });
  }

  /** Starts serving coordinator requests and pushes for this broker. */
  start(): void {
    const self = this.routing.self;
    this.#served = [
      this.#bus.serve(this.#subjects.coordinator(self), (data) => this.#service.handle(data)),
      this.#bus.serve(this.#subjects.member(self), (data) => this.#onPush(data)),
    ];
    this.#timer = setInterval(() => this.reconcile(), RECONCILE_MS);
    this.#timer.unref();
  }

  /**
   * Gives up the groups this broker coordinates but should not any more (a broker joined, or one
   * found gone came back): their members are removed with a retriable error and join their new
   * coordinator. Forgets the members of brokers no longer alive.
   */
  reconcile(): void {
    if (this.#closed) return;
    const self = this.routing.self;
    for (const group of this.#local.activeGroups()) {
      if (this.routing.coordinatorOf(group) !== self) this.#local.removeGroup(group, () => notCoordinator(group, self, 'the group moved to another broker'));
    }
    this.#service.sweep();
  }

  /** Stops serving; the members of the groups coordinated here are told to join again elsewhere. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    const self = this.routing.self;
    for (const group of this.#local.activeGroups()) this.#local.removeGroup(group, () => notCoordinator(group, self, 'the broker is stopping'));
    for (const served of this.#served) served.close();
    this.#served = [];
  }

  #onPush(data: Uint8Array): Uint8Array {
    try {
      return encode(this.#relay.onPush(parsePush(data, this.#bus.maxPayload())) === 'ok' ? { ok: true } : { ok: false, gone: true });
    } catch (err) {
      this.#report(err);
      return encode({ ok: false, gone: true });
    }
  }

  #origin(session: string): Origin {
    return { broker: this.routing.self, instance: this.#instance, session };
  }

  /** Sends a request to `brokerId` and returns the reply's value; throws the coordinator's error, or a BusError. */
  async #request(brokerId: string, message: CoordinatorRequest, timeoutMs: number): Promise<unknown> {
    const data = encode(message);
    if (data.byteLength > this.#bus.maxPayload()) {
      throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'the request is larger than the NATS max_payload between brokers' });
    }
    const reply = parseReply(await this.#bus.request(this.#subjects.coordinator(brokerId), data, timeoutMs), this.#bus.maxPayload());
    if (!reply.ok) throw replyError(reply);
    return reply.value;
  }

  /** A bus failure as the client sees it; a gone coordinator is routed around from now on. */
  #failure(err: unknown, brokerId: string, group: string, timeoutMs: number): SealbusError {
    if (!(err instanceof BusError)) return isSealbusError(err) ? err : new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: 'group forwarding' });
    if (err.kind === 'no-responders') {
      this.routing.markGone(brokerId);
      return notCoordinator(group, brokerId, 'the broker does not answer');
    }
    if (err.kind === 'closed') return new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'the connection to the other brokers is closed' });
    return new SealbusError('SEALBUS_ERR_TIMEOUT', { ms: timeoutMs, what: `the coordinator of group "${group}" (broker ${brokerId})` });
  }

  /**
   * Runs `local` when this broker coordinates the group, else forwards; a coordinator found gone
   * is routed around and the next one tried.
   */
  async #routed<T>(group: string, local: () => Promise<T>, remote: (brokerId: string) => Promise<T>, timeoutMs: number): Promise<T> {
    let last: SealbusError | null = null;
    for (let attempt = 0; attempt < MAX_ROUTES; attempt++) {
      const target = typeof group === 'string' ? this.routing.coordinatorOf(group) : this.routing.self;
      if (target === this.routing.self) return local();
      try {
        return await remote(target);
      } catch (err) {
        last = this.#failure(err, target, group, timeoutMs);
        if (!(err instanceof BusError && err.kind === 'no-responders')) throw last;
      }
    }
    throw last ?? notCoordinator(group, this.routing.self, 'no coordinator answers');
  }

  async join(request: JoinRequest): Promise<JoinResult> {
    return this.#routed(request.group, () => this.#local.join(request), (target) => this.#remoteJoin(target, request), FORWARD_TIMEOUTS.join);
  }

  async #remoteJoin(target: string, request: JoinRequest): Promise<JoinResult> {
    const session = this.#relay.beginJoin(request.owner);
    let membership: RemoteMembership | null = null;
    try {
      const value = await this.#request(
        target,
        {
          op: 'join',
          from: this.#origin(session),
          group: request.group,
          topics: request.topics,
          strategy: request.strategy,
          ...(request.sessionTimeoutMs !== undefined && { sessionTimeoutMs: request.sessionTimeoutMs }),
          ...(request.rebalanceTimeoutMs !== undefined && { rebalanceTimeoutMs: request.rebalanceTimeoutMs }),
          principal: request.principal,
          clientAddress: request.clientAddress,
        },
        FORWARD_TIMEOUTS.join,
      );
      const result = parseJoinResult(value);
      membership = { group: request.group, memberId: result.memberId, coordinator: target, channel: request.channel };
      return result;
    } finally {
      this.#relay.endJoin(request.owner, membership);
    }
  }

  /** Forwards a member's operation to the coordinator that admitted it; a coordinator gone or moved ends the membership. */
  async #forMember(owner: object, membership: RemoteMembership, message: CoordinatorRequest, timeoutMs: number): Promise<unknown> {
    const { group, memberId, coordinator } = membership;
    if (this.routing.coordinatorOf(group) !== coordinator) {
      this.#relay.drop(owner, memberId);
      void this.#request(coordinator, { op: 'leave', from: this.#origin(this.#relay.sessionId(owner)), group, memberId }, FORWARD_TIMEOUTS.leave).catch(() => {});
      throw notCoordinator(group, coordinator, 'the group moved to another broker');
    }
    try {
      return await this.#request(coordinator, message, timeoutMs);
    } catch (err) {
      const error = this.#failure(err, coordinator, group, timeoutMs);
      if (error.code === 'SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE' || error.code === 'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER') this.#relay.drop(owner, memberId);
      throw error;
    }
  }

  heartbeat(group: string, memberId: string, owner: object, generation: number): void | Promise<void> {
    const membership = this.#relay.find(owner, memberId);
    if (membership === undefined || membership.group !== group) return this.#local.heartbeat(group, memberId, owner, generation);
    const session = this.#relay.sessionId(owner);
    return this.#forMember(owner, membership, { op: 'heartbeat', from: this.#origin(session), group, memberId, generation }, FORWARD_TIMEOUTS.heartbeat).then(() => undefined);
  }

  async commit(group: string, memberId: string, owner: object, generation: number, offsets: readonly CommitEntry[]): Promise<void> {
    const membership = this.#relay.find(owner, memberId);
    if (membership === undefined || membership.group !== group) return this.#local.commit(group, memberId, owner, generation, offsets);
    const session = this.#relay.sessionId(owner);
    await this.#forMember(owner, membership, { op: 'commit', from: this.#origin(session), group, memberId, generation, offsets }, FORWARD_TIMEOUTS.commit);
  }

  leave(group: string, memberId: string, owner: object): void | Promise<void> {
    const membership = this.#relay.find(owner, memberId);
    if (membership === undefined || membership.group !== group) return this.#local.leave(group, memberId, owner);
    const session = this.#relay.sessionId(owner);
    this.#relay.drop(owner, memberId);
    return this.#request(membership.coordinator, { op: 'leave', from: this.#origin(session), group, memberId }, FORWARD_TIMEOUTS.leave).then(
      () => undefined,
      (err: unknown) => {
        // Gone or unreachable: the member goes with its coordinator or its session timeout.
        if (err instanceof BusError) return;
        throw err;
      },
    );
  }

  /** The session ended: its members here leave, and each coordinator elsewhere is told to drop the session's. */
  leaveAll(owner: object): void {
    this.#local.leaveAll(owner);
    const closed = this.#relay.closeSession(owner);
    if (closed === null) return;
    for (const coordinator of new Set(closed.members.map((member) => member.coordinator))) {
      void this.#request(coordinator, { op: 'leaveAll', from: this.#origin(closed.session) }, FORWARD_TIMEOUTS.leave).catch(() => {});
    }
  }

  hasMember(group: string, memberId: string, owner: object): boolean {
    return this.#relay.find(owner, memberId)?.group === group || this.#local.hasMember(group, memberId, owner);
  }

  async describe(group: string): Promise<GroupDescription> {
    return this.#routed(
      group,
      () => this.#local.describe(group),
      async (target) => (await this.#request(target, { op: 'describe', group }, FORWARD_TIMEOUTS.admin)) as GroupDescription,
      FORWARD_TIMEOUTS.admin,
    );
  }

  /** Groups with committed offsets or members anywhere: the active groups of every live broker are asked for. */
  async list(): Promise<GroupSummary[]> {
    const mine = await this.#local.list();
    const byName = new Map(mine.map((summary) => [summary.group, summary]));
    const others = this.routing.brokers().filter((broker) => broker !== this.routing.self);
    const answers = await Promise.all(
      others.map((broker) =>
        this.#request(broker, { op: 'list' }, FORWARD_TIMEOUTS.list).catch((err: unknown) => {
          if (err instanceof BusError && err.kind === 'no-responders') this.routing.markGone(broker);
          return [];
        }),
      ),
    );
    for (const answer of answers) {
      for (const summary of Array.isArray(answer) ? answer : []) {
        if (!isSummary(summary)) continue;
        const known = byName.get(summary.group);
        if (known === undefined || known.members === 0) byName.set(summary.group, summary);
      }
    }
    return [...byName.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  async resetOffsets(group: string, to: ResetTarget, topics?: readonly string[]): Promise<{ topic: string; partition: number; offset: number }[]> {
    return this.#routed(
      group,
      () => this.#local.resetOffsets(group, to, topics),
      async (target) =>
        (await this.#request(target, { op: 'reset', group, to, ...(topics !== undefined && { topics }) }, FORWARD_TIMEOUTS.admin)) as {
          topic: string;
          partition: number;
          offset: number;
        }[],
      FORWARD_TIMEOUTS.admin,
    );
  }

  async deleteGroup(group: string): Promise<void> {
    await this.#routed(
      group,
      () => this.#local.deleteGroup(group),
      async (target) => {
        await this.#request(target, { op: 'delete', group }, FORWARD_TIMEOUTS.admin);
      },
      FORWARD_TIMEOUTS.admin,
    );
  }
}

function parseJoinResult(value: unknown): JoinResult {
  const o = value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || typeof o['memberId'] !== 'string' || typeof o['heartbeatIntervalMs'] !== 'number') {
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'malformed join answer from another broker' });
  }
  return { memberId: o['memberId'], heartbeatIntervalMs: o['heartbeatIntervalMs'], assignment: parseAssignment(o['assignment'], 'join answer') };
}

function isSummary(value: unknown): value is GroupSummary {
  const o = value as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && typeof o['group'] === 'string' && typeof o['state'] === 'string' && typeof o['members'] === 'number' && typeof o['generation'] === 'number';
}
