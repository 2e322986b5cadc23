import type { BatchMeta } from './batch-message.js';
import type { JetStreamPartition } from './jetstream-partition.js';

export interface RetentionResult {
  readonly deletedSegments: number;
  readonly deletedBytes: number;
}

const NOTHING: RetentionResult = { deletedSegments: 0, deletedBytes: 0 };

/** The first message of the segment after `segment`, which starts at `fromSeq` and is not the last one. */
async function nextSegmentStart(partition: JetStreamPartition, segment: number, fromSeq: number): Promise<BatchMeta | null> {
  let low = fromSeq + 1;
  let high = partition.view.lastSeq;
  let found: BatchMeta | null = null;
  while (low <= high) {
    const mid = Math.floor((low + high) / 2);
    const probe = await partition.stream.get(mid);
    if (probe === null) return null;
    if (probe.meta.segment > segment) {
      found = probe.meta;
      high = mid - 1;
    } else {
      low = mid + 1;
    }
  }
  return found;
}

/**
 * Retention as the file store applies it, on the virtual segments the message headers number:
 * whole segments go, oldest first, while the oldest is older than retentionMs (by its newest
 * batch) or the partition is larger than retentionBytes; the active segment always stays, so the
 * partition keeps its end. Sealbus purges by sequence itself, rather than through the stream's
 * max_age or max_bytes, so that retention follows the broker's clock and segment boundaries, and
 * so that the producers' state is saved before the batches that carry it go.
 */
export function enforcePartitionRetention(partition: JetStreamPartition, now: number): Promise<RetentionResult> {
  const { retentionMs, retentionBytes } = partition.config;
  if (retentionMs === null && retentionBytes === null) return Promise.resolve(NOTHING);
  return partition.ready().then(() =>
    partition.exclusive(async () => {
      await partition.catchUpNow();
      const view = partition.view;
      if (view.empty) return NOTHING;
      let total = view.endPosition - view.startPosition;
      let segment = view.firstSegment;
      let segmentSeq = view.firstSeq;
      let segmentPosition = view.startPosition;
      let keep: BatchMeta | null = null;
      let deletedSegments = 0;
      let deletedBytes = 0;
      while (segment < view.segment) {
        const next = await nextSegmentStart(partition, segment, segmentSeq);
        const newest = next === null ? null : await partition.stream.get(next.seq - 1);
        if (next === null || newest === null) break;
        const size = next.position - segmentPosition;
        const expired = retentionMs !== null && now - newest.meta.timestamp > retentionMs;
        const oversize = retentionBytes !== null && total > retentionBytes;
        if (!expired && !oversize) break;
        total -= size;
        deletedSegments++;
        deletedBytes += size;
        keep = next;
        segment = next.segment;
        segmentSeq = next.seq;
        segmentPosition = next.position;
      }
      if (keep === null) return NOTHING;
      await partition.saveSnapshot();
      await partition.stream.purgeBelow(keep.seq);
      view.moveStart(keep);
      return { deletedSegments, deletedBytes };
    }),
  );
}
