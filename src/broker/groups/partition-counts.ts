import { isSealbusError } from '../../errors/index.js';
import type { LogStore } from '../../log/index.js';
import type { PartitionCounts } from './topic-partition.js';

/**
 * Partition counts of `topics`, read synchronously from the store. A missing topic has none; a
 * store that cannot answer (closing) keeps the previous count, so that a transient failure moves
 * no partition.
 */
export function readPartitionCounts(store: LogStore, topics: Iterable<string>, previous: PartitionCounts): Map<string, number> {
  const counts = new Map<string, number>();
  for (const topic of topics) {
    try {
      counts.set(topic, store.topicConfig(topic).partitions);
    } catch (err) {
      counts.set(topic, isSealbusError(err, 'SEALBUS_ERR_TOPIC_NOT_FOUND') ? 0 : (previous.get(topic) ?? 0));
    }
  }
  return counts;
}

export function countsDiffer(a: PartitionCounts, b: PartitionCounts): boolean {
  if (a.size !== b.size) return true;
  for (const [topic, count] of a) if (b.get(topic) !== count) return true;
  return false;
}
