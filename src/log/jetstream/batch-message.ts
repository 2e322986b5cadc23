import { SealbusError } from '../../errors/index.js';
import { decodeBatchHeader, verifyBatch } from '../record-batch.js';
import type { ProducerStamp } from '../types.js';

/**
 * One JetStream message holds one stored batch (the exact bytes of record-batch.ts, CRC included).
 * A header repeats what the partition's bookkeeping needs, so that it can be rebuilt from headers
 * alone (a headers-only consumer) without fetching the records:
 *
 *   Sealbus-Batch: 1 <baseOffset> <count> <timestamp> <position> <bytes> <segment> <segmentStart> [<producerId> <epoch> <baseSequence>]
 *
 * `position` is the partition's byte count before this batch and `bytes` the batch's size, so that
 * sizes and retention need no scan; `segment` numbers the virtual segment the batch belongs to and
 * `segmentStart` is the position where that segment began (segments exist only as these numbers:
 * retention removes whole segments, as the file store does). Nothing read from NATS is trusted: a
 * full message must match its header and its CRC, and each message must continue the one before.
 */
export const BATCH_META_HEADER = 'Sealbus-Batch';
const VERSION = '1';

export interface BatchMeta {
  /** Stream sequence of the message. */
  readonly seq: number;
  readonly baseOffset: number;
  readonly count: number;
  readonly timestamp: number;
  readonly position: number;
  readonly bytes: number;
  readonly segment: number;
  readonly segmentStart: number;
  readonly producer: ProducerStamp | null;
}

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export function dataInvalid(where: PartitionRef, seq: number, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_STORE_DATA_INVALID', { topic: where.topic, partition: where.partition, seq, reason });
}

export function encodeBatchMeta(meta: Omit<BatchMeta, 'seq'>): string {
  const fields = [VERSION, meta.baseOffset, meta.count, meta.timestamp, meta.position, meta.bytes, meta.segment, meta.segmentStart];
  if (meta.producer !== null) fields.push(meta.producer.producerId, meta.producer.epoch, meta.producer.baseSequence);
  return fields.join(' ');
}

function integer(field: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(field)) return Number.NaN;
  const value = Number(field);
  return Number.isSafeInteger(value) ? value : Number.NaN;
}

/** Parses the header of the message at `seq`; throws SEALBUS_ERR_STORE_DATA_INVALID when it is not one sealbus wrote. */
export function parseBatchMeta(where: PartitionRef, seq: number, value: string | undefined): BatchMeta {
  if (value === undefined || value.length === 0 || value.length > 200) throw dataInvalid(where, seq, `no ${BATCH_META_HEADER} header`);
  const fields = value.split(' ');
  if (fields[0] !== VERSION || (fields.length !== 8 && fields.length !== 11)) throw dataInvalid(where, seq, `unknown ${BATCH_META_HEADER} header`);
  const numbers = fields.slice(1).map(integer);
  if (numbers.some((n) => Number.isNaN(n))) throw dataInvalid(where, seq, `malformed ${BATCH_META_HEADER} header`);
  const [baseOffset, count, timestamp, position, bytes, segment, segmentStart, producerId, epoch, baseSequence] = numbers as [
    number, number, number, number, number, number, number, number?, number?, number?,
  ];
  if (count < 1 || baseOffset + count > Number.MAX_SAFE_INTEGER) throw dataInvalid(where, seq, 'impossible record count');
  if (segmentStart > position) throw dataInvalid(where, seq, 'segment starts after its batch');
  const producer = producerId === undefined ? null : { producerId, epoch: epoch!, baseSequence: baseSequence! };
  return { seq, baseOffset, count, timestamp, position, bytes, segment, segmentStart, producer };
}

/**
 * The stored batch of a full message, checked against its header: CRC, offsets, count, timestamp
 * and producer stamp. A message that fails is never served.
 */
export function verifiedBatch(where: PartitionRef, meta: BatchMeta, data: Uint8Array): Buffer {
  const batch = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (batch.length !== meta.bytes || !verifyBatch(batch)) throw dataInvalid(where, meta.seq, 'the batch fails its checksum or its size');
  const header = decodeBatchHeader(batch)!;
  const producer = meta.producer;
  const matches =
    header.baseOffset === meta.baseOffset &&
    header.recordCount === meta.count &&
    header.timestamp === meta.timestamp &&
    (producer === null
      ? header.producerEpoch === null && header.baseSequence === null
      : header.producerId === producer.producerId && header.producerEpoch === producer.epoch && header.baseSequence === producer.baseSequence);
  if (!matches) throw dataInvalid(where, meta.seq, 'the batch does not match its header');
  return batch;
}
