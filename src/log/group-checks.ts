import { SealbusError } from '../errors/index.js';
import { checkOffsetArgument, checkPartition } from './append-checks.js';
import type { CommittedOffset } from './types.js';

const MAX_GROUP_NAME = 255;
export const MAX_COMMIT_METADATA_BYTES = 4096;

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

/**
 * Group names end up in files and audit lines: printable, bounded, nothing to normalize. Like topic
 * names they have no empty dot-segment (`a..b`, `.a`, `a.`), so that a policy or scope pattern
 * such as `>` covers every name there can be.
 */
export function assertGroupName(group: unknown): asserts group is string {
  if (typeof group !== 'string' || group.length === 0 || group.length > MAX_GROUP_NAME || /[\u0000-\u001f\u007f]/.test(group)) {
    throw invalid(`a consumer group name is 1 to ${MAX_GROUP_NAME} characters without control characters`);
  }
  if (group.split('.').includes('')) throw invalid('a consumer group name has no empty segment (a leading, trailing or doubled ".")');
}

/**
 * Checks a commit before anything is stored, so that a bad entry rejects the whole commit.
 * `partitionsOf` throws SEALBUS_ERR_TOPIC_NOT_FOUND for an unknown topic.
 */
export function checkCommits(
  group: unknown,
  offsets: readonly Omit<CommittedOffset, 'committedAt'>[],
  partitionsOf: (topic: string) => number,
): void {
  assertGroupName(group);
  if (!Array.isArray(offsets)) throw invalid('offsets must be an array');
  for (const entry of offsets) {
    checkPartition(entry.topic, entry.partition, partitionsOf(entry.topic));
    checkOffsetArgument('offset', entry.offset);
    if (typeof entry.metadata !== 'string' || Buffer.byteLength(entry.metadata) > MAX_COMMIT_METADATA_BYTES) {
      throw invalid(`commit metadata is a string of at most ${MAX_COMMIT_METADATA_BYTES} bytes`);
    }
  }
}
