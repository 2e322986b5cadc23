import { BATCH_HEADER_BYTES, BATCH_PREFIX_BYTES } from '../log/record-batch.js';
import { SealbusError } from '../errors/index.js';
import {
  DEFAULT_FRAME_LIMITS,
  ERROR_FLAG_RETRY_AFTER,
  FRAME_HEADER_BYTES,
  FRAME_TYPE_CODES,
  NO_PRODUCER_EPOCH,
  PRODUCE_FLAG_STAMP,
  PROTOCOL_VERSION,
  type FrameLimits,
  type FrameTypeName,
} from './constants.js';
import { FrameReader, malformed } from './frame-reader.js';
import type { BrokerFrame, ClientFrame, Frame, StartPosition } from './frame-types.js';
import { GROUP_FRAME_TYPES, decodeGroupBody, type GroupFrame } from './group-codec.js';

/** The fixed header of a frame, readable even when the body is not. */
export interface FrameHeader {
  readonly version: number;
  readonly typeCode: number;
  /** The frame's name, or null for a type this version does not know. */
  readonly type: FrameTypeName | null;
  readonly requestId: number;
}

const NAMES_BY_CODE = new Map<number, FrameTypeName>(
  Object.entries(FRAME_TYPE_CODES).map(([name, code]) => [code, name as FrameTypeName]),
);

const PUSHES = new Set<FrameTypeName>(['RECORDS', 'SUBSCRIPTION_ERROR', 'TOKEN_EXPIRING', 'ASSIGNMENT', 'GROUP_ERROR']);

/**
 * Reads the 6-byte header without checking the body, or null when the frame is shorter than that.
 * The server uses it to answer a refused PRODUCE by its requestId.
 */
export function peekFrameHeader(buf: Buffer): FrameHeader | null {
  if (buf.length < FRAME_HEADER_BYTES) return null;
  const typeCode = buf[1]!;
  return { version: buf[0]!, typeCode, type: NAMES_BY_CODE.get(typeCode) ?? null, requestId: buf.readUInt32LE(2) };
}

function checkRequestId(type: FrameTypeName, requestId: number): void {
  if (type === 'ERROR') return;
  if (PUSHES.has(type)) {
    if (requestId !== 0) throw malformed(`${type}: a push carries requestId 0, got ${requestId}`);
  } else if (requestId === 0) {
    throw malformed(`${type}: requestId 0 is reserved for pushes and session errors`);
  }
}

/**
 * Decodes one untrusted binary frame. Throws SEALBUS_ERR_PROTOCOL_VERSION for another version,
 * SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE above `limits.maxFrameBytes`, SEALBUS_ERR_BATCH_TOO_LARGE
 * for a PRODUCE over `limits.maxRecordsPerProduce`, and SEALBUS_ERR_PROTOCOL_FRAME for anything
 * else wrong (unknown type, cut short, trailing bytes, u64 at or above 2^53, a string over its
 * limit or not valid UTF-8, a non-canonical value). It never throws anything but a SealbusError.
 *
 * Decoding is canonical: whatever it accepts, `encodeFrame` turns back into the same bytes.
 * PRODUCE records and RECORDS batches are views into `buf`, not copies.
 */
