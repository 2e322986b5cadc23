import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stickyAssign, type PartitionAssignment, type SubscribedMember, type TopicPartition } from '../../../src/broker/groups/index.js';

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition });
const names = (list: readonly TopicPartition[] | undefined): string[] => (list ?? []).map((p) => `${p.topic}/${p.partition}`);

function ownerMap(assignment: ReadonlyMap<string, readonly TopicPartition[]>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [memberId, list] of assignment) for (const p of list) owners.set(`${p.topic}/${p.partition}`, memberId);
  return owners;
}

function moved(before: ReadonlyMap<string, readonly TopicPartition[]>, after: PartitionAssignment): number {
  const was = ownerMap(before);
  const now = ownerMap(after);
  return [...was].filter(([partition, owner]) => now.has(partition) && now.get(partition) !== owner).length;
}

/** Checks completeness and balance; returns the owner of each partition. */
function checkBalanced(members: readonly SubscribedMember[], counts: ReadonlyMap<string, number>, result: PartitionAssignment): void {
  const seen = new Set<string>();
  for (const member of members) {
    for (const p of result.get(member.memberId) ?? []) {
      expect(member.topics).toContain(p.topic);
      expect(seen.has(`${p.topic}/${p.partition}`)).toBe(false);
      seen.add(`${p.topic}/${p.partition}`);
    }
  }
  const subscribed = new Set(members.flatMap((m) => m.topics));
  const expected = [...subscribed].reduce((sum, topic) => sum + (counts.get(topic) ?? 0), 0);
  expect(seen.size).toBe(expected);
  // No partition could move to a member holding two or more fewer: in particular, members with the
  // same subscriptions differ by at most one.
  for (const source of members) {
    for (const target of members) {
      const from = result.get(source.memberId)!;
      const to = result.get(target.memberId)!;
      if (from.length - to.length >= 2) expect(from.some((p) => target.topics.includes(p.topic))).toBe(false);
    }
  }
}

