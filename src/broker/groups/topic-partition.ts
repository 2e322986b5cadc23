import type { TopicPartition } from './types.js';

/**
 * Partitions as map keys. Topic names never contain "/" (see topic-name.ts), so the key is
 * unambiguous; it is only ever built from names the coordinator has already checked.
 */
export type PartitionKey = string;

export function keyOf(topic: string, partition: number): PartitionKey {
  return `${topic}/${partition}`;
}

export function partitionOfKey(key: PartitionKey): TopicPartition {
  const slash = key.lastIndexOf('/');
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

/** Partition counts by topic; a topic that does not exist has 0. */
export type PartitionCounts = ReadonlyMap<string, number>;

export function partitionsOfTopic(topic: string, counts: PartitionCounts): TopicPartition[] {
  return Array.from({ length: counts.get(topic) ?? 0 }, (_, partition) => ({ topic, partition }));
}
