import { describe, expect, it } from 'vitest';
import { RoundRobin, StickyPartitioner, murmur2, partitionForKey, toPositive } from '../../src/log/partitioner.js';

describe('murmur2', () => {
  // The vectors of Kafka's own test, UtilsTest.testMurmur2 (apache/kafka,
  // clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, commit f55581dc73953c3509a4702433aeeeddc2970779).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j as Kafka does', (text, expected) => {
    expect(murmur2(Buffer.from(text, 'latin1'))).toBe(expected);
  });

  it('covers every tail length (0 to 3 trailing bytes)', () => {
    // Values from Kafka's Utils.murmur2, also used by Akka's Murmur2Spec to check compatibility.
    expect(['1', '12', '123', '1234', '12345'].map((s) => murmur2(Buffer.from(s)))).toEqual([
      -1993445489, 126087238, -267702483, -1614185708, -1188365604,
    ]);
  });

  it('reads bytes of a view, not of its whole backing buffer', () => {
    const backing = Buffer.from('xxfoobarxx');
    expect(murmur2(backing.subarray(2, 8))).toBe(-790332482);
  });
});

describe('partitionForKey', () => {
  it('is toPositive(murmur2(key)) % partitions, clearing the sign bit rather than taking abs', () => {
    // murmur2("foobar") is negative: abs would give 790332482 % 7 = 6, toPositive gives 5.
    expect(toPositive(-790332482)).toBe(1357151166);
    expect(partitionForKey(Buffer.from('foobar'), 7)).toBe(1357151166 % 7);
    expect(partitionForKey(Buffer.from('abc'), 10)).toBe(479470107 % 10);
    expect(toPositive(-(2 ** 31))).toBe(0);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionForKey(Buffer.from('a'), 0)).toThrow(RangeError);
    expect(() => partitionForKey(Buffer.from('a'), 1.5)).toThrow(RangeError);
  });
});

describe('RoundRobin', () => {
  it('cycles through the partitions of each topic independently', () => {
    const rr = new RoundRobin();
    expect([0, 1, 2, 3].map(() => rr.next('a', 3))).toEqual([0, 1, 2, 0]);
    expect(rr.next('b', 3)).toBe(0);
    expect(rr.next('a', 3)).toBe(1);
  });
});

describe('StickyPartitioner', () => {
  it('sticks to one partition until its batch closes, then moves to another one', () => {
    const draws = [0.5, 0.0, 0.99];
    const sticky = new StickyPartitioner(() => draws.shift() ?? 0);
    const first = sticky.partition('t', 4); // floor(0.5 * 4) = 2
    expect(first).toBe(2);
    expect(sticky.partition('t', 4)).toBe(2);
    sticky.batchClosed('t', 4, 3); // another partition's batch: no move
    expect(sticky.partition('t', 4)).toBe(2);
    sticky.batchClosed('t', 4, 2); // draw 0.0 among the 3 others -> 0
    expect(sticky.partition('t', 4)).toBe(0);
    sticky.batchClosed('t', 4, 0); // draw 0.99 among the 3 others -> index 2 -> partition 3
    expect(sticky.partition('t', 4)).toBe(3);
  });

  it('never moves back to the partition it just left', () => {
    const sticky = new StickyPartitioner();
    for (let i = 0; i < 200; i++) {
      const before = sticky.partition('t', 3);
      sticky.batchClosed('t', 3, before);
      expect(sticky.partition('t', 3)).not.toBe(before);
    }
  });

  it('stays on partition 0 of a one-partition topic', () => {
    const sticky = new StickyPartitioner();
    sticky.batchClosed('t', 1, sticky.partition('t', 1));
    expect(sticky.partition('t', 1)).toBe(0);
  });
});