describe('sticky assignment', () => {
  it('spreads a fresh group evenly', () => {
    const members = ['a', 'b', 'c'].map((memberId) => ({ memberId, topics: ['t'] }));
    const result = stickyAssign(members, new Map([['t', 8]]), new Map());
    expect([...result.values()].map((list) => list.length).sort()).toEqual([2, 3, 3]);
    checkBalanced(members, new Map([['t', 8]]), result);
  });

  it('moves only the minimum when a member joins: one partition from each of three members of four', () => {
    const counts = new Map([['t', 12]]);
    const current = new Map([
      ['a', [0, 1, 2, 3].map((p) => tp('t', p))],
      ['b', [4, 5, 6, 7].map((p) => tp('t', p))],
      ['c', [8, 9, 10, 11].map((p) => tp('t', p))],
    ]);
    const members = ['a', 'b', 'c', 'd'].map((memberId) => ({ memberId, topics: ['t'] }));
    const result = stickyAssign(members, counts, current);
    expect(moved(current, result)).toBe(3);
    expect(result.get('d')).toHaveLength(3);
    for (const id of ['a', 'b', 'c']) expect(result.get(id)).toHaveLength(3);
    for (const id of ['a', 'b', 'c']) for (const p of result.get(id)!) expect(names(current.get(id))).toContain(`${p.topic}/${p.partition}`);
  });

  it('keeps every ownership when a member leaves and spreads only its partitions', () => {
    const counts = new Map([['t', 9]]);
    const current = new Map([
      ['a', [0, 1, 2].map((p) => tp('t', p))],
      ['b', [3, 4, 5].map((p) => tp('t', p))],
      ['gone', [6, 7, 8].map((p) => tp('t', p))],
    ]);
    const members = ['a', 'b'].map((memberId) => ({ memberId, topics: ['t'] }));
    const result = stickyAssign(members, counts, current);
    for (const id of ['a', 'b']) expect(names(result.get(id)).slice(0, 3)).toEqual(names(current.get(id)));
    expect([result.get('a')!.length, result.get('b')!.length].sort()).toEqual([4, 5]);
  });

  it('assigns members with different subscriptions only their topics, balanced among equal subscriptions', () => {
    const members = [
      { memberId: 'a1', topics: ['a'] },
      { memberId: 'a2', topics: ['a'] },
      { memberId: 'ab', topics: ['a', 'b'] },
      { memberId: 'b1', topics: ['b'] },
    ];
    const counts = new Map([
      ['a', 5],
      ['b', 3],
    ]);
    const result = stickyAssign(members, counts, new Map());
    checkBalanced(members, counts, result);
    expect(Math.abs(result.get('a1')!.length - result.get('a2')!.length)).toBeLessThanOrEqual(1);
  });

  it('ignores current ownership the member may not keep: vanished partitions, unsubscribed topics, duplicates', () => {
    const members = [
      { memberId: 'a', topics: ['t'] },
      { memberId: 'b', topics: ['t'] },
    ];
    const current = new Map([
      ['a', [tp('t', 0), tp('t', 9), tp('other', 0)]],
      ['b', [tp('t', 0), tp('t', 1)]],
    ]);
    const result = stickyAssign(members, new Map([['t', 2]]), current);
    expect(names(result.get('a'))).toEqual(['t/0']);
    expect(names(result.get('b'))).toEqual(['t/1']);
  });

  it('is complete, balanced and moves the minimum for any current ownership (property)', () => {
    const arbitrary = fc
      .record({ members: fc.integer({ min: 1, max: 6 }), partitions: fc.integer({ min: 0, max: 30 }) })
      .chain(({ members, partitions }) =>
        fc.record({
          members: fc.constant(members),
          partitions: fc.constant(partitions),
          // -1: unowned; members..members+1: a member that has left.
          owners: fc.array(fc.integer({ min: -1, max: members + 1 }), { minLength: partitions, maxLength: partitions }),
        }),
      );
    fc.assert(
      fc.property(arbitrary, ({ members, partitions, owners }) => {
        const ids = Array.from({ length: members + 2 }, (_, i) => `m${i}`);
        const current = new Map<string, TopicPartition[]>();
        owners.forEach((owner, partition) => {
          if (owner < 0) return;
          current.set(ids[owner]!, [...(current.get(ids[owner]!) ?? []), tp('t', partition)]);
        });
        const present = ids.slice(0, members).map((memberId) => ({ memberId, topics: ['t'] }));
        const counts = new Map([['t', partitions]]);
        const result = stickyAssign(present, counts, current);
        checkBalanced(present, counts, result);
        // The fewest moves balance allows: the members keeping most get the larger quotas.
        const kept = present.map((m) => current.get(m.memberId)?.length ?? 0).sort((a, b) => b - a);
        const floor = Math.floor(partitions / members);
        const extra = partitions % members;
        const minimum = kept.reduce((sum, count, index) => sum + Math.max(0, count - (floor + (index < extra ? 1 : 0))), 0);
        const presentCurrent = new Map([...current].filter(([id]) => present.some((m) => m.memberId === id)));
        expect(moved(presentCurrent, result)).toBe(minimum);
      }),
      { numRuns: 300 },
    );
  });

  it('balances members with mixed subscriptions (property)', () => {
    const topics = ['a', 'b', 'c'];
    const arbitrary = fc.record({
      subscriptions: fc.array(fc.subarray(topics, { minLength: 1 }), { minLength: 1, maxLength: 6 }),
      counts: fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 })),
      seed: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 24 }),
    });
    fc.assert(
      fc.property(arbitrary, ({ subscriptions, counts, seed }) => {
        const members = subscriptions.map((list, i) => ({ memberId: `m${i}`, topics: list }));
        const countMap = new Map(topics.map((topic, i) => [topic, counts[i]!]));
        const first = stickyAssign(members, countMap, new Map());
        checkBalanced(members, countMap, first);
        // Again from a scrambled current ownership: still complete and balanced.
        const scrambled = new Map<string, TopicPartition[]>();
        seed.forEach((owner, i) => {
          const topic = topics[i % 3]!;
          const id = `m${owner}`;
          scrambled.set(id, [...(scrambled.get(id) ?? []), tp(topic, Math.floor(i / 3))]);
        });
        checkBalanced(members, countMap, stickyAssign(members, countMap, scrambled));
        // Stable: the same input assigns the same way again, moving nothing.
        expect(moved(first, stickyAssign(members, countMap, first))).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
