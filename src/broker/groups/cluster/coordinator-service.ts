import { SealbusError, isSealbusError } from '../../../errors/index.js';
import { BusError, type GroupSubjects, type MessageBus } from '../../../log/jetstream/message-bus.js';
import type { GroupCoordinator } from '../group-coordinator.js';
import type { AssignmentStrategy, MemberChannel } from '../types.js';
import type { BrokerRouting } from '../../cluster/routing.js';
import { encode, parseReply, parseRequest, type CoordinatorRequest, type MemberPush, type Origin, type Reply } from './wire.js';

/** How long a push to a member's broker may go unanswered; then the session timeout decides. */
const PUSH_TIMEOUT_MS = 5_000;

interface Proxy {
  /** The `owner` the coordinator binds the session's members to. */
  readonly owner: object;
  readonly origin: Origin;
  joining: number;
}

export interface CoordinatorServiceDeps {
  readonly local: GroupCoordinator;
  readonly routing: BrokerRouting;
  readonly bus: MessageBus;
  readonly subjects: GroupSubjects;
  readonly report?: (err: unknown) => void;
}

export function notCoordinator(group: string, brokerId: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE', { group, brokerId, reason });
}

/**
 * The coordinator side of groups whose members are on other brokers. It serves the requests
 * other brokers forward (they authorized them, and they answer for their sessions), runs them on
 * this broker's GroupCoordinator, and pushes assignments and removals to the member's broker. A
 * remote session is an owner object keyed by (broker, broker run, session id), so only that
 * session can heartbeat, commit or leave for its members.
 */
export class CoordinatorService {
  readonly #deps: CoordinatorServiceDeps;
  readonly #proxies = new Map<string, Proxy>();

  constructor(deps: CoordinatorServiceDeps) {
    this.#deps = deps;
  }

