/**
 * The committed offsets' key listings are bounded: the client's listing has no deadline, and one
 * that never ends (a bucket without a leader after a NATS node's death) would hold a consumer
 * group's lock for good; a bucket listing without end is refused too.
 */
import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { CommittedOffsets } from '../../../src/log/jetstream/committed-offsets.js';

/** A key listing that yields `keys` and then, unless `ends`, waits until stopped. */
function listing(keys: Iterable<string>, ends: boolean): { iterator: AsyncIterable<string> & { stop(): void }; stopped: () => boolean } {
  let stopped = false;
  let wake: (() => void) | null = null;
  const iterator = {
    stop(): void {
      stopped = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<string> {
      for (const key of keys) {
        if (stopped) return;
        yield key;
      }
      if (!ends) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
  return { iterator, stopped: () => stopped };
}

function kvListing(made: ReturnType<typeof listing>): KV {
  return { keys: async () => made.iterator, get: async () => null } as unknown as KV;
}

describe('committed offsets: key listings', () => {
  it('gives up a listing that does not end within the timeout, and stops it', async () => {
    const made = listing([], false);
    const offsets = new CommittedOffsets(kvListing(made), () => true, 50);
    await expect(offsets.fetch('g')).rejects.toThrow('listing the committed offsets took over 50 ms');
    expect(made.stopped()).toBe(true);
  });

  it('refuses a bucket listing more keys than it reads', async () => {
    function* many(): Generator<string> {
      for (let i = 0; i <= 100_000; i++) yield `Zw.t${i}.0`;
    }
    const made = listing(many(), true);
    const offsets = new CommittedOffsets(kvListing(made), () => true, 60_000);
    await expect(offsets.groups()).rejects.toThrow('lists over 100000 keys');
    expect(made.stopped()).toBe(true);
  });

  it('reads a listing that ends in time', async () => {
    const made = listing(['not-a-key'], true);
    const offsets = new CommittedOffsets(kvListing(made), () => true, 1_000);
    await expect(offsets.fetch('g')).resolves.toEqual([]);
  });
});
