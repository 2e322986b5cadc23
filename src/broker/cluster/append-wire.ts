/**
 * An append forwarded to the broker that writes the partition, as one message-bus request:
 *
 *   u32 (big-endian) length of the header | header, JSON | the encoded records section
 *
 * The header names the partition and the producer's stamp; the records travel as their bytes, not
 * re-encoded. What arrives is parsed with the safe JSON parser under tight limits and checked for
 * shape; the owner then validates the records as a local append does (the store checks them).
 */
import { SealbusError } from '../../errors/index.js';
import { parseJson, type JsonLimits } from '../../json/safe-json.js';
import type { AppendRequest, AppendResult, ProducerStamp } from '../../log/types.js';

export interface ForwardedAppend {
  readonly topic: string;
  readonly partition: number;
  readonly request: AppendRequest;
}

/** A topic name is at most a few hundred bytes: the header is far below this. */
export const MAX_HEADER_BYTES = 4096;
const LIMITS: Partial<JsonLimits> = { maxTotalBytes: MAX_HEADER_BYTES, maxDepth: 2, maxStringBytes: 1024, maxKeys: 8, maxArrayItems: 0 };

function malformed(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `malformed forwarded append from another broker: ${reason}` });
}

export function encodeForward(topic: string, partition: number, request: AppendRequest): Buffer {
  const header = Buffer.from(
    JSON.stringify({ topic, partition, count: request.records.count, ...(request.producer !== undefined && { producer: stampOf(request.producer) }) }),
    'utf8',
  );
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, request.records.bytes]);
}

function stampOf(stamp: ProducerStamp): ProducerStamp {
  return { producerId: stamp.producerId, epoch: stamp.epoch, baseSequence: stamp.baseSequence };
}

type Json = Record<string, unknown>;

function objectOf(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('not an object');
  return value as Json;
}

function int(o: Json, key: string): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw malformed(`${key} is not an integer`);
  return value;
}

/** Parses a forwarded append; refuses one over `maxBytes` (the bus's max payload) or malformed. */
export function parseForward(data: Uint8Array, maxBytes: number): ForwardedAppend {
  if (data.byteLength > maxBytes) throw malformed(`${data.byteLength} bytes, over the limit of ${maxBytes}`);
  if (data.byteLength < 4) throw malformed('too short');
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const headerLength = bytes.readUInt32BE(0);
  if (headerLength > MAX_HEADER_BYTES || 4 + headerLength > bytes.length) throw malformed('bad header length');
  const o = objectOf(parseJson(bytes.subarray(4, 4 + headerLength), 'forwarded append', LIMITS));
  const topic = o['topic'];
  if (typeof topic !== 'string') throw malformed('topic is not a string');
  const partition = int(o, 'partition');
  const count = int(o, 'count');
  let producer: ProducerStamp | undefined;
  if (o['producer'] !== undefined) {
    const p = objectOf(o['producer']);
    producer = { producerId: int(p, 'producerId'), epoch: int(p, 'epoch'), baseSequence: int(p, 'baseSequence') };
  }
  // A copy: the store may keep the records queued after the bus has reused its buffer.
  const records = { count, bytes: Buffer.from(bytes.subarray(4 + headerLength)) };
  return { topic, partition, request: producer === undefined ? { records } : { records, producer } };
}

/** The owner's AppendResult as it comes back in a reply's value. */
export function parseResult(value: unknown): AppendResult {
  const o = objectOf(value);
  if (typeof o['duplicate'] !== 'boolean') throw malformed('duplicate is not a boolean');
  return { baseOffset: int(o, 'baseOffset'), count: int(o, 'count'), timestamp: int(o, 'timestamp'), duplicate: o['duplicate'] };
}
