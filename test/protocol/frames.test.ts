import { describe, expect, it } from 'vitest';
import { SealbusError } from '../../src/errors/index.js';
import { validateRecords, DEFAULT_RECORD_LIMITS } from '../../src/log/record-batch.js';
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_TYPE_CODES,
  decodeBrokerFrame,
  decodeClientFrame,
  decodeFrame,
  encodeFrame,
  encodeFrameParts,
  peekFrameHeader,
  type Frame,
} from '../../src/protocol/index.js';
import { sampleFrames } from './frame-fixtures.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SealbusError) return err.code;
    throw err;
  }
  throw new Error('expected a SealbusError, nothing was thrown');
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SealbusError) return err.message;
    throw err;
  }
  throw new Error('expected a SealbusError, nothing was thrown');
}

function frameOf(type: Frame['type']): Buffer {
  const frame = sampleFrames().find((f) => f.type === type);
  if (frame === undefined) throw new Error(`no sample ${type}`);
  return encodeFrame(frame);
}

describe('frame round trip', () => {
  it('covers every frame type', () => {
    const types = new Set(sampleFrames().map((f) => f.type));
    expect([...types].sort()).toEqual(Object.keys(FRAME_TYPE_CODES).sort());
  });

  for (const frame of sampleFrames()) {
    const label = `${frame.type} ${'requestId' in frame ? frame.requestId : 'push'}`;
    it(`decodes what it encodes: ${label}`, () => {
      const bytes = encodeFrame(frame);
      expect(bytes[0]).toBe(1);
      expect(bytes[1]).toBe(FRAME_TYPE_CODES[frame.type]);
      expect(decodeFrame(bytes)).toEqual(frame);
      expect(encodeFrame(decodeFrame(bytes))).toEqual(bytes);
      expect(Buffer.concat(encodeFrameParts(frame))).toEqual(bytes);
    });

    it(`rejects every truncation: ${label}`, () => {
      const bytes = encodeFrame(frame);
      for (let cut = 0; cut < bytes.length; cut++) {
        const truncated = bytes.subarray(0, cut);
        if (frame.type === 'PRODUCE' && cut >= bytes.length - frame.records.bytes.length) {
          // The records section runs to the end of the frame: decode refuses a section too short
          // for its record count, and the broker's validateRecords refuses any other cut.
          expect(codeOf(() => {
            const decoded = decodeFrame(truncated);
            if (decoded.type === 'PRODUCE') validateRecords(decoded.records, DEFAULT_RECORD_LIMITS);
          })).toMatch(/^SEALBUS_ERR_(PROTOCOL_FRAME|BATCH_INVALID)$/);
          continue;
        }
        expect(codeOf(() => decodeFrame(truncated))).toBe('SEALBUS_ERR_PROTOCOL_FRAME');
      }
    });
  }
});

