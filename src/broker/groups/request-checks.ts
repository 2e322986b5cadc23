import { SealbusError } from '../../errors/index.js';
import { assertTopicName } from '../../log/index.js';
import { assertGroupName } from '../../log/group-checks.js';
import type { CommittedOffset } from '../../log/index.js';
import { resolveMemberTimeouts } from './limits.js';
import { compareStrings } from './topic-partition.js';
import { ASSIGNMENT_STRATEGIES, type CommitEntry, type GroupLimits, type JoinRequest, type ResetTarget } from './types.js';

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

export interface CheckedJoin extends JoinRequest {
  /** Sorted, without duplicates. */
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
}

/** A topic list from a client: an array of valid names, returned sorted and without duplicates. */
export function checkTopics(topics: unknown, limit: number): string[] {
  if (!Array.isArray(topics)) throw invalid('topics must be an array of topic names');
  const unique = [...new Set<unknown>(topics)];
  if (unique.length > limit) throw new SealbusError('SEALBUS_ERR_GROUP_TOO_MANY_TOPICS', { limit, count: unique.length });
  for (const topic of unique) assertTopicName(topic);
  return (unique as string[]).sort(compareStrings);
}

export function checkJoinRequest(request: JoinRequest, limits: GroupLimits): CheckedJoin {
  assertGroupName(request.group);
  const topics = checkTopics(request.topics, limits.maxTopicsPerMember);
  if (topics.length === 0) throw invalid('a group member subscribes to at least one topic');
  if (!ASSIGNMENT_STRATEGIES.includes(request.strategy)) throw invalid(`strategy must be one of ${ASSIGNMENT_STRATEGIES.join(', ')}`);
  if (typeof request.owner !== 'object' || request.owner === null) throw invalid('owner must be the session object');
  const channel: unknown = request.channel;
  if (typeof channel !== 'object' || channel === null || typeof request.channel.assign !== 'function' || typeof request.channel.removed !== 'function') {
    throw invalid('channel must have assign() and removed()');
  }
  const timeouts = resolveMemberTimeouts(limits, request);
  return { ...request, topics, ...timeouts };
}

export function checkGeneration(generation: unknown): asserts generation is number {
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw invalid('generation must be a non-negative integer');
  }
}

/** The shape of a commit; ownership and offsets are checked after. */
export function commitEntries(offsets: unknown): Omit<CommittedOffset, 'committedAt'>[] {
  if (!Array.isArray(offsets)) throw invalid('offsets must be an array');
  return offsets.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) throw invalid('each offset is an object {topic, partition, offset, metadata?}');
    const { topic, partition, offset, metadata } = entry as Partial<CommitEntry>;
    if (typeof topic !== 'string' || typeof partition !== 'number' || !Number.isSafeInteger(partition)) {
      throw invalid('each offset names a topic (string) and a partition (integer)');
    }
    return { topic, partition, offset: offset as number, metadata: metadata ?? '' };
  });
}

export function checkResetTarget(to: unknown): asserts to is ResetTarget {
  const kind = typeof to === 'object' && to !== null ? (to as { kind?: unknown }).kind : undefined;
  if (kind === 'earliest' || kind === 'latest') return;
  if (kind === 'timestamp') {
    const timestamp = (to as { timestamp?: unknown }).timestamp;
    if (typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp >= 0) return;
    throw invalid('a reset timestamp is a non-negative integer of milliseconds since the epoch');
  }
  throw invalid('a reset goes to earliest, latest or a timestamp');
}
