import type { TopicConfig } from './types.js';

export interface RetentionSegment {
  readonly sizeBytes: number;
  /** Timestamp of the newest record in the segment. */
  readonly maxTimestamp: number;
}

/**
 * How many of the oldest segments retention deletes now. The last segment is the active one and is
 * never deleted; deletion stops at the first segment that neither time nor size condemns, so the log
 * always stays a contiguous range of offsets.
 */
export function segmentsToDelete(
  segments: readonly RetentionSegment[],
  config: Pick<TopicConfig, 'retentionMs' | 'retentionBytes'>,
  now: number,
): number {
  if (config.retentionMs === null && config.retentionBytes === null) return 0;
  let total = 0;
  for (const segment of segments) total += segment.sizeBytes;
  let count = 0;
  while (count < segments.length - 1) {
    const segment = segments[count]!;
    const expired = config.retentionMs !== null && now - segment.maxTimestamp > config.retentionMs;
    const oversize = config.retentionBytes !== null && total > config.retentionBytes;
    if (!expired && !oversize) break;
    total -= segment.sizeBytes;
    count++;
  }
  return count;
}
