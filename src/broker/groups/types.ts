import type { SealbusError } from '../../errors/index.js';
import type { LogStore } from '../../log/index.js';

/** How the broker spreads a group's partitions over its members; the first member sets it for the group. */
export type AssignmentStrategy = 'range' | 'sticky';

export const ASSIGNMENT_STRATEGIES: readonly AssignmentStrategy[] = ['range', 'sticky'];

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface AssignedPartition extends TopicPartition {
  /** Where the member starts when the partition is new to it; null when the group never committed it. */
  readonly committedOffset: number | null;
}

/** What one push tells a member: the full set it may consume now, sorted by topic then partition. */
export interface MemberAssignment {
  readonly group: string;
  readonly memberId: string;
  readonly generation: number;
  readonly partitions: readonly AssignedPartition[];
}

/** How the coordinator reaches one member; the transport implements it. */
export interface MemberChannel {
  /** A new assignment. Called synchronously from coordinator methods and timers, never before join() has returned. */
  assign(assignment: MemberAssignment): void;
  /** The coordinator dropped the member (a timeout); not called for leave() or leaveAll(). */
  removed(error: SealbusError): void;
}

export interface JoinRequest {
  readonly group: string;
  readonly topics: readonly string[];
  readonly strategy: AssignmentStrategy;
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  /** The client session, compared by identity: only it may heartbeat, commit or leave for the member. */
  readonly owner: object;
  readonly principal: string;
  readonly clientAddress: string | null;
  readonly channel: MemberChannel;
}

export interface JoinResult {
  readonly memberId: string;
  readonly heartbeatIntervalMs: number;
  readonly assignment: MemberAssignment;
}

export interface GroupLimits {
  /** Groups with at least one member; groups that only hold committed offsets do not count. */
  readonly maxGroups: number;
  readonly maxMembersPerGroup: number;
  readonly maxTopicsPerMember: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  /** Used when a join names no session timeout; the rebalance timeout then defaults to it as well. */
  readonly defaultSessionTimeoutMs: number;
  readonly minRebalanceTimeoutMs: number;
  readonly maxRebalanceTimeoutMs: number;
}

export interface CoordinatorTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CoordinatorOptions {
  readonly store: LogStore;
  readonly clock?: () => number;
  readonly timers?: CoordinatorTimers;
  readonly limits?: Partial<GroupLimits>;
  /** Member ids; by default random 128-bit UUIDs. Tests inject a sequence to make runs reproducible. */
  readonly memberIds?: () => string;
}

export type GroupStateName = 'empty' | 'stable' | 'rebalancing';

export interface MemberDescription {
  readonly memberId: string;
  readonly principal: string;
  readonly clientAddress: string | null;
  readonly topics: readonly string[];
  /** Owned and not being revoked. */
  readonly assigned: readonly TopicPartition[];
  /** Still owned until the member acknowledges the generation that revoked them. */
  readonly pendingRevocation: readonly TopicPartition[];
  readonly generation: number;
  readonly joinedAt: number;
  readonly lastHeartbeatAt: number;
}

export interface PartitionDescription extends TopicPartition {
  readonly committedOffset: number | null;
  /** Null when the topic no longer exists. */
  readonly highWatermark: number | null;
  /** highWatermark − committedOffset; null when either is unknown. */
  readonly lag: number | null;
  readonly owner: string | null;
}

export interface GroupDescription {
  readonly group: string;
  readonly state: GroupStateName;
  readonly generation: number;
  readonly strategy: AssignmentStrategy | null;
  readonly members: readonly MemberDescription[];
  readonly partitions: readonly PartitionDescription[];
}

export interface GroupSummary {
  readonly group: string;
  readonly state: GroupStateName;
  readonly members: number;
  readonly generation: number;
}

export type ResetTarget = { readonly kind: 'earliest' } | { readonly kind: 'latest' } | { readonly kind: 'timestamp'; readonly timestamp: number };

export interface CommitEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata?: string;
}
