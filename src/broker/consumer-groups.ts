import { assertTopicName } from '../log/index.js';
import { assertGroupName } from '../log/group-checks.js';
import type { Action, Actor, Resource } from './access.js';
import type { AuditTrail } from './audit-trail.js';
import {
  GroupCoordinator,
  type CoordinatorOptions,
  type GroupDescription,
  type GroupSummary,
  type JoinRequest,
  type MemberAssignment,
} from './groups/index.js';
import type { CommitEntry, JoinResult, ResetTarget as CoordinatorResetTarget } from './groups/types.js';

/**
 * Where group operations run: this broker's coordinator, or (on a shared store) the cluster
 * routing, which runs them here or forwards them to the group's coordinator broker.
 */
export interface GroupBackend {
  join(request: JoinRequest): Promise<JoinResult>;
  heartbeat(group: string, memberId: string, owner: object, generation: number): void | Promise<void>;
  commit(group: string, memberId: string, owner: object, generation: number, offsets: readonly CommitEntry[]): Promise<void>;
  leave(group: string, memberId: string, owner: object): void | Promise<void>;
  leaveAll(owner: object): void;
  hasMember(group: string, memberId: string, owner: object): boolean;
  describe(group: string): Promise<GroupDescription>;
  list(): Promise<GroupSummary[]>;
  resetOffsets(group: string, to: CoordinatorResetTarget, topics?: readonly string[]): Promise<{ topic: string; partition: number; offset: number }[]>;
  deleteGroup(group: string): Promise<void>;
}

/** A join as the transport asks it; the principal comes from the authenticated actor. */
export type JoinGroupInput = Omit<JoinRequest, 'principal'>;

export type ResetTarget = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'timestamp'; timestamp: number };

type Authorize = (actor: Actor, action: Action, resource: Resource) => void;
type IsAllowed = (actor: Actor, action: Action, resource: Resource) => boolean;

/**
 * Consumer groups as clients see them: the coordinator's operations, each behind its
 * authorization. Joining needs `consume` on the group and on every topic; committing needs
 * `commit-offset` on the group and `consume` on every topic committed; describing `describe`, resetting `alter`, deleting `delete`.
 * Membership itself is bound to the session (`owner`), so a member id learned by someone else is
 * useless to them.
 */
export class ConsumerGroups {
  /** This broker's coordinator: every group on a single broker, the groups that fall to it in a cluster. */
  readonly coordinator: GroupCoordinator;
  #backend: GroupBackend;
  readonly #authorize: Authorize;
  readonly #isAllowed: IsAllowed;
  readonly #audit: AuditTrail;

  constructor(options: CoordinatorOptions, authorize: Authorize, isAllowed: IsAllowed, audit: AuditTrail) {
    this.coordinator = new GroupCoordinator(options);
    this.#backend = this.coordinator;
    this.#authorize = authorize;
    this.#isAllowed = isAllowed;
    this.#audit = audit;
  }

  /** On a shared store: routes group operations to each group's coordinator broker (src/broker/groups/cluster). */
  useBackend(backend: GroupBackend): void {
    this.#backend = backend;
  }

  #group(actor: Actor, action: Action, group: string): void {
    assertGroupName(group);
    this.#authorize(actor, action, { kind: 'group', name: group });
  }

  async join(actor: Actor, input: JoinGroupInput): Promise<{ memberId: string; heartbeatIntervalMs: number; assignment: MemberAssignment }> {
    this.#group(actor, 'consume', input.group);
    for (const topic of input.topics) {
      assertTopicName(topic);
      this.#authorize(actor, 'consume', { kind: 'topic', name: topic });
    }
    return this.#backend.join({
      group: input.group,
      topics: input.topics,
      strategy: input.strategy,
      ...(input.sessionTimeoutMs !== undefined && { sessionTimeoutMs: input.sessionTimeoutMs }),
      ...(input.rebalanceTimeoutMs !== undefined && { rebalanceTimeoutMs: input.rebalanceTimeoutMs }),
      owner: input.owner,
      principal: actor.name,
      clientAddress: input.clientAddress,
      channel: input.channel,
    });
  }

  /** Rights withdrawn later (policy reload, token refresh) are enforced by the transport, which re-checks its sessions then. */
  heartbeat(group: string, memberId: string, owner: object, generation: number): void | Promise<void> {
    return this.#backend.heartbeat(group, memberId, owner, generation);
  }

  async commit(
    actor: Actor,
    group: string,
    memberId: string,
    owner: object,
    generation: number,
    offsets: readonly { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    this.#group(actor, 'commit-offset', group);
    for (const topic of new Set(offsets.map((o) => o.topic))) {
      assertTopicName(topic);
      this.#authorize(actor, 'consume', { kind: 'topic', name: topic });
    }
    await this.#backend.commit(group, memberId, owner, generation, offsets);
  }

  leave(group: string, memberId: string, owner: object): void | Promise<void> {
    return this.#backend.leave(group, memberId, owner);
  }

  leaveAll(owner: object): void {
    this.#backend.leaveAll(owner);
  }

  hasMember(group: string, memberId: string, owner: object): boolean {
    return this.#backend.hasMember(group, memberId, owner);
  }

  async list(actor: Actor): Promise<GroupSummary[]> {
    const groups = await this.#backend.list();
    return groups.filter((g) => this.#isAllowed(actor, 'describe', { kind: 'group', name: g.group }));
  }

  async describe(actor: Actor, group: string): Promise<GroupDescription> {
    this.#group(actor, 'describe', group);
    return this.#backend.describe(group);
  }

  async reset(actor: Actor, group: string, to: ResetTarget, topics?: readonly string[]): Promise<{ topic: string; partition: number; offset: number }[]> {
    this.#group(actor, 'alter', group);
    for (const topic of topics ?? []) {
      assertTopicName(topic);
      this.#authorize(actor, 'describe', { kind: 'topic', name: topic });
    }
    this.#audit.assertAvailable();
    const offsets = await this.#backend.resetOffsets(group, to, topics);
    const target = to.kind === 'timestamp' ? `timestamp:${to.timestamp}` : to.kind;
    await this.#audit.admin('sealbus.admin.group.reset', actor, { kind: 'group', name: group }, { action: 'alter', to: target, partitions: offsets.length });
    return offsets;
  }

  async delete(actor: Actor, group: string): Promise<void> {
    this.#group(actor, 'delete', group);
    this.#audit.assertAvailable();
    await this.#backend.deleteGroup(group);
    await this.#audit.admin('sealbus.admin.group.delete', actor, { kind: 'group', name: group }, { action: 'delete' });
  }
}
