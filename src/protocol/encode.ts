import { BATCH_HEADER_BYTES, BATCH_PREFIX_BYTES } from '../log/record-batch.js';
import { SealbusError } from '../errors/index.js';
import {
  ERROR_FLAG_RETRY_AFTER,
  FRAME_HEADER_BYTES,
  FRAME_TYPE_CODES,
  NO_PRODUCER_EPOCH,
  PRODUCE_FLAG_STAMP,
  START_KIND_CODES,
} from './constants.js';
import { FrameWriter } from './frame-writer.js';
import { GROUP_FRAME_TYPES, encodeGroupFrame, type GroupFrame } from './group-codec.js';
import type { Frame, ProduceFrame, RecordsFrame } from './frame-types.js';

const STAMP_BYTES = 8 + 2 + 4;

function cannotEncode(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason: `cannot encode: ${reason}` });
}

/** requestId 0 is reserved for pushes and session errors, so a request or reply never uses it. */
function requireRequestId(frame: { readonly type: string; readonly requestId: number }): void {
  if (frame.requestId === 0) throw cannotEncode(`${frame.type} needs a requestId other than 0`);
}

/** The PRODUCE head, sized to hold the records too when `withRecords` (they are then copied in). */
function produceWriter(frame: ProduceFrame, withRecords: boolean): FrameWriter {
  requireRequestId(frame);
  const { producer, records } = frame;
  if (records.count < 1) throw cannotEncode('a PRODUCE carries at least one record');
  const topicBytes = Buffer.byteLength(frame.topic);
  const headBytes = FRAME_HEADER_BYTES + 2 + topicBytes + 4 + 1 + (producer === null ? 0 : STAMP_BYTES) + 4;
  const size = headBytes + (withRecords ? records.bytes.length : 0);
  const writer = new FrameWriter(size, FRAME_TYPE_CODES.PRODUCE, frame.requestId).str16(frame.topic, topicBytes, 'topic');
  return writeProduceFields(writer, frame);
}

function writeProduceFields(writer: FrameWriter, frame: ProduceFrame): FrameWriter {
  const { producer } = frame;
  writer.u32(frame.partition, 'partition').u8(producer === null ? 0 : PRODUCE_FLAG_STAMP, 'flags');
  if (producer !== null) {
    if (producer.epoch === NO_PRODUCER_EPOCH) throw cannotEncode(`epoch ${NO_PRODUCER_EPOCH} is reserved`);
    if (producer.baseSequence < 0) throw cannotEncode('baseSequence must not be negative');
    writer.u64(producer.producerId, 'producerId').u16(producer.epoch, 'epoch').i32(producer.baseSequence, 'baseSequence');
  }
  return writer.u32(frame.records.count, 'recordCount');
}

function checkBatch(batch: Buffer, index: number): void {
  if (batch.length < BATCH_HEADER_BYTES || BATCH_PREFIX_BYTES + batch.readUInt32LE(8) !== batch.length) {
    throw cannotEncode(`batch ${index} is not one whole batch (its length field disagrees with its size)`);
  }
}

const RECORDS_HEAD_BYTES = FRAME_HEADER_BYTES + 4 + 8 + 4;

function recordsHead(frame: RecordsFrame, size: number): FrameWriter {
  return new FrameWriter(size, FRAME_TYPE_CODES.RECORDS, 0)
    .u32(frame.subscriptionId, 'subscriptionId')
    .u64(frame.highWatermark, 'highWatermark')
    .u32(frame.batches.length, 'batchCount');
}

/**
 * Encodes a frame into one buffer allocated at its exact size; PRODUCE and RECORDS copy their
 * payload once. Throws SEALBUS_ERR_PROTOCOL_FRAME for a value the wire cannot carry.
 *
 * @example ws.send(encodeFrame({ type: 'METADATA', requestId: 7, topic: 'orders' }))
 */
export function encodeFrame(frame: Frame): Buffer {
  switch (frame.type) {
    case 'PRODUCE':
      return produceWriter(frame, true).bytes(frame.records.bytes).finish();
    case 'RECORDS': {
      let size = RECORDS_HEAD_BYTES;
      frame.batches.forEach((batch, index) => {
        checkBatch(batch, index);
        size += batch.length;
      });
      const writer = recordsHead(frame, size);
      for (const batch of frame.batches) writer.bytes(batch);
      return writer.finish();
    }
    default:
      return encodeSmallFrame(frame);
  }
}

/**
 * Encodes a frame as a list of buffers whose concatenation is `encodeFrame(frame)`: for PRODUCE
 * and RECORDS the payload buffers are referenced, not copied. Useful with a writev-style sink
 * (`socket.cork` + `write`, or WebSocket fragments).
 */
export function encodeFrameParts(frame: Frame): Buffer[] {
  if (frame.type === 'PRODUCE') {
    return [produceWriter(frame, false).finish(), frame.records.bytes];
  }
  if (frame.type === 'RECORDS') {
    frame.batches.forEach(checkBatch);
    return [recordsHead(frame, RECORDS_HEAD_BYTES).finish(), ...frame.batches];
  }
  return [encodeSmallFrame(frame)];
}

function encodeSmallFrame(frame: Exclude<Frame, ProduceFrame | RecordsFrame>): Buffer {
  if (GROUP_FRAME_TYPES.has(frame.type)) {
    const group = frame as GroupFrame;
    if (group.type !== 'ASSIGNMENT' && group.type !== 'GROUP_ERROR') requireRequestId(group);
    return encodeGroupFrame(group);
  }
  return encodeCoreFrame(frame as Exclude<Frame, ProduceFrame | RecordsFrame | GroupFrame>);
}

