import { SealbusError, isSealbusError } from '../../errors/index.js';
import type { CommittedOffset, LogStore, TopicDescription } from '../../log/index.js';
import type { ConsumerGroup, Member } from './consumer-group.js';
import { comparePartitions, compareStrings, keyOf, partitionOfKey, partitionsOfTopic } from './topic-partition.js';
import type { GroupDescription, GroupSummary, MemberDescription, PartitionDescription, ResetTarget, TopicPartition } from './types.js';

/** A topic's description, or null when it no longer exists. */
async function describeIfExists(store: LogStore, topic: string): Promise<TopicDescription | null> {
  try {
    return await store.describeTopic(topic);
  } catch (err) {
    if (isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND')) return null;
    throw err;
  }
}

export function summarize(name: string, group: ConsumerGroup | undefined): GroupSummary {
  return { group: name, state: group?.state() ?? 'empty', members: group?.members.size ?? 0, generation: group?.generation ?? 0 };
}

function describeMember(member: Member): MemberDescription {
  const assigned: TopicPartition[] = [];
  const pendingRevocation: TopicPartition[] = [];
  for (const key of member.owned) (member.revoking.has(key) ? pendingRevocation : assigned).push(partitionOfKey(key));
  return {
    memberId: member.id,
    principal: member.principal,
    clientAddress: member.clientAddress,
    topics: member.topics,
    assigned: assigned.sort(comparePartitions),
    pendingRevocation: pendingRevocation.sort(comparePartitions),
    generation: member.generation,
    joinedAt: member.joinedAt,
    lastHeartbeatAt: member.lastHeartbeatAt,
  };
}

/**
 * Members, ownership, and per partition the committed offset and the lag behind the high
 * watermark. `lookup` is read after the store answered, so the membership shown is current.
 */
export async function describeGroup(store: LogStore, name: string, lookup: () => ConsumerGroup | undefined): Promise<GroupDescription> {
  const committed = await store.fetchOffsets(name);
  const topics = new Set([...committed.map((entry) => entry.topic), ...(lookup()?.subscribedTopics() ?? [])]);
  const descriptions = new Map<string, TopicDescription | null>();
  await Promise.all([...topics].map(async (topic) => descriptions.set(topic, await describeIfExists(store, topic))));
  const group = lookup();
  if (group === undefined && committed.length === 0) throw new SealbusError('SEALBUS_ERR_GROUP_NOT_FOUND', { group: name });
  const members = [...(group?.members.values() ?? [])].map(describeMember);
  members.sort((a, b) => a.joinedAt - b.joinedAt || compareStrings(a.memberId, b.memberId));
  return {
    group: name,
    state: group?.state() ?? 'empty',
    generation: group?.generation ?? 0,
    strategy: group?.strategy ?? null,
    members,
    partitions: describePartitions(committed, descriptions, group),
  };
}

function describePartitions(
  committed: readonly CommittedOffset[],
  descriptions: ReadonlyMap<string, TopicDescription | null>,
  group: ConsumerGroup | undefined,
): PartitionDescription[] {
  const rows = new Map<string, TopicPartition>();
  for (const topic of group?.subscribedTopics() ?? []) {
    const description = descriptions.get(topic);
    // A topic first subscribed while the store was being asked: its count from the last rebalance.
    const partitions =
      description === undefined
        ? partitionsOfTopic(topic, group?.counts ?? new Map())
        : (description?.partitions ?? []).map((state) => ({ topic, partition: state.partition }));
    for (const row of partitions) rows.set(keyOf(row.topic, row.partition), row);
  }
  for (const { topic, partition } of committed) rows.set(keyOf(topic, partition), { topic, partition });
  const offsets = new Map(committed.map((entry) => [keyOf(entry.topic, entry.partition), entry.offset]));
  return [...rows.values()].sort(comparePartitions).map(({ topic, partition }) => {
    const key = keyOf(topic, partition);
    const committedOffset = offsets.get(key) ?? null;
    const state = descriptions.get(topic)?.partitions[partition];
    const highWatermark = state?.partition === partition ? state.highWatermark : null;
    const lag = committedOffset === null || highWatermark === null ? null : Math.max(0, highWatermark - committedOffset);
    return { topic, partition, committedOffset, highWatermark, lag, owner: group?.ownerOf(key)?.id ?? null };
  });
}

/**
 * The offsets a reset writes: every partition of each topic, at its log start, its high watermark,
 * or the first record at or after the timestamp. Without `topics`, the topics the group has
 * offsets for, skipping those deleted since; a named topic must exist.
 */
export async function resetPositions(
  store: LogStore,
  name: string,
  to: ResetTarget,
  topics: readonly string[] | undefined,
): Promise<{ topic: string; partition: number; offset: number }[]> {
  let targets = topics;
  if (targets === undefined) {
    const committed = await store.fetchOffsets(name);
    if (committed.length === 0) throw new SealbusError('SEALBUS_ERR_GROUP_NOT_FOUND', { group: name });
    targets = [...new Set(committed.map((entry) => entry.topic))].sort(compareStrings);
  }
  const positions: { topic: string; partition: number; offset: number }[] = [];
  for (const topic of targets) {
    const description = topics === undefined ? await describeIfExists(store, topic) : await store.describeTopic(topic);
    for (const state of description?.partitions ?? []) {
      const offset =
        to.kind === 'earliest'
          ? state.logStartOffset
          : to.kind === 'latest'
            ? state.highWatermark
            : await store.offsetForTimestamp(topic, state.partition, to.timestamp);
      positions.push({ topic, partition: state.partition, offset });
    }
  }
  return positions;
}
