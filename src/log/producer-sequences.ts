import { SealbusError } from '../errors/index.js';
import type { ProducerStamp } from './types.js';

/** How many recent batches per producer a partition remembers to recognise retries (as Kafka does). */
export const PRODUCER_BATCH_WINDOW = 5;
const SEQUENCE_SPACE = 2 ** 31;

export interface ProducerBatch {
  readonly baseSequence: number;
  readonly count: number;
  readonly baseOffset: number;
  readonly timestamp: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most PRODUCER_BATCH_WINDOW. */
  batches: ProducerBatch[];
}

export type SequenceCheck = { readonly kind: 'new' } | { readonly kind: 'duplicate'; readonly batch: ProducerBatch };

/** The serializable form kept in checkpoints: [producerId, epoch, [baseSequence, count, baseOffset, timestamp][]]. */
export type ProducerSnapshot = [number, number, [number, number, number, number][]][];

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/**
 * Per-partition state of idempotent producers. Offsets are assigned in arrival order, so checking a
 * batch's sequence against the last accepted one is enough to keep each producer's batches in the
 * order it sent them, even with several in flight and retries.
 */
export class ProducerSequences {
  private readonly producers = new Map<number, ProducerEntry>();

  constructor(private readonly where: PartitionRef) {}

  /** Decides whether a stamped batch is new, a retry of a remembered one, or out of order. */
  check(stamp: ProducerStamp, count: number): SequenceCheck {
    const entry = this.producers.get(stamp.producerId);
    if (entry !== undefined && stamp.epoch < entry.epoch) {
      throw new SealbusError('SEALBUS_ERR_PRODUCER_FENCED', {
        producerId: stamp.producerId,
        epoch: stamp.epoch,
        currentEpoch: entry.epoch,
      });
    }
    const last = entry !== undefined && entry.epoch === stamp.epoch ? entry.batches.at(-1) : undefined;
    if (entry !== undefined && last !== undefined) {
      const retry = entry.batches.find((batch) => batch.baseSequence === stamp.baseSequence);
      if (retry !== undefined && retry.count === count) return { kind: 'duplicate', batch: retry };
    }
    // A producer (or a new epoch of it) starts at sequence 0, so a lost first batch shows as a gap.
    const expected = last === undefined ? 0 : (last.baseSequence + last.count) % SEQUENCE_SPACE;
    if (stamp.baseSequence !== expected) {
      throw new SealbusError('SEALBUS_ERR_PRODUCER_SEQUENCE_GAP', {
        producerId: stamp.producerId,
        sequence: stamp.baseSequence,
        topic: this.where.topic,
        partition: this.where.partition,
        expected,
      });
    }
    return { kind: 'new' };
  }

  /** Remembers an accepted batch; returns the undo used when its write fails. */
  record(stamp: ProducerStamp, batch: ProducerBatch): () => void {
    const previous = this.producers.get(stamp.producerId);
    const saved = previous === undefined ? undefined : { epoch: previous.epoch, batches: previous.batches.slice() };
    this.apply(stamp.producerId, stamp.epoch, batch);
    return () => {
      if (saved === undefined) this.producers.delete(stamp.producerId);
      else this.producers.set(stamp.producerId, saved);
    };
  }

  /** Rebuilds state from a stored batch header during recovery; replaying a batch twice is harmless. */
  replay(producerId: number, epoch: number, batch: ProducerBatch): void {
    const entry = this.producers.get(producerId);
    if (entry !== undefined) {
      if (epoch < entry.epoch) return;
      if (epoch === entry.epoch && entry.batches.some((known) => known.baseOffset >= batch.baseOffset)) return;
    }
    this.apply(producerId, epoch, batch);
  }

  private apply(producerId: number, epoch: number, batch: ProducerBatch): void {
    let entry = this.producers.get(producerId);
    if (entry === undefined || entry.epoch !== epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    }
    entry.batches.push(batch);
    if (entry.batches.length > PRODUCER_BATCH_WINDOW) entry.batches.shift();
  }

  /** State as of `durableOffset`: batches at or past it may still be lost, so they are left out. */
  snapshot(durableOffset: number): ProducerSnapshot {
    const out: ProducerSnapshot = [];
    for (const [producerId, entry] of this.producers) {
      const batches = entry.batches.filter((batch) => batch.baseOffset + batch.count <= durableOffset);
      if (batches.length === 0) continue;
      out.push([producerId, entry.epoch, batches.map((b) => [b.baseSequence, b.count, b.baseOffset, b.timestamp])]);
    }
    return out;
  }

  restore(snapshot: ProducerSnapshot): void {
    for (const [producerId, epoch, batches] of snapshot) {
      for (const [baseSequence, count, baseOffset, timestamp] of batches) {
        this.replay(producerId, epoch, { baseSequence, count, baseOffset, timestamp });
      }
    }
  }
}

/** Checks a snapshot read back from disk before trusting it; returns null when malformed. */
export function parseProducerSnapshot(value: unknown): ProducerSnapshot | null {
  if (!Array.isArray(value)) return null;
  const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  for (const entry of value) {
    if (!Array.isArray(entry) || entry.length !== 3 || !isInt(entry[0]) || !isInt(entry[1]) || !Array.isArray(entry[2])) return null;
    for (const batch of entry[2] as unknown[]) {
      if (!Array.isArray(batch) || batch.length !== 4 || !batch.every(isInt)) return null;
    }
  }
  return value as ProducerSnapshot;
}
