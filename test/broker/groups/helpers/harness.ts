import {
  GroupCoordinator,
  type AssignmentStrategy,
  type GroupLimits,
  type MemberAssignment,
  type MemberChannel,
} from '../../../../src/broker/groups/index.js';
import type { SealbusError } from '../../../../src/errors/index.js';
import { MemoryLogStore } from '../../../../src/log/index.js';
import { ManualTime } from './manual-time.js';

/** A member as its client sees it: the join reply, then every push, and whether it was removed. */
export class TestMember implements MemberChannel {
  readonly owner = {};
  memberId = '';
  readonly received: MemberAssignment[] = [];
  removedWith: SealbusError | null = null;
  /** Pushes that arrived before the join reply: the coordinator must never produce one. */
  early = 0;

  constructor(
    readonly coordinator: GroupCoordinator,
    readonly group: string,
  ) {}

  assign(assignment: MemberAssignment): void {
    if (this.memberId === '') this.early += 1;
    else this.received.push(assignment);
  }

  removed(error: SealbusError): void {
    this.removedWith = error;
  }

  get latest(): MemberAssignment {
    const latest = this.received.at(-1);
    if (latest === undefined) throw new Error('not joined');
    return latest;
  }

  get generation(): number {
    return this.latest.generation;
  }

  /** The partitions of the latest assignment as "topic/partition" strings. */
  get partitions(): string[] {
    return this.latest.partitions.map((p) => `${p.topic}/${p.partition}`);
  }

  /** Acknowledges the latest push: the client has stopped consuming what it lost. */
  ack(): void {
    this.coordinator.heartbeat(this.group, this.memberId, this.owner, this.generation);
  }

  commit(offsets: { topic: string; partition: number; offset: number }[], generation = this.generation): Promise<void> {
    return this.coordinator.commit(this.group, this.memberId, this.owner, generation, offsets);
  }

  leave(): void {
    this.coordinator.leave(this.group, this.memberId, this.owner);
  }
}

export interface Harness {
  readonly time: ManualTime;
  readonly store: MemoryLogStore;
  readonly coordinator: GroupCoordinator;
  join(group: string, topics: string[], options?: JoinOptions): Promise<TestMember>;
}

export interface JoinOptions {
  readonly strategy?: AssignmentStrategy;
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly principal?: string;
}

/** `sequentialIds` gives members ids m001, m002, ... in join order, so that range and sticky results are predictable. */
export async function harness(
  topics: Record<string, number> = {},
  limits: Partial<GroupLimits> = {},
  options: { sequentialIds?: boolean } = {},
): Promise<Harness> {
  const time = new ManualTime();
  const store = new MemoryLogStore({ clock: time.clock });
  await store.open();
  for (const [name, partitions] of Object.entries(topics)) await store.createTopic(name, { partitions });
  let next = 0;
  const coordinator = new GroupCoordinator({
    store,
    clock: time.clock,
    timers: time.timers,
    limits,
    ...(options.sequentialIds === true && { memberIds: () => `m${String(++next).padStart(3, '0')}` }),
  });
  return {
    time,
    store,
    coordinator,
    /** Joins and lets the ready tick pass, as the transport would after sending the reply. */
    async join(group, topicList, options = {}) {
      const member = new TestMember(coordinator, group);
      const result = await coordinator.join({
        group,
        topics: topicList,
        strategy: options.strategy ?? 'range',
        ...(options.sessionTimeoutMs !== undefined && { sessionTimeoutMs: options.sessionTimeoutMs }),
        ...(options.rebalanceTimeoutMs !== undefined && { rebalanceTimeoutMs: options.rebalanceTimeoutMs }),
        owner: member.owner,
        principal: options.principal ?? 'alice',
        clientAddress: '127.0.0.1',
        channel: member,
      });
      member.memberId = result.memberId;
      member.received.push(result.assignment);
      time.advance(0);
      return member;
    },
  };
}

/** Every partition held in the latest assignments of the given members, to check for overlaps. */
export function heldBy(members: readonly TestMember[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const member of members) {
    for (const partition of member.partitions) {
      if (owners.has(partition)) throw new Error(`${partition} is held by two members`);
      owners.set(partition, member.memberId);
    }
  }
  return owners;
}
