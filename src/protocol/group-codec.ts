/**
 * Codecs of the consumer-group frames (JOIN_GROUP, HEARTBEAT, COMMIT, LEAVE_GROUP and their
 * replies and pushes). Kept apart from encode.ts/decode.ts, which dispatch here.
 */
import { FRAME_HEADER_BYTES, FRAME_TYPE_CODES, STRATEGY_CODES, type FrameLimits } from './constants.js';
import { FrameReader, malformed } from './frame-reader.js';
import { FrameWriter } from './frame-writer.js';
import type { AssignmentFrame, CommitFrame, Frame, GroupStrategy, JoinGroupFrame } from './frame-types.js';

export type GroupFrame = Extract<
  Frame,
  { type: 'JOIN_GROUP' | 'HEARTBEAT' | 'COMMIT' | 'LEAVE_GROUP' | 'GROUP_JOINED' | 'ASSIGNMENT' | 'GROUP_ERROR' }
>;

export const GROUP_FRAME_TYPES: ReadonlySet<string> = new Set<GroupFrame['type']>([
  'JOIN_GROUP',
  'HEARTBEAT',
  'COMMIT',
  'LEAVE_GROUP',
  'GROUP_JOINED',
  'ASSIGNMENT',
  'GROUP_ERROR',
]);

const STRATEGIES_BY_CODE = new Map<number, GroupStrategy>(
  Object.entries(STRATEGY_CODES).map(([name, code]) => [code, name as GroupStrategy]),
);

/** A UTF-8 string field: its bytes, computed once for sizing and writing. */
interface Text {
  readonly value: string;
  readonly bytes: number;
}

function text(value: string): Text {
  return { value, bytes: Buffer.byteLength(value) };
}

function joinGroup(frame: JoinGroupFrame): Buffer {
  const group = text(frame.group);
  const topics = frame.topics.map(text);
  const size = FRAME_HEADER_BYTES + 2 + group.bytes + 1 + 4 + 4 + 2 + topics.reduce((sum, t) => sum + 2 + t.bytes, 0);
  const writer = new FrameWriter(size, FRAME_TYPE_CODES.JOIN_GROUP, frame.requestId)
    .str16(group.value, group.bytes, 'group')
    .u8(STRATEGY_CODES[frame.strategy], 'strategy')
    .u32(frame.sessionTimeoutMs, 'sessionTimeoutMs')
    .u32(frame.rebalanceTimeoutMs, 'rebalanceTimeoutMs')
    .u16(topics.length, 'topicCount');
  for (const topic of topics) writer.str16(topic.value, topic.bytes, 'topic');
  return writer.finish();
}

function commit(frame: CommitFrame): Buffer {
  const group = text(frame.group);
  const member = text(frame.memberId);
  const entries = frame.offsets.map((o) => ({ topicText: text(o.topic), partition: o.partition, offset: o.offset }));
  const size =
    FRAME_HEADER_BYTES + 2 + group.bytes + 2 + member.bytes + 4 + 4 + entries.reduce((sum, e) => sum + 2 + e.topicText.bytes + 4 + 8, 0);
  const writer = new FrameWriter(size, FRAME_TYPE_CODES.COMMIT, frame.requestId)
    .str16(group.value, group.bytes, 'group')
    .str16(member.value, member.bytes, 'memberId')
    .u32(frame.generation, 'generation')
    .u32(entries.length, 'offsetCount');
  for (const entry of entries) {
    writer.str16(entry.topicText.value, entry.topicText.bytes, 'topic').u32(entry.partition, 'partition').u64(entry.offset, 'offset');
  }
  return writer.finish();
}

function assignment(frame: AssignmentFrame): Buffer {
  const group = text(frame.group);
  const member = text(frame.memberId);
  const entries = frame.partitions.map((p) => ({ topicText: text(p.topic), partition: p.partition, committedOffset: p.committedOffset }));
  const size =
    FRAME_HEADER_BYTES + 2 + group.bytes + 2 + member.bytes + 4 + 4 + entries.reduce((sum, e) => sum + 2 + e.topicText.bytes + 4 + 1 + 8, 0);
  const writer = new FrameWriter(size, FRAME_TYPE_CODES.ASSIGNMENT, 0)
    .str16(group.value, group.bytes, 'group')
    .str16(member.value, member.bytes, 'memberId')
    .u32(frame.generation, 'generation')
    .u32(entries.length, 'partitionCount');
  for (const entry of entries) {
    writer
      .str16(entry.topicText.value, entry.topicText.bytes, 'topic')
      .u32(entry.partition, 'partition')
      .bool(entry.committedOffset !== null)
      .u64(entry.committedOffset ?? 0, 'committedOffset');
  }
  return writer.finish();
}