export function decodeFrame(buf: Buffer, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Frame {
  if (buf.length > limits.maxFrameBytes) {
    throw new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE', { size: buf.length, limit: limits.maxFrameBytes });
  }
  if (buf.length >= 1 && buf[0] !== PROTOCOL_VERSION) {
    throw new SealbusError('SEALBUS_ERR_PROTOCOL_VERSION', { version: buf[0], supported: PROTOCOL_VERSION });
  }
  const header = peekFrameHeader(buf);
  if (header === null) throw malformed(`a frame is at least ${FRAME_HEADER_BYTES} bytes, got ${buf.length}`);
  if (header.type === null) throw malformed(`unknown frame type 0x${header.typeCode.toString(16).padStart(2, '0')}`);
  checkRequestId(header.type, header.requestId);
  const reader = new FrameReader(buf, header.type, FRAME_HEADER_BYTES);
  const frame = decodeBody(header.type, header.requestId, reader, limits);
  reader.end();
  return frame;
}

/** `decodeFrame` for the broker's side: a broker-to-client frame from a client is malformed. */
export function decodeClientFrame(buf: Buffer, limits: FrameLimits = DEFAULT_FRAME_LIMITS): ClientFrame {
  const frame = decodeFrame(buf, limits);
  if (FRAME_TYPE_CODES[frame.type] >= 0x80) throw malformed(`${frame.type} is sent by the broker, not by a client`);
  return frame as ClientFrame;
}

/** `decodeFrame` for the SDK's side: a client-to-broker frame from the broker is malformed. */
export function decodeBrokerFrame(buf: Buffer, limits: FrameLimits = DEFAULT_FRAME_LIMITS): BrokerFrame {
  const frame = decodeFrame(buf, limits);
  if (FRAME_TYPE_CODES[frame.type] < 0x80) throw malformed(`${frame.type} is sent by a client, not by the broker`);
  return frame as BrokerFrame;
}

function decodeStart(reader: FrameReader): StartPosition {
  const kind = reader.u8('startKind');
  const value = reader.u64('startValue');
  switch (kind) {
    case 0:
      return { kind: 'offset', offset: value };
    case 3:
      return { kind: 'timestamp', timestamp: value };
    case 1:
    case 2:
      if (value !== 0) throw malformed(`SUBSCRIBE: startValue must be 0 for startKind ${kind}`);
      return { kind: kind === 1 ? 'earliest' : 'latest' };
    default:
      throw malformed(`SUBSCRIBE: unknown startKind ${kind}`);
  }
}

function decodeProduce(requestId: number, reader: FrameReader, limits: FrameLimits): Frame {
  const topic = reader.str16('topic', limits.maxTopicBytes);
  const partition = reader.u32('partition');
  const flags = reader.u8('flags');
  if ((flags & ~PRODUCE_FLAG_STAMP) !== 0) throw malformed(`PRODUCE: unknown flags 0x${flags.toString(16)}`);
  let producer = null;
  if (flags === PRODUCE_FLAG_STAMP) {
    const producerId = reader.u64('producerId');
    const epoch = reader.u16('epoch');
    const baseSequence = reader.i32('baseSequence');
    if (epoch === NO_PRODUCER_EPOCH) throw malformed(`PRODUCE: epoch ${NO_PRODUCER_EPOCH} is reserved`);
    if (baseSequence < 0) throw malformed('PRODUCE: baseSequence must not be negative');
    producer = { producerId, epoch, baseSequence };
  }
  const count = reader.u32('recordCount');
  if (count === 0) throw malformed('PRODUCE: a batch holds at least one record');
  if (count > limits.maxRecordsPerProduce) {
    throw new SealbusError('SEALBUS_ERR_BATCH_TOO_LARGE', {
      size: `${count} records`,
      limit: `${limits.maxRecordsPerProduce} records`,
    });
  }
  // Each record is at least 15 bytes (u32 length + 11 fixed bytes); fewer bytes cannot hold them.
  if (reader.remaining < count * 15) throw malformed(`PRODUCE: ${reader.remaining} bytes cannot hold ${count} records`);
  return { type: 'PRODUCE', requestId, topic, partition, producer, records: { count, bytes: reader.rest() } };
}

function decodeRecords(reader: FrameReader): Frame {
  const subscriptionId = reader.u32('subscriptionId');
  const highWatermark = reader.u64('highWatermark');
  const batchCount = reader.u32('batchCount');
  // Checked before allocating, so a forged count cannot make us allocate a huge array.
  if (batchCount * BATCH_HEADER_BYTES > reader.remaining) {
    throw malformed(`RECORDS: ${reader.remaining} bytes cannot hold ${batchCount} batches`);
  }
  const batches = new Array<Buffer>(batchCount);
  for (let index = 0; index < batchCount; index++) {
    if (reader.remaining < BATCH_HEADER_BYTES) throw malformed(`RECORDS: batch ${index} is cut short`);
    const total = BATCH_PREFIX_BYTES + reader.peekU32(8);
    if (total < BATCH_HEADER_BYTES) throw malformed(`RECORDS: batch ${index} is shorter than a batch header`);
    if (total > reader.remaining) throw malformed(`RECORDS: batch ${index} of ${total} bytes runs past the frame`);
    batches[index] = reader.view(total, `batch ${index}`);
  }
  return { type: 'RECORDS', subscriptionId, highWatermark, batches };
}

function decodeBody(type: FrameTypeName, requestId: number, reader: FrameReader, limits: FrameLimits): Frame {
  if (GROUP_FRAME_TYPES.has(type)) return decodeGroupBody(type as GroupFrame['type'], requestId, reader, limits);
  return decodeCoreBody(type as Exclude<FrameTypeName, GroupFrame['type']>, requestId, reader, limits);
}

function decodeCoreBody(
  type: Exclude<FrameTypeName, GroupFrame['type']>,
  requestId: number,
  reader: FrameReader,
  limits: FrameLimits,
): Frame {
  switch (type) {
    case 'PRODUCE':
      return decodeProduce(requestId, reader, limits);
    case 'SUBSCRIBE': {
      const subscriptionId = reader.u32('subscriptionId');
      const topic = reader.str16('topic', limits.maxTopicBytes);
      const partition = reader.u32('partition');
      const start = decodeStart(reader);
      return { type, requestId, subscriptionId, topic, partition, start, creditBytes: reader.u32('creditBytes') };
    }
    case 'CREDIT':
      return { type, requestId, subscriptionId: reader.u32('subscriptionId'), creditBytes: reader.u32('creditBytes') };
    case 'UNSUBSCRIBE':
      return { type, requestId, subscriptionId: reader.u32('subscriptionId') };
    case 'REFRESH':
      return { type, requestId, token: reader.str32('token', limits.maxTokenBytes) };
    case 'METADATA':
      return { type, requestId, topic: reader.str16('topic', limits.maxTopicBytes) };
    case 'INIT_PRODUCER':
      return { type, requestId, name: reader.str16('name', limits.maxProducerNameBytes) };
    case 'PRODUCE_ACK': {
      const baseOffset = reader.u64('baseOffset');
      const count = reader.u32('count');
      const timestamp = reader.u64('timestamp');
      return { type, requestId, baseOffset, count, timestamp, duplicate: reader.bool('duplicate') };
    }
    case 'SUBSCRIBED': {
      const subscriptionId = reader.u32('subscriptionId');
      const startOffset = reader.u64('startOffset');
      return { type, requestId, subscriptionId, startOffset, highWatermark: reader.u64('highWatermark') };
    }
    case 'RECORDS':
      return decodeRecords(reader);
    case 'REFRESHED':
      return { type, requestId, expiresAt: reader.u64('expiresAt') };
    case 'METADATA_RESULT': {
      const topic = reader.str16('topic', limits.maxTopicBytes);
      const partitions = reader.u32('partitions');
      const maxRecordBytes = reader.u32('maxRecordBytes');
      const valueSchemaId = reader.u64('valueSchemaId');
      const keySchemaId = reader.u64('keySchemaId');
      return { type, requestId, topic, partitions, maxRecordBytes, ...(valueSchemaId !== 0 && { valueSchemaId }), ...(keySchemaId !== 0 && { keySchemaId }) };
    }
    case 'PRODUCER': {
      const producerId = reader.u64('producerId');
      const epoch = reader.u16('epoch');
      if (epoch === NO_PRODUCER_EPOCH) throw malformed(`PRODUCER: epoch ${NO_PRODUCER_EPOCH} is reserved`);
      return { type, requestId, producerId, epoch };
    }
    case 'SUBSCRIPTION_ERROR': {
      const subscriptionId = reader.u32('subscriptionId');
      const code = reader.str16('code', limits.maxErrorCodeBytes);
      const message = reader.str32('message', limits.maxErrorMessageBytes);
      return { type, subscriptionId, code, message, retriable: reader.bool('retriable') };
    }
    case 'TOKEN_EXPIRING':
      return { type, expiresAt: reader.u64('expiresAt') };
    case 'ERROR': {
      const code = reader.str16('code', limits.maxErrorCodeBytes);
      const message = reader.str32('message', limits.maxErrorMessageBytes);
      // Bit 0 retriable, bit 1 a retry-after hint follows: an ERROR without a hint is the same bytes as before hints.
      const flags = reader.u8('flags');
      if ((flags & ~(1 | ERROR_FLAG_RETRY_AFTER)) !== 0) throw malformed(`ERROR: unknown flags 0x${flags.toString(16)}`);
      const retriable = (flags & 1) === 1;
      if ((flags & ERROR_FLAG_RETRY_AFTER) === 0) return { type, requestId, code, message, retriable };
      return { type, requestId, code, message, retriable, retryAfterMs: reader.u32('retryAfterMs') };
    }
    case 'OK':
      return { type, requestId };
  }
}
