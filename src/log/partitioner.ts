/**
 * How records are spread over a topic's partitions. Keyed records go where Kafka's Java client
 * would put them (murmur2 of the key bytes, sign bit cleared, modulo the partition count), so that
 * tools and data moved between Kafka and sealbus agree on which partition holds a key.
 * Records without a key: the broker's HTTP path spreads them round-robin; the SDK sticks to one
 * partition until its batch is sent, then moves on (Kafka's sticky partitioner, KIP-480), so that
 * unkeyed records form full batches instead of one small batch per partition.
 */

import { i32le } from './little-endian.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/**
 * MurmurHash2 (32-bit) as Kafka's `Utils.murmur2`, returning the same signed 32-bit value.
 * Kafka's `UtilsTest.testMurmur2` vectors are checked in test/client/partitioner.test.ts.
 */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = i32le(bytes, i);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= bytes[whole + 2]! << 16;
    if (tail >= 2) h ^= bytes[whole + 1]! << 8;
    h ^= bytes[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which overflows on -2^31). */
export function toPositive(n: number): number {
  return n & 0x7fff_ffff;
}

function checkPartitions(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partition count must be a positive integer, got ${partitions}`);
}

/** The partition of a keyed record: `toPositive(murmur2(key)) % partitions`, as Kafka. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  checkPartitions(partitions);
  return toPositive(murmur2(key)) % partitions;
}

/** Round-robin over the partitions of each topic: the broker's choice for unkeyed HTTP records. */
export class RoundRobin {
  readonly #next = new Map<string, number>();

  next(topic: string, partitions: number): number {
    checkPartitions(partitions);
    const counter = this.#next.get(topic) ?? 0;
    this.#next.set(topic, (counter + 1) % 0x1_0000_0000);
    return counter % partitions;
  }
}

/**
 * Sticky partitioning for unkeyed records in the SDK: every record of a topic goes to the same
 * partition until the producer reports that the batch there was closed (full or lingered out);
 * then a different partition is chosen at random. `random` is injectable for tests.
 */
export class StickyPartitioner {
  readonly #current = new Map<string, number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  partition(topic: string, partitions: number): number {
    checkPartitions(partitions);
    const current = this.#current.get(topic);
    if (current !== undefined && current < partitions) return current;
    return this.#choose(topic, partitions, null);
  }

  /** Called when the batch of `closedPartition` is closed; the next unkeyed record moves on. */
  batchClosed(topic: string, partitions: number, closedPartition: number): void {
    checkPartitions(partitions);
    if (this.#current.get(topic) === closedPartition) this.#choose(topic, partitions, closedPartition);
  }

  #choose(topic: string, partitions: number, avoid: number | null): number {
    let next: number;
    if (avoid === null || partitions === 1) {
      next = Math.floor(this.#random() * partitions) % partitions;
    } else {
      // Drawing among the others and skipping `avoid` keeps the choice uniform over them.
      next = Math.floor(this.#random() * (partitions - 1)) % (partitions - 1);
      if (next >= avoid) next += 1;
    }
    this.#current.set(topic, next);
    return next;
  }
}
