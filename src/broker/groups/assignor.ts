import { rangeAssign } from './range-assignor.js';
import { stickyAssign } from './sticky-assignor.js';
import type { PartitionCounts } from './topic-partition.js';
import type { AssignmentStrategy, TopicPartition } from './types.js';

export interface SubscribedMember {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/** Member id → the partitions it should own; every member is present, each list sorted. */
export type PartitionAssignment = Map<string, TopicPartition[]>;

/**
 * The target assignment of a group. Strategies are pure functions of their inputs, so the same
 * members, counts and current ownership always give the same target, whichever broker computes it.
 */
export function assignPartitions(
  strategy: AssignmentStrategy,
  members: readonly SubscribedMember[],
  counts: PartitionCounts,
  current: ReadonlyMap<string, readonly TopicPartition[]>,
): PartitionAssignment {
  return strategy === 'range' ? rangeAssign(members, counts) : stickyAssign(members, counts, current);
}
