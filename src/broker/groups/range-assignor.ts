import type { PartitionAssignment, SubscribedMember } from './assignor.js';
import { comparePartitions, compareStrings, type PartitionCounts } from './topic-partition.js';
import type { TopicPartition } from './types.js';

/**
 * Range assignment, topic by topic: the topic's subscribers in member-id order each take a
 * contiguous run of partitions, and the first `partitions % subscribers` take one extra. It ignores
 * current ownership, so every membership change may move many partitions; sticky moves fewer.
 */
export function rangeAssign(members: readonly SubscribedMember[], counts: PartitionCounts): PartitionAssignment {
  const sorted = [...members].sort((a, b) => compareStrings(a.memberId, b.memberId));
  const result: PartitionAssignment = new Map(sorted.map((member) => [member.memberId, [] as TopicPartition[]]));
  const topics = [...new Set(sorted.flatMap((member) => member.topics))].sort(compareStrings);
  for (const topic of topics) {
    const subscribers = sorted.filter((member) => member.topics.includes(topic));
    const partitions = counts.get(topic) ?? 0;
    const base = Math.floor(partitions / subscribers.length);
    const extra = partitions % subscribers.length;
    let next = 0;
    subscribers.forEach((member, index) => {
      const size = base + (index < extra ? 1 : 0);
      const owned = result.get(member.memberId)!;
      for (let partition = next; partition < next + size; partition++) owned.push({ topic, partition });
      next += size;
    });
  }
  for (const owned of result.values()) owned.sort(comparePartitions);
  return result;
}