describe('decodeFrame refuses malformed frames', () => {
  it('refuses another protocol version with SEALBUS_ERR_PROTOCOL_VERSION', () => {
    const bytes = Buffer.from(frameOf('OK'));
    bytes[0] = 2;
    expect(codeOf(() => decodeFrame(bytes))).toBe('SEALBUS_ERR_PROTOCOL_VERSION');
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Protocol version 2 is not supported; this broker speaks 1');
  });

  it('refuses an unknown type', () => {
    const bytes = Buffer.from(frameOf('OK'));
    bytes[1] = 0x42;
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: unknown frame type 0x42');
  });

  it('refuses trailing bytes', () => {
    const bytes = Buffer.concat([frameOf('PRODUCE_ACK'), Buffer.from([0])]);
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: PRODUCE_ACK: 1 bytes follow the last field');
  });

  it('refuses a u64 of 2^53 or more', () => {
    const bytes = Buffer.from(encodeFrame({ type: 'REFRESHED', requestId: 1, expiresAt: Number.MAX_SAFE_INTEGER }));
    expect(decodeFrame(bytes)).toEqual({ type: 'REFRESHED', requestId: 1, expiresAt: Number.MAX_SAFE_INTEGER });
    bytes.writeUInt32LE(0x20_0000, 10); // high word: exactly 2^53
    bytes.writeUInt32LE(0, 6);
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: REFRESHED: expiresAt is 2^53 or more');
  });

  it('refuses a string over its limit, before reading it', () => {
    const topic = 'a'.repeat(DEFAULT_FRAME_LIMITS.maxTopicBytes + 1);
    const bytes = encodeFrame({ type: 'METADATA', requestId: 1, topic });
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: METADATA: topic is 201 bytes; at most 200 are allowed');
    const token = encodeFrame({ type: 'REFRESH', requestId: 1, token: 'x'.repeat(100) });
    expect(codeOf(() => decodeFrame(token, { ...DEFAULT_FRAME_LIMITS, maxTokenBytes: 99 }))).toBe('SEALBUS_ERR_PROTOCOL_FRAME');
  });

  it('refuses invalid UTF-8 rather than replacing it', () => {
    const bytes = Buffer.from(encodeFrame({ type: 'METADATA', requestId: 1, topic: 'ab' }));
    bytes[bytes.length - 1] = 0xff;
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: METADATA: topic is not valid UTF-8');
  });

  it('refuses a frame over maxFrameBytes with SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE', () => {
    const bytes = frameOf('PRODUCE');
    const limits = { ...DEFAULT_FRAME_LIMITS, maxFrameBytes: bytes.length - 1 };
    expect(codeOf(() => decodeFrame(bytes, limits))).toBe('SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE');
    expect(decodeFrame(bytes, { ...limits, maxFrameBytes: bytes.length }).type).toBe('PRODUCE');
  });

  it('refuses a PRODUCE over maxRecordsPerProduce with SEALBUS_ERR_BATCH_TOO_LARGE', () => {
    const bytes = frameOf('PRODUCE'); // 2 records
    expect(codeOf(() => decodeFrame(bytes, { ...DEFAULT_FRAME_LIMITS, maxRecordsPerProduce: 1 }))).toBe('SEALBUS_ERR_BATCH_TOO_LARGE');
  });

  it('refuses a PRODUCE whose record count cannot fit its bytes', () => {
    const bytes = Buffer.from(frameOf('PRODUCE'));
    const countAt = 6 + 2 + 'orders'.length + 4 + 1;
    bytes.writeUInt32LE(1_000, countAt);
    expect(reasonOf(() => decodeFrame(bytes))).toMatch(/^Malformed frame: PRODUCE: \d+ bytes cannot hold 1000 records$/);
  });

  it('refuses unknown PRODUCE flags, a reserved epoch and a negative sequence', () => {
    const plain = Buffer.from(frameOf('PRODUCE'));
    plain[6 + 2 + 6 + 4] = 0x02;
    expect(reasonOf(() => decodeFrame(plain))).toBe('Malformed frame: PRODUCE: unknown flags 0x2');
    const stamped = encodeFrame({
      type: 'PRODUCE',
      requestId: 1,
      topic: 't',
      partition: 0,
      producer: { producerId: 1, epoch: 1, baseSequence: 0 },
      records: { count: 1, bytes: Buffer.alloc(15) },
    });
    const epochAt = 6 + 2 + 1 + 4 + 1 + 8;
    const reserved = Buffer.from(stamped);
    reserved.writeUInt16LE(0xffff, epochAt);
    expect(reasonOf(() => decodeFrame(reserved))).toBe('Malformed frame: PRODUCE: epoch 65535 is reserved');
    const negative = Buffer.from(stamped);
    negative.writeInt32LE(-1, epochAt + 2);
    expect(reasonOf(() => decodeFrame(negative))).toBe('Malformed frame: PRODUCE: baseSequence must not be negative');
  });

  it('refuses a RECORDS batch whose length field runs past the frame', () => {
    const bytes = Buffer.from(frameOf('RECORDS'));
    const firstBatchAt = 6 + 4 + 8 + 4;
    bytes.writeUInt32LE(bytes.length, firstBatchAt + 8);
    expect(reasonOf(() => decodeFrame(bytes))).toMatch(/RECORDS: batch 0 of \d+ bytes runs past the frame$/);
    bytes.writeUInt32LE(10, firstBatchAt + 8);
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: RECORDS: batch 0 is shorter than a batch header');
  });

  it('refuses a forged batch count without allocating for it', () => {
    const bytes = Buffer.from(frameOf('RECORDS'));
    bytes.writeUInt32LE(0xffff_ffff, 6 + 4 + 8);
    expect(reasonOf(() => decodeFrame(bytes))).toMatch(/cannot hold 4294967295 batches$/);
  });

  it('refuses non-canonical booleans and start values', () => {
    const ack = Buffer.from(frameOf('PRODUCE_ACK'));
    ack[ack.length - 1] = 2;
    expect(reasonOf(() => decodeFrame(ack))).toBe('Malformed frame: PRODUCE_ACK: duplicate must be 0 or 1, got 2');
    const subscribe = Buffer.from(
      encodeFrame({ type: 'SUBSCRIBE', requestId: 1, subscriptionId: 1, topic: 't', partition: 0, start: { kind: 'latest' }, creditBytes: 1 }),
    );
    subscribe.writeUInt32LE(5, subscribe.length - 12);
    expect(reasonOf(() => decodeFrame(subscribe))).toBe('Malformed frame: SUBSCRIBE: startValue must be 0 for startKind 2');
    subscribe.writeUInt32LE(0, subscribe.length - 12);
    subscribe[subscribe.length - 13] = 9;
    expect(reasonOf(() => decodeFrame(subscribe))).toBe('Malformed frame: SUBSCRIBE: unknown startKind 9');
  });

  it('reserves requestId 0 for pushes and session errors', () => {
    const ok = Buffer.from(frameOf('OK'));
    ok.writeUInt32LE(0, 2);
    expect(reasonOf(() => decodeFrame(ok))).toBe('Malformed frame: OK: requestId 0 is reserved for pushes and session errors');
    const push = Buffer.from(frameOf('TOKEN_EXPIRING'));
    push.writeUInt32LE(3, 2);
    expect(reasonOf(() => decodeFrame(push))).toBe('Malformed frame: TOKEN_EXPIRING: a push carries requestId 0, got 3');
    expect(codeOf(() => encodeFrame({ type: 'METADATA', requestId: 0, topic: 't' }))).toBe('SEALBUS_ERR_PROTOCOL_FRAME');
  });

  it('keeps each side to its own frames', () => {
    expect(reasonOf(() => decodeClientFrame(frameOf('OK')))).toBe('Malformed frame: OK is sent by the broker, not by a client');
    expect(reasonOf(() => decodeBrokerFrame(frameOf('METADATA')))).toBe('Malformed frame: METADATA is sent by a client, not by the broker');
    expect(decodeClientFrame(frameOf('METADATA')).type).toBe('METADATA');
    expect(decodeBrokerFrame(frameOf('OK')).type).toBe('OK');
  });
});

