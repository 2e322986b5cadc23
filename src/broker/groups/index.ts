/**
 * Consumer groups: the broker-side coordinator (membership, cooperative assignment, fencing,
 * committed offsets) and its pure assignment strategies. Transport-free; see GroupCoordinator.
 */
export { GroupCoordinator } from './group-coordinator.js';
export { DEFAULT_GROUP_LIMITS, resolveGroupLimits } from './limits.js';
export { assignPartitions, type PartitionAssignment, type SubscribedMember } from './assignor.js';
export { rangeAssign } from './range-assignor.js';
export { stickyAssign } from './sticky-assignor.js';
export type {
  AssignedPartition,
  AssignmentStrategy,
  CommitEntry,
  CoordinatorOptions,
  CoordinatorTimers,
  GroupDescription,
  GroupLimits,
  GroupStateName,
  GroupSummary,
  JoinRequest,
  JoinResult,
  MemberAssignment,
  MemberChannel,
  MemberDescription,
  PartitionDescription,
  ResetTarget,
  TopicPartition,
} from './types.js';