function encodeCoreFrame(frame: Exclude<Frame, ProduceFrame | RecordsFrame | GroupFrame>): Buffer {
  const code = FRAME_TYPE_CODES[frame.type];
  switch (frame.type) {
    case 'SUBSCRIBE': {
      requireRequestId(frame);
      const topicBytes = Buffer.byteLength(frame.topic);
      const { start } = frame;
      const startValue = start.kind === 'offset' ? start.offset : start.kind === 'timestamp' ? start.timestamp : 0;
      return new FrameWriter(FRAME_HEADER_BYTES + 4 + 2 + topicBytes + 4 + 1 + 8 + 4, code, frame.requestId)
        .u32(frame.subscriptionId, 'subscriptionId')
        .str16(frame.topic, topicBytes, 'topic')
        .u32(frame.partition, 'partition')
        .u8(START_KIND_CODES[start.kind], 'startKind')
        .u64(startValue, 'startValue')
        .u32(frame.creditBytes, 'creditBytes')
        .finish();
    }
    case 'CREDIT':
      requireRequestId(frame);
      return new FrameWriter(FRAME_HEADER_BYTES + 8, code, frame.requestId)
        .u32(frame.subscriptionId, 'subscriptionId')
        .u32(frame.creditBytes, 'creditBytes')
        .finish();
    case 'UNSUBSCRIBE':
      requireRequestId(frame);
      return new FrameWriter(FRAME_HEADER_BYTES + 4, code, frame.requestId).u32(frame.subscriptionId, 'subscriptionId').finish();
    case 'REFRESH': {
      requireRequestId(frame);
      const tokenBytes = Buffer.byteLength(frame.token);
      return new FrameWriter(FRAME_HEADER_BYTES + 4 + tokenBytes, code, frame.requestId).str32(frame.token, tokenBytes, 'token').finish();
    }
    case 'METADATA':
    case 'INIT_PRODUCER': {
      requireRequestId(frame);
      const text = frame.type === 'METADATA' ? frame.topic : frame.name;
      const textBytes = Buffer.byteLength(text);
      return new FrameWriter(FRAME_HEADER_BYTES + 2 + textBytes, code, frame.requestId).str16(text, textBytes, 'name').finish();
    }
    case 'PRODUCE_ACK':
      requireRequestId(frame);
      return new FrameWriter(FRAME_HEADER_BYTES + 8 + 4 + 8 + 1, code, frame.requestId)
        .u64(frame.baseOffset, 'baseOffset')
        .u32(frame.count, 'count')
        .u64(frame.timestamp, 'timestamp')
        .bool(frame.duplicate)
        .finish();
    case 'SUBSCRIBED':
      requireRequestId(frame);
      return new FrameWriter(FRAME_HEADER_BYTES + 4 + 8 + 8, code, frame.requestId)
        .u32(frame.subscriptionId, 'subscriptionId')
        .u64(frame.startOffset, 'startOffset')
        .u64(frame.highWatermark, 'highWatermark')
        .finish();
    case 'REFRESHED':
      requireRequestId(frame);
      return new FrameWriter(FRAME_HEADER_BYTES + 8, code, frame.requestId).u64(frame.expiresAt, 'expiresAt').finish();
    case 'TOKEN_EXPIRING':
      return new FrameWriter(FRAME_HEADER_BYTES + 8, code, 0).u64(frame.expiresAt, 'expiresAt').finish();
    case 'METADATA_RESULT': {
      requireRequestId(frame);
      const topicBytes = Buffer.byteLength(frame.topic);
      return new FrameWriter(FRAME_HEADER_BYTES + 2 + topicBytes + 24, code, frame.requestId)
        .str16(frame.topic, topicBytes, 'topic')
        .u32(frame.partitions, 'partitions')
        .u32(frame.maxRecordBytes, 'maxRecordBytes')
        .u64(frame.valueSchemaId ?? 0, 'valueSchemaId')
        .u64(frame.keySchemaId ?? 0, 'keySchemaId')
        .finish();
    }
    case 'PRODUCER':
      requireRequestId(frame);
      if (frame.epoch === NO_PRODUCER_EPOCH) throw cannotEncode(`epoch ${NO_PRODUCER_EPOCH} is reserved`);
      return new FrameWriter(FRAME_HEADER_BYTES + 10, code, frame.requestId)
        .u64(frame.producerId, 'producerId')
        .u16(frame.epoch, 'epoch')
        .finish();
    case 'SUBSCRIPTION_ERROR':
    case 'ERROR': {
      const codeBytes = Buffer.byteLength(frame.code);
      const messageBytes = Buffer.byteLength(frame.message);
      const subscriptionBytes = frame.type === 'SUBSCRIPTION_ERROR' ? 4 : 0;
      // ERROR's retriable byte is a flags byte: bit 1 says a retry-after hint follows.
      const retryAfterMs = frame.type === 'ERROR' ? frame.retryAfterMs : undefined;
      const size = FRAME_HEADER_BYTES + subscriptionBytes + 2 + codeBytes + 4 + messageBytes + 1 + (retryAfterMs === undefined ? 0 : 4);
      const writer = new FrameWriter(size, code, frame.type === 'ERROR' ? frame.requestId : 0);
      if (frame.type === 'SUBSCRIPTION_ERROR') writer.u32(frame.subscriptionId, 'subscriptionId');
      writer.str16(frame.code, codeBytes, 'code').str32(frame.message, messageBytes, 'message');
      if (retryAfterMs === undefined) return writer.bool(frame.retriable).finish();
      return writer.u8((frame.retriable ? 1 : 0) | ERROR_FLAG_RETRY_AFTER, 'flags').u32(retryAfterMs, 'retryAfterMs').finish();
    }
    case 'OK':
      requireRequestId(frame);
      return new FrameWriter(FRAME_HEADER_BYTES, code, frame.requestId).finish();
  }
}
