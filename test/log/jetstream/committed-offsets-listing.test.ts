/**
 * The committed offsets' key listings are bounded: a listing that never ends (a bucket without a
 * leader after a NATS node's death) must not hold a consumer group's lock for good, and a bucket
 * listing without end is refused. The listing itself is the bucket stream's subjects (stream
 * info): it runs in test/log/jetstream/jetstream-log-store.test.ts against a real nats-server.
 */
import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { CommittedOffsets, type BucketKeys } from '../../../src/log/jetstream/committed-offsets.js';

const kv = { get: async () => null } as unknown as KV;

function keys(list: BucketKeys['list']): BucketKeys {
  return { list, purge: async () => undefined };
}

describe('committed offsets: key listings', () => {
  it('gives up a listing that does not end within the timeout', async () => {
    const offsets = new CommittedOffsets(kv, () => true, keys(() => new Promise(() => undefined)), 50);
    await expect(offsets.fetch('g')).rejects.toThrow('listing the committed offsets took over 50 ms');
  });

  it('refuses a bucket listing more keys than it reads', async () => {
    function* many(): Generator<string> {
      for (let i = 0; i <= 100_000; i++) yield `Zw.t${i}.0`;
    }
    const offsets = new CommittedOffsets(kv, () => true, keys(async () => many()), 60_000);
    await expect(offsets.groups()).rejects.toThrow('lists over 100000 keys');
  });

  it('reads a listing that ends in time, asking for the group\'s keys only', async () => {
    const filters: string[] = [];
    const offsets = new CommittedOffsets(kv, () => true, keys(async (filter) => (filters.push(filter), ['not-a-key'])), 1_000);
    await expect(offsets.fetch('g')).resolves.toEqual([]);
    expect(filters).toEqual(['Zw.>']);
  });
});