/** Encodes a group frame (requestIds are checked by the caller, as for every frame). */
export function encodeGroupFrame(frame: GroupFrame): Buffer {
  const code = FRAME_TYPE_CODES[frame.type];
  switch (frame.type) {
    case 'JOIN_GROUP':
      return joinGroup(frame);
    case 'COMMIT':
      return commit(frame);
    case 'ASSIGNMENT':
      return assignment(frame);
    case 'HEARTBEAT':
    case 'LEAVE_GROUP': {
      const group = text(frame.group);
      const member = text(frame.memberId);
      const tail = frame.type === 'HEARTBEAT' ? 4 : 0;
      const writer = new FrameWriter(FRAME_HEADER_BYTES + 2 + group.bytes + 2 + member.bytes + tail, code, frame.requestId)
        .str16(group.value, group.bytes, 'group')
        .str16(member.value, member.bytes, 'memberId');
      if (frame.type === 'HEARTBEAT') writer.u32(frame.generation, 'generation');
      return writer.finish();
    }
    case 'GROUP_JOINED': {
      const member = text(frame.memberId);
      return new FrameWriter(FRAME_HEADER_BYTES + 2 + member.bytes + 4, code, frame.requestId)
        .str16(member.value, member.bytes, 'memberId')
        .u32(frame.heartbeatIntervalMs, 'heartbeatIntervalMs')
        .finish();
    }
    case 'GROUP_ERROR': {
      const group = text(frame.group);
      const member = text(frame.memberId);
      const errorCode = text(frame.code);
      const message = text(frame.message);
      const size = FRAME_HEADER_BYTES + 2 + group.bytes + 2 + member.bytes + 2 + errorCode.bytes + 4 + message.bytes + 1;
      return new FrameWriter(size, code, 0)
        .str16(group.value, group.bytes, 'group')
        .str16(member.value, member.bytes, 'memberId')
        .str16(errorCode.value, errorCode.bytes, 'code')
        .str32(message.value, message.bytes, 'message')
        .bool(frame.retriable)
        .finish();
    }
  }
}

/** Checks a count against the bytes left before allocating, so a forged count allocates nothing. */
function checkCount(reader: FrameReader, frame: string, what: string, count: number, minEntryBytes: number, max: number): void {
  if (count > max) throw malformed(`${frame}: ${count} ${what}; at most ${max} are allowed`);
  if (count * minEntryBytes > reader.remaining) throw malformed(`${frame}: ${reader.remaining} bytes cannot hold ${count} ${what}`);
}

export function decodeGroupBody(type: GroupFrame['type'], requestId: number, reader: FrameReader, limits: FrameLimits): GroupFrame {
  switch (type) {
    case 'JOIN_GROUP': {
      const group = reader.str16('group', limits.maxGroupBytes);
      const strategyCode = reader.u8('strategy');
      const strategy = STRATEGIES_BY_CODE.get(strategyCode);
      if (strategy === undefined) throw malformed(`JOIN_GROUP: unknown strategy ${strategyCode}`);
      const sessionTimeoutMs = reader.u32('sessionTimeoutMs');
      const rebalanceTimeoutMs = reader.u32('rebalanceTimeoutMs');
      const count = reader.u16('topicCount');
      checkCount(reader, type, 'topics', count, 2, limits.maxTopicsPerJoin);
      const topics: string[] = [];
      for (let i = 0; i < count; i++) topics.push(reader.str16('topic', limits.maxTopicBytes));
      return { type, requestId, group, strategy, sessionTimeoutMs, rebalanceTimeoutMs, topics };
    }
    case 'HEARTBEAT': {
      const group = reader.str16('group', limits.maxGroupBytes);
      const memberId = reader.str16('memberId', limits.maxMemberIdBytes);
      return { type, requestId, group, memberId, generation: reader.u32('generation') };
    }
    case 'LEAVE_GROUP': {
      const group = reader.str16('group', limits.maxGroupBytes);
      return { type, requestId, group, memberId: reader.str16('memberId', limits.maxMemberIdBytes) };
    }
    case 'COMMIT': {
      const group = reader.str16('group', limits.maxGroupBytes);
      const memberId = reader.str16('memberId', limits.maxMemberIdBytes);
      const generation = reader.u32('generation');
      const count = reader.u32('offsetCount');
      checkCount(reader, type, 'offsets', count, 2 + 4 + 8, limits.maxOffsetsPerCommit);
      const offsets = [];
      for (let i = 0; i < count; i++) {
        const topic = reader.str16('topic', limits.maxTopicBytes);
        const partition = reader.u32('partition');
        offsets.push({ topic, partition, offset: reader.u64('offset') });
      }
      return { type, requestId, group, memberId, generation, offsets };
    }
    case 'GROUP_JOINED': {
      const memberId = reader.str16('memberId', limits.maxMemberIdBytes);
      return { type, requestId, memberId, heartbeatIntervalMs: reader.u32('heartbeatIntervalMs') };
    }
    case 'ASSIGNMENT': {
      const group = reader.str16('group', limits.maxGroupBytes);
      const memberId = reader.str16('memberId', limits.maxMemberIdBytes);
      const generation = reader.u32('generation');
      const count = reader.u32('partitionCount');
      checkCount(reader, type, 'partitions', count, 2 + 4 + 1 + 8, Number.MAX_SAFE_INTEGER);
      const partitions = [];
      for (let i = 0; i < count; i++) {
        const topic = reader.str16('topic', limits.maxTopicBytes);
        const partition = reader.u32('partition');
        const committed = reader.bool('hasCommittedOffset');
        const value = reader.u64('committedOffset');
        if (!committed && value !== 0) throw malformed('ASSIGNMENT: committedOffset must be 0 when absent');
        partitions.push({ topic, partition, committedOffset: committed ? value : null });
      }
      return { type, group, memberId, generation, partitions };
    }
    case 'GROUP_ERROR': {
      const group = reader.str16('group', limits.maxGroupBytes);
      const memberId = reader.str16('memberId', limits.maxMemberIdBytes);
      const code = reader.str16('code', limits.maxErrorCodeBytes);
      const message = reader.str32('message', limits.maxErrorMessageBytes);
      return { type, group, memberId, code, message, retriable: reader.bool('retriable') };
    }
  }
}