  /** Answers one forwarded request; never throws (errors travel in the reply). */
  async handle(data: Uint8Array): Promise<Uint8Array> {
    let reply: Reply;
    try {
      const value = await this.#run(parseRequest(data, this.#deps.bus.maxPayload()));
      reply = value === undefined ? { ok: true } : { ok: true, value };
    } catch (err) {
      const error = isSealbusError(err) ? err : new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: 'group coordinator' });
      if (!isSealbusError(err)) this.#deps.report?.(err);
      reply = { ok: false, error: error.toWire() };
    }
    const encoded = encode(reply);
    if (encoded.byteLength <= this.#deps.bus.maxPayload()) return encoded;
    const tooLarge = new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'the answer of the group coordinator exceeds the NATS max_payload' });
    return encode({ ok: false, error: tooLarge.toWire() });
  }

  async #run(request: CoordinatorRequest): Promise<unknown> {
    const { local } = this.#deps;
    switch (request.op) {
      case 'join':
        return this.#join(request);
      case 'heartbeat':
        return local.heartbeat(request.group, request.memberId, this.#ownerOf(request.from, request.group, request.memberId), request.generation);
      case 'commit':
        return local.commit(request.group, request.memberId, this.#ownerOf(request.from, request.group, request.memberId), request.generation, request.offsets);
      case 'leave':
        return local.leave(request.group, request.memberId, this.#ownerOf(request.from, request.group, request.memberId));
      case 'leaveAll': {
        const key = proxyKey(request.from);
        const proxy = this.#proxies.get(key);
        if (proxy !== undefined) {
          local.leaveAll(proxy.owner);
          if (proxy.joining === 0) this.#proxies.delete(key);
        }
        return undefined;
      }
      case 'list':
        return local.activeSummaries();
      case 'describe':
        this.#assertCoordinator(request.group);
        return local.describe(request.group);
      case 'reset':
        this.#assertCoordinator(request.group);
        return local.resetOffsets(request.group, request.to, request.topics);
      case 'delete':
        this.#assertCoordinator(request.group);
        return local.deleteGroup(request.group);
    }
  }

  async #join(request: Extract<CoordinatorRequest, { op: 'join' }>): Promise<unknown> {
    this.#assertCoordinator(request.group);
    const key = proxyKey(request.from);
    let proxy = this.#proxies.get(key);
    if (proxy === undefined) this.#proxies.set(key, (proxy = { owner: {}, origin: request.from, joining: 0 }));
    const ref = { memberId: '' };
    proxy.joining++;
    try {
      const joined = await this.#deps.local.join({
        group: request.group,
        topics: request.topics,
        strategy: request.strategy as AssignmentStrategy,
        ...(request.sessionTimeoutMs !== undefined && { sessionTimeoutMs: request.sessionTimeoutMs }),
        ...(request.rebalanceTimeoutMs !== undefined && { rebalanceTimeoutMs: request.rebalanceTimeoutMs }),
        owner: proxy.owner,
        principal: request.principal,
        clientAddress: request.clientAddress,
        channel: this.#channel(proxy, request.group, ref),
      });
      ref.memberId = joined.memberId;
      return joined;
    } finally {
      proxy.joining--;
    }
  }

  #assertCoordinator(group: string): void {
    const { routing } = this.#deps;
    if (typeof group === 'string' && routing.coordinatorOf(group) !== routing.self) {
      throw notCoordinator(group, routing.self, 'this broker does not coordinate the group now');
    }
  }

  /** The owner of a forwarded session; an unknown session gets the coordinator's own answer for an unknown member. */
  #ownerOf(from: Origin, group: string, memberId: string): object {
    const proxy = this.#proxies.get(proxyKey(from));
    if (proxy === undefined) throw new SealbusError('SEALBUS_ERR_GROUP_UNKNOWN_MEMBER', { group, memberId });
    return proxy.owner;
  }

  #channel(proxy: Proxy, group: string, ref: { memberId: string }): MemberChannel {
    return {
      assign: (assignment) => this.#push(proxy, group, assignment.memberId, { op: 'assign', session: proxy.origin.session, assignment }),
      removed: (error) => this.#push(proxy, group, ref.memberId, { op: 'removed', session: proxy.origin.session, group, memberId: ref.memberId, error: error.toWire() }),
    };
  }

  /**
   * Pushes to the member's broker. A broker that has no listener any more (it is gone), or no
   * longer has the session, loses the member at once; no answer in time leaves it to the session timeout.
   */
  #push(proxy: Proxy, group: string, memberId: string, push: MemberPush): void {
    const { bus, subjects } = this.#deps;
    const dropMember = (): void => {
      if (push.op === 'removed' || !this.#deps.local.hasMember(group, memberId, proxy.owner)) return;
      try {
        this.#deps.local.leave(group, memberId, proxy.owner);
      } catch {
        // already gone
      }
    };
    bus.request(subjects.member(proxy.origin.broker), encode(push), PUSH_TIMEOUT_MS).then(
      (data) => {
        try {
          const reply = parseReply(data, bus.maxPayload());
          if (!reply.ok && reply.gone === true) dropMember();
        } catch (err) {
          this.#deps.report?.(err);
        }
      },
      (err: unknown) => {
        if (err instanceof BusError && err.kind === 'no-responders') dropMember();
      },
    );
  }

  /**
   * Drops the members of sessions whose broker is no longer alive, or runs again (a new
   * instance: its old sessions are gone), and forgets sessions without members.
   */
  sweep(): void {
    const { local, routing } = this.#deps;
    for (const [key, proxy] of [...this.#proxies]) {
      if (proxy.joining > 0) continue;
      if (routing.instanceOf(proxy.origin.broker) !== proxy.origin.instance) local.leaveAll(proxy.owner);
      if (!local.holdsMembers(proxy.owner)) this.#proxies.delete(key);
    }
  }

  /** Remote sessions known; for tests and metrics. */
  get sessions(): number {
    return this.#proxies.size;
  }
}

function proxyKey(origin: Origin): string {
  return `${origin.broker}\u0000${origin.instance}\u0000${origin.session}`;
}
