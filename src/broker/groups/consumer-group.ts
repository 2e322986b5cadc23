import { assignPartitions } from './assignor.js';
import { comparePartitions, keyOf, partitionOfKey, type PartitionCounts, type PartitionKey } from './topic-partition.js';
import type { AssignmentStrategy, GroupStateName, MemberAssignment, MemberChannel, TopicPartition } from './types.js';

export interface Member {
  readonly id: string;
  readonly group: string;
  readonly owner: object;
  readonly principal: string;
  readonly clientAddress: string | null;
  readonly channel: MemberChannel;
  /** Sorted, without duplicates. */
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly joinedAt: number;
  lastHeartbeatAt: number;
  /** The last generation the member was told (join reply or push): its commits must carry it. */
  generation: number;
  /**
   * False until the join reply has surely been handed to the transport (a timer tick after join, or
   * the member's first heartbeat); pushes due before then are held and coalesced into one.
   */
  ready: boolean;
  pushDue: boolean;
  /** Every partition the member owns, pending revocations included: nobody else may consume these. */
  readonly owned: Set<PartitionKey>;
  /** Owned but targeted elsewhere: key → the generation whose push told the member (null: not told yet). */
  readonly revoking: Map<PartitionKey, number | null>;
  /** When the member must have acknowledged the revocations it was told about; null when there are none. */
  revokeDeadline: number | null;
  timer: { readonly handle: unknown; readonly due: number } | null;
  readyTimer: { readonly handle: unknown } | null;
}

/**
 * The membership and ownership of one consumer group, without timers or transport.
 *
 * The core invariant: a partition has at most one owner at any instant. A rebalance computes a
 * target; a partition targeted away from its owner stays owned (pending revocation) until that
 * owner acknowledges the generation that told it to stop, and only then passes to its target.
 * Free partitions go to their target at once.
 */
export class ConsumerGroup {
  readonly name: string;
  readonly strategy: AssignmentStrategy;
  generation = 0;
  readonly members = new Map<string, Member>();
  /** Partition counts of the subscribed topics at the last rebalance. */
  counts: PartitionCounts = new Map();
  countsCheckedAt: number;
  /**
   * Committed offsets of the subscribed topics: read from the store when a topic is first
   * subscribed, then updated by every accepted commit (only an owner commits, so nothing else
   * changes them). Pushes must be synchronous, hence the cache.
   */
  readonly offsets = new Map<PartitionKey, number>();
  /**
   * The topic's partition count when each cached offset was read or committed: a count that
   * differs later means the topic was deleted and created again since, and the offset is gone
   * with the old topic; an offset committed after the new topic appeared stays.
   */
  readonly #offsetCounts = new Map<PartitionKey, number>();
  readonly #owners = new Map<PartitionKey, Member>();
  /** Topic → how many members read it. */
  readonly #subscribers = new Map<string, number>();
  #target = new Map<PartitionKey, string>();

  constructor(name: string, strategy: AssignmentStrategy, now: number) {
    this.name = name;
    this.strategy = strategy;
    this.countsCheckedAt = now;
  }

  ownerOf(key: PartitionKey): Member | undefined {
    return this.#owners.get(key);
  }

