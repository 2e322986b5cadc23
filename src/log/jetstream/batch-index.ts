import type { BatchMeta } from './batch-message.js';

interface Entry {
  readonly seq: number;
  readonly baseOffset: number;
  /** One past the batch's last offset. */
  readonly end: number;
  readonly timestamp: number;
}

/** Where the batch holding an offset is: its exact stream sequence, or the range of sequences to search. */
export type Location = { readonly kind: 'exact'; readonly seq: number } | { readonly kind: 'range'; readonly low: number; readonly high: number };

const DEFAULT_CAPACITY = 4096;

/**
 * A sparse, bounded map from stream sequences to offsets, fed by every batch a broker appends,
 * reads or replays. Offsets grow with sequences and sequences have no holes (the streams deny
 * single-message deletes), so a known batch next to an offset gives its sequence at once (the
 * common case: a consumer reads on from where its last read ended); otherwise the two known
 * batches around it bound a binary search. Thinned by halves when full, so it never grows past
 * its capacity and keeps covering the whole partition.
 */
export class BatchIndex {
  private entries: Entry[] = [];

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  add(meta: BatchMeta): void {
    const entry: Entry = { seq: meta.seq, baseOffset: meta.baseOffset, end: meta.baseOffset + meta.count, timestamp: meta.timestamp };
    const at = this.firstAbove((e) => e.seq > meta.seq);
    if (at > 0 && this.entries[at - 1]!.seq === meta.seq) return;
    this.entries.splice(at, 0, entry);
    if (this.entries.length > this.capacity) {
      const last = this.entries.at(-1)!;
      this.entries = this.entries.filter((_, i) => i % 2 === 0);
      if (this.entries.at(-1) !== last) this.entries.push(last);
    }
  }

  /** Forgets batches below `seq` (retention removed them). */
  dropBelow(seq: number): void {
    const at = this.firstAbove((e) => e.seq >= seq);
    if (at > 0) this.entries.splice(0, at);
  }

  clear(): void {
    this.entries = [];
  }

  /** Where the batch holding `offset` lies among sequences [firstSeq, lastSeq]. */
  locate(offset: number, firstSeq: number, lastSeq: number): Location {
    const above = this.firstAbove((e) => e.baseOffset > offset);
    const below = above > 0 ? this.entries[above - 1] : undefined;
    let low = firstSeq;
    if (below !== undefined && below.seq >= firstSeq) {
      if (offset < below.end) return { kind: 'exact', seq: below.seq };
      low = below.seq + 1;
      if (offset === below.end) return { kind: 'exact', seq: low };
    }
    const next = this.entries[above];
    const high = next !== undefined && next.seq <= lastSeq ? next.seq - 1 : lastSeq;
    return low === high ? { kind: 'exact', seq: low } : { kind: 'range', low, high };
  }

  /** The sequences between which the first batch stamped at or after `timestamp` lies. */
  timeRange(timestamp: number, firstSeq: number, lastSeq: number): { low: number; high: number } {
    const above = this.firstAbove((e) => e.timestamp >= timestamp);
    const below = above > 0 ? this.entries[above - 1] : undefined;
    const next = this.entries[above];
    const low = below !== undefined && below.seq >= firstSeq ? below.seq + 1 : firstSeq;
    const high = next !== undefined && next.seq <= lastSeq ? next.seq : lastSeq + 1;
    return { low, high };
  }

  get size(): number {
    return this.entries.length;
  }

  /** Index of the first entry for which `test` holds; entries are sorted so that it holds for a suffix. */
  private firstAbove(test: (entry: Entry) => boolean): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (test(this.entries[mid]!)) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}
