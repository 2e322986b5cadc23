import { describe, expect, it } from 'vitest';
import { rangeAssign } from '../../../src/broker/groups/index.js';

const names = (list: readonly { topic: string; partition: number }[] | undefined): string[] =>
  (list ?? []).map((p) => `${p.topic}/${p.partition}`);

describe('range assignment', () => {
  it('gives each subscriber a contiguous range in member-id order, the first ones one extra', () => {
    const result = rangeAssign(
      [
        { memberId: 'c', topics: ['orders'] },
        { memberId: 'a', topics: ['orders'] },
        { memberId: 'b', topics: ['orders'] },
      ],
      new Map([['orders', 7]]),
    );
    expect(names(result.get('a'))).toEqual(['orders/0', 'orders/1', 'orders/2']);
    expect(names(result.get('b'))).toEqual(['orders/3', 'orders/4']);
    expect(names(result.get('c'))).toEqual(['orders/5', 'orders/6']);
  });

  it('ranges each topic separately, over only the members subscribed to it', () => {
    const result = rangeAssign(
      [
        { memberId: 'm1', topics: ['a'] },
        { memberId: 'm2', topics: ['a', 'b'] },
        { memberId: 'm3', topics: ['b'] },
      ],
      new Map([
        ['a', 3],
        ['b', 4],
      ]),
    );
    expect(names(result.get('m1'))).toEqual(['a/0', 'a/1']);
    expect(names(result.get('m2'))).toEqual(['a/2', 'b/0', 'b/1']);
    expect(names(result.get('m3'))).toEqual(['b/2', 'b/3']);
  });

  it('leaves members beyond the partition count empty, and lists every member', () => {
    const result = rangeAssign(
      [
        { memberId: 'a', topics: ['t'] },
        { memberId: 'b', topics: ['t'] },
        { memberId: 'c', topics: ['t', 'missing'] },
      ],
      new Map([['t', 2]]),
    );
    expect(names(result.get('a'))).toEqual(['t/0']);
    expect(names(result.get('b'))).toEqual(['t/1']);
    expect(result.get('c')).toEqual([]);
  });
});