describe('zero copy', () => {
  it('returns PRODUCE records and RECORDS batches as views of the frame', () => {
    const produce = frameOf('PRODUCE');
    const decoded = decodeFrame(produce);
    if (decoded.type !== 'PRODUCE') throw new Error('expected PRODUCE');
    expect(decoded.records.bytes.buffer).toBe(produce.buffer);
    expect(decoded.records.bytes.byteOffset + decoded.records.bytes.length).toBe(produce.byteOffset + produce.length);
    validateRecords(decoded.records, DEFAULT_RECORD_LIMITS);

    const records = frameOf('RECORDS');
    const pushed = decodeFrame(records);
    if (pushed.type !== 'RECORDS') throw new Error('expected RECORDS');
    for (const batch of pushed.batches) expect(batch.buffer).toBe(records.buffer);
  });

  it('encodeFrameParts references the payload instead of copying it', () => {
    const frame = sampleFrames()[0]!;
    if (frame.type !== 'PRODUCE') throw new Error('expected PRODUCE');
    const parts = encodeFrameParts(frame);
    expect(parts).toHaveLength(2);
    expect(parts[1]).toBe(frame.records.bytes);
  });
});

describe('encodeFrame refuses values the wire cannot carry', () => {
  it.each([
    [{ type: 'REFRESHED', requestId: 1, expiresAt: 2 ** 53 }, /expiresAt must be an integer/],
    [{ type: 'OK', requestId: 2 ** 32 }, /requestId must be an integer/],
    [{ type: 'CREDIT', requestId: 1, subscriptionId: -1, creditBytes: 1 }, /subscriptionId must be an integer/],
    [{ type: 'METADATA', requestId: 1, topic: 'x'.repeat(70_000) }, /name length must be an integer/],
    [{ type: 'RECORDS', subscriptionId: 1, highWatermark: 0, batches: [Buffer.alloc(50)] }, /batch 0 is not one whole batch/],
  ] as [Frame, RegExp][])('$0.type with a bad value', (frame, reason) => {
    expect(codeOf(() => encodeFrame(frame))).toBe('SEALBUS_ERR_PROTOCOL_FRAME');
    expect(reasonOf(() => encodeFrame(frame))).toMatch(reason);
  });
});

