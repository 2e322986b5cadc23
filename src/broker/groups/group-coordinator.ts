import { randomUUID } from 'node:crypto';
import { SealbusError } from '../../errors/index.js';
import type { CommittedOffset, LogStore } from '../../log/index.js';
import { assertGroupName, checkCommits } from '../../log/group-checks.js';
import { ConsumerGroup, type Member } from './consumer-group.js';
import { describeGroup, resetPositions, summarize } from './group-admin.js';
import { KeyedMutex } from './keyed-mutex.js';
import { resolveGroupLimits } from './limits.js';
import { MemberTimers, nodeTimers } from './member-timers.js';
import { countsDiffer, readPartitionCounts } from './partition-counts.js';
import { checkGeneration, checkJoinRequest, checkResetTarget, checkTopics, commitEntries, type CheckedJoin } from './request-checks.js';
import { compareStrings, keyOf } from './topic-partition.js';
import type {
  CommitEntry,
  CoordinatorOptions,
  GroupDescription,
  GroupLimits,
  GroupSummary,
  JoinRequest,
  JoinResult,
  ResetTarget,
} from './types.js';

/** Heartbeats re-read the partition counts at most this often per group; topicChanged() is the fast path. */
const COUNT_RECHECK_MS = 1_000;
/** A reset may name more topics than a member may subscribe to, but not without bound. */
const MAX_RESET_TOPICS = 10_000;

/**
 * Consumer groups on the broker: membership, partition assignment with cooperative (two-phase)
 * revocation, liveness by heartbeat, and commit fencing. It knows no transport: members are
 * reached through their `MemberChannel`, and callers are identified by an opaque `owner` (the
 * session), so a member id alone grants nothing.
 *
 * A member acknowledges a pushed assignment by a heartbeat carrying that generation; only then do
 * the partitions it was told to give up move on. Time and timers are injected.
 */
export class GroupCoordinator {
  readonly limits: GroupLimits;
  readonly #store: LogStore;
  readonly #clock: () => number;
  readonly #timers: MemberTimers;
  readonly #memberIds: () => string;
  /** Groups with at least one member: a group is dropped from here when its last member goes. */
  readonly #groups = new Map<string, ConsumerGroup>();
  readonly #byOwner = new Map<object, Set<Member>>();
  readonly #mutex = new KeyedMutex();
  #closed = false;