  subscribedTopics(): string[] {
    return [...this.#subscribers.keys()].sort();
  }

  subscribes(topic: string): boolean {
    return this.#subscribers.has(topic);
  }

  state(): GroupStateName {
    if (this.members.size === 0) return 'empty';
    for (const member of this.members.values()) if (member.revoking.size > 0 || member.pushDue) return 'rebalancing';
    return 'stable';
  }

  add(member: Member): void {
    this.members.set(member.id, member);
    for (const topic of member.topics) this.#subscribers.set(topic, (this.#subscribers.get(topic) ?? 0) + 1);
  }

  /** The member left or is dead: it may commit nothing more, so its partitions are free at once. */
  remove(member: Member): void {
    if (!this.members.delete(member.id)) return;
    for (const topic of member.topics) {
      const left = (this.#subscribers.get(topic) ?? 1) - 1;
      if (left === 0) this.#subscribers.delete(topic);
      else this.#subscribers.set(topic, left);
    }
    for (const key of member.owned) this.#owners.delete(key);
    member.owned.clear();
    member.revoking.clear();
    member.revokeDeadline = null;
  }

  /** Computes a new target under a new generation; every member must then be told (returned). */
  rebalance(counts: PartitionCounts): Member[] {
    this.#forgetStaleOffsets(counts);
    this.counts = counts;
    this.generation += 1;
    const current = new Map<string, TopicPartition[]>();
    for (const [key, memberId] of this.#target) {
      if (!this.members.has(memberId)) continue;
      const list = current.get(memberId) ?? [];
      list.push(partitionOfKey(key));
      current.set(memberId, list);
    }
    const subscribed = [...this.members.values()].map((member) => ({ memberId: member.id, topics: member.topics }));
    this.#target = new Map();
    for (const [memberId, partitions] of assignPartitions(this.strategy, subscribed, counts, current)) {
      for (const { topic, partition } of partitions) this.#target.set(keyOf(topic, partition), memberId);
    }
    for (const member of this.members.values()) {
      for (const key of member.owned) {
        if (this.#target.get(key) === member.id) member.revoking.delete(key);
        else if (!member.revoking.has(key)) member.revoking.set(key, null);
      }
      if (![...member.revoking.values()].some((toldAt) => toldAt !== null)) member.revokeDeadline = null;
    }
    for (const [key, memberId] of this.#target) {
      const member = this.members.get(memberId);
      if (member !== undefined && !this.#owners.has(key)) this.#give(key, member);
    }
    return [...this.members.values()];
  }

  /**
   * The member has applied `generation`: it stopped consuming what it was told to give up by then,
   * and those partitions pass to their targets. Returns the members that gained partitions.
   */
  release(member: Member, generation: number, now: number): Set<Member> {
    const gained = new Set<Member>();
    let released = false;
    for (const [key, toldAt] of member.revoking) {
      if (toldAt === null || toldAt > generation) continue;
      released = true;
      member.revoking.delete(key);
      member.owned.delete(key);
      this.#owners.delete(key);
      const next = this.members.get(this.#target.get(key) ?? '');
      if (next !== undefined) {
        this.#give(key, next);
        gained.add(next);
      }
    }
    const stillTold = [...member.revoking.values()].some((toldAt) => toldAt !== null);
    if (!stillTold) member.revokeDeadline = null;
    else if (released) member.revokeDeadline = now + member.rebalanceTimeoutMs;
    return gained;
  }

  /** What the member is told now. From here on, its revocations count as told at this generation. */
  assignmentFor(member: Member, now: number): MemberAssignment {
    member.generation = this.generation;
    for (const [key, toldAt] of member.revoking) {
      if (toldAt !== null) continue;
      member.revoking.set(key, this.generation);
      member.revokeDeadline ??= now + member.rebalanceTimeoutMs;
    }
    const partitions = [...member.owned]
      .filter((key) => !member.revoking.has(key))
      .map((key) => ({ ...partitionOfKey(key), committedOffset: this.offsets.get(key) ?? null }))
      .sort(comparePartitions);
    return { group: this.name, memberId: member.id, generation: this.generation, partitions };
  }

  #give(key: PartitionKey, member: Member): void {
    this.#owners.set(key, member);
    member.owned.add(key);
  }

  /**
   * Drops cached offsets that the store no longer holds or that will be read again: those of
   * topics no member reads any more (a later join reloads them), and all of a topic whose
   * partition count changed. The log store cannot add partitions, so a new count means the topic
   * was deleted and created again, and a new topic starts without committed offsets.
   */
  #forgetStaleOffsets(counts: PartitionCounts): void {
    for (const key of [...this.offsets.keys()]) {
      const { topic, partition } = partitionOfKey(key);
      const count = counts.get(topic);
      const seenWith = this.#offsetCounts.get(key) ?? this.counts.get(topic);
      if (count === undefined || partition >= count || (seenWith !== undefined && seenWith !== count)) {
        this.offsets.delete(key);
        this.#offsetCounts.delete(key);
      }
    }
  }

  /** Caches a committed offset, read from the store or just committed, with the topic's partition count at that time. */
  rememberOffset(key: PartitionKey, offset: number, partitions: number): void {
    this.offsets.set(key, offset);
    this.#offsetCounts.set(key, partitions);
  }
}