describe('peekFrameHeader', () => {
  it('reads the header of a frame whose body is refused', () => {
    const bytes = frameOf('PRODUCE');
    expect(peekFrameHeader(bytes)).toEqual({ version: 1, typeCode: 1, type: 'PRODUCE', requestId: 1 });
    expect(peekFrameHeader(bytes.subarray(0, 5))).toBeNull();
  });
});

describe('decodeFrame refuses malformed group frames', () => {
  it('refuses an unknown strategy', () => {
    const bytes = Buffer.from(encodeFrame({ type: 'JOIN_GROUP', requestId: 1, group: 'g', strategy: 'range', sessionTimeoutMs: 1, rebalanceTimeoutMs: 1, topics: [] }));
    bytes[6 + 2 + 1] = 7;
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: JOIN_GROUP: unknown strategy 7');
  });

  it('refuses more topics than a join may name, and forged counts, before allocating', () => {
    const topics = Array.from({ length: DEFAULT_FRAME_LIMITS.maxTopicsPerJoin + 1 }, (_, i) => `t${i}`);
    const join = encodeFrame({ type: 'JOIN_GROUP', requestId: 1, group: 'g', strategy: 'range', sessionTimeoutMs: 1, rebalanceTimeoutMs: 1, topics });
    expect(reasonOf(() => decodeFrame(join))).toBe('Malformed frame: JOIN_GROUP: 101 topics; at most 100 are allowed');
    const commit = Buffer.from(encodeFrame({ type: 'COMMIT', requestId: 1, group: 'g', memberId: 'm', generation: 1, offsets: [] }));
    commit.writeUInt32LE(5_000, commit.length - 4);
    expect(reasonOf(() => decodeFrame(commit))).toBe('Malformed frame: COMMIT: 0 bytes cannot hold 5000 offsets');
    const assignment = Buffer.from(encodeFrame({ type: 'ASSIGNMENT', group: 'g', memberId: 'm', generation: 1, partitions: [] }));
    assignment.writeUInt32LE(0xffff_ffff, assignment.length - 4);
    expect(reasonOf(() => decodeFrame(assignment))).toBe('Malformed frame: ASSIGNMENT: 0 bytes cannot hold 4294967295 partitions');
  });

  it('refuses a member id over its limit and a non-canonical absent committed offset', () => {
    const heartbeat = encodeFrame({ type: 'HEARTBEAT', requestId: 1, group: 'g', memberId: 'm'.repeat(65), generation: 1 });
    expect(reasonOf(() => decodeFrame(heartbeat))).toBe('Malformed frame: HEARTBEAT: memberId is 65 bytes; at most 64 are allowed');
    const bytes = Buffer.from(
      encodeFrame({ type: 'ASSIGNMENT', group: 'g', memberId: 'm', generation: 1, partitions: [{ topic: 't', partition: 0, committedOffset: null }] }),
    );
    bytes[bytes.length - 8] = 1; // low byte of the committed offset, with the flag saying absent
    expect(reasonOf(() => decodeFrame(bytes))).toBe('Malformed frame: ASSIGNMENT: committedOffset must be 0 when absent');
  });

  it('refuses a group push with a requestId, and a group request without one', () => {
    const push = Buffer.from(encodeFrame({ type: 'GROUP_ERROR', group: 'g', memberId: 'm', code: 'X', message: 'y', retriable: false }));
    push.writeUInt32LE(9, 2);
    expect(reasonOf(() => decodeFrame(push))).toBe('Malformed frame: GROUP_ERROR: a push carries requestId 0, got 9');
    const leave = Buffer.from(encodeFrame({ type: 'LEAVE_GROUP', requestId: 3, group: 'g', memberId: 'm' }));
    leave.writeUInt32LE(0, 2);
    expect(codeOf(() => decodeFrame(leave))).toBe('SEALBUS_ERR_PROTOCOL_FRAME');
  });
});
