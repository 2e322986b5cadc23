import type { PartitionAssignment, SubscribedMember } from './assignor.js';
import { comparePartitions, compareStrings, keyOf, type PartitionCounts, type PartitionKey } from './topic-partition.js';
import type { TopicPartition } from './types.js';

interface Load {
  readonly memberId: string;
  readonly topics: ReadonlySet<string>;
  readonly owned: Map<PartitionKey, TopicPartition>;
  /** Owned now but not before this round: passing one of these on costs no extra move. */
  readonly received: Map<PartitionKey, TopicPartition>;
}

/**
 * Sticky assignment: balanced, and as close to the current ownership as balance allows. Every
 * partition a member may keep stays; free partitions go to the least loaded eligible member; then
 * single partitions move from the most to the least loaded member while they differ by two or
 * more. Each move lowers the sum of squared loads, so the loop ends; at the end no two members
 * that could trade a partition differ by more than one (in particular members with the same
 * subscriptions), and with equal subscriptions no partition moves that balance does not require.
 */
export function stickyAssign(
  members: readonly SubscribedMember[],
  counts: PartitionCounts,
  current: ReadonlyMap<string, readonly TopicPartition[]>,
): PartitionAssignment {
  const loads = [...members]
    .sort((a, b) => compareStrings(a.memberId, b.memberId))
    .map((member): Load => ({ memberId: member.memberId, topics: new Set(member.topics), owned: new Map(), received: new Map() }));
  const taken = keep(loads, counts, current);
  fill(loads, counts, taken);
  balance(loads);
  return new Map(loads.map((load) => [load.memberId, [...load.owned.values()].sort(comparePartitions)]));
}

function keep(loads: readonly Load[], counts: PartitionCounts, current: ReadonlyMap<string, readonly TopicPartition[]>): Set<PartitionKey> {
  const taken = new Set<PartitionKey>();
  for (const load of loads) {
    for (const { topic, partition } of current.get(load.memberId) ?? []) {
      const exists = Number.isInteger(partition) && partition >= 0 && partition < (counts.get(topic) ?? 0);
      const key = keyOf(topic, partition);
      if (!exists || !load.topics.has(topic) || taken.has(key)) continue;
      taken.add(key);
      load.owned.set(key, { topic, partition });
    }
  }
  return taken;
}

function fill(loads: readonly Load[], counts: PartitionCounts, taken: ReadonlySet<PartitionKey>): void {
  const eligible = new Map<string, Load[]>();
  for (const load of loads) {
    for (const topic of load.topics) {
      const list = eligible.get(topic) ?? [];
      list.push(load);
      eligible.set(topic, list);
    }
  }
  // The most constrained topics first: their few subscribers get their share before flexible
  // members have taken it all, which leaves less for the balancing moves to fix.
  const topics = [...eligible.keys()].sort((a, b) => eligible.get(a)!.length - eligible.get(b)!.length || compareStrings(a, b));
  for (const topic of topics) {
    const candidates = eligible.get(topic)!;
    for (let partition = 0; partition < (counts.get(topic) ?? 0); partition++) {
      const key = keyOf(topic, partition);
      if (taken.has(key)) continue;
      let least = candidates[0]!;
      for (const candidate of candidates) if (candidate.owned.size < least.owned.size) least = candidate;
      least.owned.set(key, { topic, partition });
      least.received.set(key, { topic, partition });
    }
  }
}

function balance(loads: readonly Load[]): void {
  for (let move = findMove(loads); move !== null; move = findMove(loads)) {
    const partition = move.source.owned.get(move.key)!;
    move.source.owned.delete(move.key);
    move.source.received.delete(move.key);
    move.target.owned.set(move.key, partition);
    move.target.received.set(move.key, partition);
  }
}

function findMove(loads: readonly Load[]): { source: Load; target: Load; key: PartitionKey } | null {
  // The most and the least loaded member first: with equal subscriptions that pair always works,
  // and a linear scan per move keeps large groups cheap; the full search is for mixed subscriptions.
  const [first] = loads;
  if (first === undefined) return null;
  let most = first;
  let least = first;
  for (const load of loads) {
    if (load.owned.size > most.owned.size) most = load;
    if (load.owned.size < least.owned.size) least = load;
  }
  if (most.owned.size - least.owned.size < 2) return null;
  const direct = movable(most, least);
  if (direct !== null) return { source: most, target: least, key: direct };
  const bySize = [...loads].sort((a, b) => b.owned.size - a.owned.size || compareStrings(a.memberId, b.memberId));
  for (const source of bySize) {
    for (let index = bySize.length - 1; index >= 0; index--) {
      const target = bySize[index]!;
      if (source.owned.size - target.owned.size < 2) break;
      const key = movable(source, target);
      if (key !== null) return { source, target, key };
    }
  }
  return null;
}

/** A partition of `source` that `target` subscribes to, preferring one that reached `source` in this round. */
function movable(source: Load, target: Load): PartitionKey | null {
  for (const [key, { topic }] of source.received) if (target.topics.has(topic)) return key;
  for (const [key, { topic }] of source.owned) if (target.topics.has(topic)) return key;
  return null;
}