  constructor(options: CoordinatorOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? Date.now;
    this.#timers = new MemberTimers(options.timers ?? nodeTimers, this.#clock, {
      groupOf: (member) => this.#groups.get(member.group),
      deliver: (state, members) => this.#deliver(state, members),
      remove: (state, member) => {
        this.#drop(state, member);
        this.#rebalanceAfterDeparture(state);
      },
    });
    this.#memberIds = options.memberIds ?? randomUUID;
    this.limits = resolveGroupLimits(options.limits);
  }

  /** Joins a group; the reply carries the first assignment, later ones come through the channel. */
  async join(request: JoinRequest): Promise<JoinResult> {
    this.#ensureOpen();
    const checked = checkJoinRequest(request, this.limits);
    const group = this.#groups.get(checked.group);
    // The group's cache holds the committed offsets of the topics it reads; others come from the store.
    if (group !== undefined && checked.topics.every((topic) => group.subscribes(topic))) return this.#admit(checked, []);
    if (group === undefined) this.#assertGroupCapacity();
    // Under the group's lock: a reset or delete cannot run between reading the offsets and the join.
    return this.#mutex.run(checked.group, async () => {
      const stored = await this.#store.fetchOffsets(checked.group);
      this.#ensureOpen();
      return this.#admit(checked, stored);
    });
  }

  /** Synchronous from the admission checks to the reply, so no other call sees a half-joined member. */
  #admit(request: CheckedJoin, stored: readonly CommittedOffset[]): JoinResult {
    const now = this.#clock();
    const existing = this.#groups.get(request.group);
    if (existing === undefined) this.#assertGroupCapacity();
    const group = existing ?? new ConsumerGroup(request.group, request.strategy, now);
    if (group.strategy !== request.strategy) {
      throw new SealbusError('SEALBUS_ERR_GROUP_STRATEGY_MISMATCH', { group: group.name, current: group.strategy, requested: request.strategy });
    }
    if (group.members.size >= this.limits.maxMembersPerGroup) {
      throw new SealbusError('SEALBUS_ERR_GROUP_TOO_MANY_MEMBERS', { group: group.name, limit: this.limits.maxMembersPerGroup });
    }
    if (existing === undefined) this.#groups.set(group.name, group);
    // Only topics nobody reads yet: for the others the cache already has every accepted commit.
    for (const entry of stored) {
      if (!request.topics.includes(entry.topic) || group.subscribes(entry.topic)) continue;
      const partitions = this.#partitionsNow(entry.topic);
      if (partitions !== null) group.rememberOffset(keyOf(entry.topic, entry.partition), entry.offset, partitions);
    }
    const member = this.#newMember(request, now);
    group.add(member);
    let owned = this.#byOwner.get(member.owner);
    if (owned === undefined) this.#byOwner.set(member.owner, (owned = new Set()));
    owned.add(member);
    const others = group.rebalance(this.#readCounts(group)).filter((other) => other !== member);
    const assignment = group.assignmentFor(member, now);
    this.#deliver(group, others);
    // The reply is not on the wire before this call returns: pushes wait at least one timer tick.
    this.#timers.armReady(member);
    this.#timers.arm(member);
    return { memberId: member.id, heartbeatIntervalMs: Math.max(1, Math.floor(member.sessionTimeoutMs / 3)), assignment };
  }

  #assertGroupCapacity(): void {
    if (this.#groups.size >= this.limits.maxGroups) {
      throw new SealbusError('SEALBUS_ERR_GROUP_TOO_MANY_GROUPS', { limit: this.limits.maxGroups });
    }
  }

  #newMember(request: CheckedJoin, now: number): Member {
    return {
      id: this.#memberIds(),
      group: request.group,
      owner: request.owner,
      principal: request.principal,
      clientAddress: request.clientAddress,
      channel: request.channel,
      topics: request.topics,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      joinedAt: now,
      lastHeartbeatAt: now,
      generation: 0,
      ready: false,
      pushDue: false,
      owned: new Set(),
      revoking: new Map(),
      revokeDeadline: null,
      timer: null,
      readyTimer: null,
    };
  }

  /**
   * Keeps the member alive and acknowledges `generation`, the last pushed generation the member
   * has applied: the partitions that push revoked are released to their new owners.
   */
  heartbeat(group: string, memberId: string, owner: object, generation: number): void {
    const { state, member } = this.#memberOf(group, memberId, owner);
    checkGeneration(generation);
    if (generation > member.generation) {
      throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', {
        reason: `generation ${generation} was never sent to this member; its latest is ${member.generation}`,
      });
    }
    const now = this.#clock();
    member.lastHeartbeatAt = now;
    const pushes = new Set(state.release(member, generation, now));
    if (!member.ready) {
      // A heartbeat proves the client has its member id: held pushes may go now.
      this.#timers.cancelReady(member);
      member.ready = true;
      if (member.pushDue) pushes.add(member);
    }
    if (now - state.countsCheckedAt >= COUNT_RECHECK_MS) {
      state.countsCheckedAt = now;
      const counts = this.#readCounts(state);
      if (countsDiffer(state.counts, counts)) for (const each of state.rebalance(counts)) pushes.add(each);
    }
    this.#deliver(state, pushes);
  }

  /**
   * Commits offsets for the member's partitions, fenced: the member must be current (same owner,
   * same generation as its last push) and own every partition named, pending revocations included.
   */
  async commit(group: string, memberId: string, owner: object, generation: number, offsets: readonly CommitEntry[]): Promise<void> {
    const { state, member } = this.#memberOf(group, memberId, owner);
    checkGeneration(generation);
    if (generation !== member.generation) {
      throw new SealbusError('SEALBUS_ERR_GROUP_STALE_GENERATION', { group, generation, current: member.generation });
    }
    const entries = commitEntries(offsets);
    for (const { topic, partition } of entries) {
      if (!member.owned.has(keyOf(topic, partition))) {
        throw new SealbusError('SEALBUS_ERR_GROUP_NOT_ASSIGNED', { group, memberId, topic, partition }, { details: { topic, partition } });
      }
    }
    checkCommits(group, entries, (topic) => this.#store.topicConfig(topic).partitions);
    if (entries.length === 0) return;
    await this.#store.commitOffsets(group, entries);
    // Only the owner commits a partition, so this cache is what its next owner starts from.
    if (this.#groups.get(group) !== state) return;
    for (const entry of entries) {
      const partitions = this.#partitionsNow(entry.topic);
      if (partitions !== null) state.rememberOffset(keyOf(entry.topic, entry.partition), entry.offset, partitions);
    }
  }

  /** The topic's partition count in the store now; null when it does not exist. */
  #partitionsNow(topic: string): number | null {
    try {
      return this.#store.topicConfig(topic).partitions;
    } catch {
      return null;
    }
  }

  /** The member leaves: its partitions are free at once (it committed what it processed) and the rest rebalance. */
  leave(group: string, memberId: string, owner: object): void {
    const { state, member } = this.#memberOf(group, memberId, owner);
    this.#drop(state, member);
    this.#rebalanceAfterDeparture(state);
  }

  /** The session closed: every member it held leaves. */
  leaveAll(owner: object): void {
    const members = this.#byOwner.get(owner);
    if (members === undefined) return;
    const affected = new Set<ConsumerGroup>();
    for (const member of [...members]) {
      const state = this.#groups.get(member.group);
      if (state === undefined) continue;
      this.#drop(state, member);
      affected.add(state);
    }
    for (const state of affected) this.#rebalanceAfterDeparture(state);
  }

  /** A topic was created, deleted or grew: groups subscribed to it rebalance if its partition count changed. */
  topicChanged(topic: string): void {
    if (this.#closed) return;
    const now = this.#clock();
    for (const state of [...this.#groups.values()]) {
      if (this.#groups.get(state.name) !== state || !state.subscribes(topic)) continue;
      state.countsCheckedAt = now;
      const counts = this.#readCounts(state);
      if (countsDiffer(state.counts, counts)) this.#deliver(state, state.rebalance(counts));
    }
  }

  hasMember(group: string, memberId: string, owner: object): boolean {
    const member = this.#groups.get(group)?.members.get(memberId);
    return member !== undefined && member.owner === owner;
  }

  /** Whether the owner holds any member now. */
  holdsMembers(owner: object): boolean {
    return (this.#byOwner.get(owner)?.size ?? 0) > 0;
  }

  /** Summaries of the groups with members (no store access). */
  activeSummaries(): GroupSummary[] {
    return [...this.#groups.keys()].sort(compareStrings).map((name) => summarize(name, this.#groups.get(name)));
  }

  /** The groups with members, by name. */
  activeGroups(): string[] {
    return [...this.#groups.keys()];
  }

  /**
   * Removes every member of the group and tells each through its channel, with the error `reason`
   * gives it (the group moved to another coordinator); their partitions are free at once.
   */
  removeGroup(group: string, reason: (memberId: string) => SealbusError): void {
    const state = this.#groups.get(group);
    if (state === undefined) return;
    const members = [...state.members.values()];
    for (const member of members) this.#drop(state, member);
    this.#groups.delete(group);
    for (const member of members) {
      try {
        member.channel.removed(reason(member.id));
      } catch {
        // gone either way
      }
    }
  }

  async describe(group: string): Promise<GroupDescription> {
    assertGroupName(group);
    return describeGroup(this.#store, group, () => this.#groups.get(group));
  }

  /** Active groups and groups with committed offsets, by name. */
  async list(): Promise<GroupSummary[]> {
    const names = new Set([...(await this.#store.listGroups()), ...this.#groups.keys()]);
    return [...names].sort(compareStrings).map((name) => summarize(name, this.#groups.get(name)));
  }

  /** Moves the committed offsets of a group without members; returns what it committed. */
  async resetOffsets(group: string, to: ResetTarget, topics?: readonly string[]): Promise<{ topic: string; partition: number; offset: number }[]> {
    assertGroupName(group);
    checkResetTarget(to);
    const named = topics === undefined ? undefined : checkTopics(topics, MAX_RESET_TOPICS);
    return this.#mutex.run(group, async () => {
      this.#assertEmpty(group);
      const positions = await resetPositions(this.#store, group, to, named);
      if (positions.length > 0) await this.#store.commitOffsets(group, positions.map((position) => ({ ...position, metadata: '' })));
      return positions;
    });
  }

  /** Deletes the committed offsets of a group without members. */
  async deleteGroup(group: string): Promise<void> {
    assertGroupName(group);
    await this.#mutex.run(group, async () => {
      this.#assertEmpty(group);
      if ((await this.#store.fetchOffsets(group)).length === 0) throw new SealbusError('SEALBUS_ERR_GROUP_NOT_FOUND', { group });
      await this.#store.deleteGroup(group);
    });
  }

  /** Cancels every timer and forgets every member without telling them: the broker is stopping. */
  close(): void {
    this.#closed = true;
    for (const state of this.#groups.values()) {
      for (const member of state.members.values()) this.#timers.cancel(member);
    }
    this.#groups.clear();
    this.#byOwner.clear();
  }

  #ensureOpen(): void {
    if (this.#closed) throw new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'the consumer group coordinator is closed' });
  }

  #assertEmpty(group: string): void {
    const members = this.#groups.get(group)?.members.size ?? 0;
    if (members > 0) throw new SealbusError('SEALBUS_ERR_GROUP_NOT_EMPTY', { group, members });
  }

  /** One answer for an unknown group, an unknown member and another session's member: no oracle. */
  #memberOf(group: string, memberId: string, owner: object): { state: ConsumerGroup; member: Member } {
    const state = this.#groups.get(group);
    const member = typeof memberId === 'string' ? state?.members.get(memberId) : undefined;
    if (state === undefined || member === undefined || member.owner !== owner) {
      throw new SealbusError('SEALBUS_ERR_GROUP_UNKNOWN_MEMBER', { group: String(group), memberId: String(memberId) });
    }
    return { state, member };
  }

  #readCounts(state: ConsumerGroup): Map<string, number> {
    return readPartitionCounts(this.#store, state.subscribedTopics(), state.counts);
  }

  #drop(state: ConsumerGroup, member: Member): void {
    state.remove(member);
    this.#timers.cancel(member);
    const owned = this.#byOwner.get(member.owner);
    owned?.delete(member);
    if (owned?.size === 0) this.#byOwner.delete(member.owner);
  }

  #rebalanceAfterDeparture(state: ConsumerGroup): void {
    if (this.#groups.get(state.name) !== state) return;
    if (state.members.size === 0) this.#groups.delete(state.name);
    else this.#deliver(state, state.rebalance(this.#readCounts(state)));
  }

  /** Pushes to each member still in the group; a member that is not ready yet gets one coalesced push later. */
  #deliver(state: ConsumerGroup, members: Iterable<Member>): void {
    for (const member of [...members]) {
      if (this.#groups.get(state.name) !== state || state.members.get(member.id) !== member) continue;
      if (!member.ready) {
        member.pushDue = true;
        continue;
      }
      member.pushDue = false;
      const assignment = state.assignmentFor(member, this.#clock());
      this.#timers.arm(member);
      try {
        member.channel.assign(assignment);
      } catch {
        // A transport that cannot deliver leaves the member without its ack; the rebalance or
        // session timeout then removes it, so ownership never hangs on a broken channel.
      }
    }
  }
}
