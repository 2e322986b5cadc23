import type { LogRecord, RecordHeader, RecordInput } from '../log/record-batch.js';
import type { OpenedRecords, VerifiedProducer } from './consumer-decryption.js';

/** Bytes as the SDK accepts them: a string is encoded as UTF-8. */
export type BytesInput = Buffer | Uint8Array | string;

/** A record to produce. */
export interface ProducerRecord {
  readonly topic: string;
  /** Records with the same key go to the same partition (murmur2, as Kafka). */
  readonly key?: BytesInput | null;
  readonly value: BytesInput | null;
  /** Header names are UTF-8, 1 to 256 bytes; a name may repeat. */
  readonly headers?: readonly { readonly name: string; readonly value: BytesInput | null }[];
  /** Overrides the partitioner. */
  readonly partition?: number;
}

/** Where a produced record was stored. */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Broker append time, ms since the epoch. */
  readonly timestamp: number;
}

/**
 * A consumed record. `key`, `value` and header values are views into the received frame, not
 * copies: keeping one alive keeps its whole frame in memory, so copy what you keep for long.
 */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  /** End-to-end encrypted topics: the principal whose signing key signed the record's batch, verified. */
  readonly producer?: VerifiedProducer;
  /** Set (with `onUndecryptable: 'mark'`) when the batch did not verify or open; the value is still sealed. */
  readonly undecryptable?: { readonly code: string; readonly message: string };
}

export function toBuffer(bytes: BytesInput | null | undefined): Buffer | null {
  if (bytes === null || bytes === undefined) return null;
  if (typeof bytes === 'string') return Buffer.from(bytes, 'utf8');
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function toRecordInput(record: ProducerRecord): RecordInput {
  return {
    key: toBuffer(record.key),
    value: toBuffer(record.value),
    headers: (record.headers ?? []).map((header) => ({ name: header.name, value: toBuffer(header.value) })),
  };
}

/**
 * Bytes a record takes after its u32 length field in a records section (see record-batch.ts):
 * what the topic's `maxRecordBytes` limits.
 */
export function recordBodyBytes(record: RecordInput): number {
  let size = 1 + 4 + (record.key?.length ?? 0) + 4 + (record.value?.length ?? 0) + 2;
  for (const header of record.headers ?? []) size += 2 + Buffer.byteLength(header.name, 'utf8') + 4 + (header.value?.length ?? 0);
  return size;
}

export function toConsumedRecord(topic: string, partition: number, record: LogRecord, opened?: OpenedRecords): ConsumedRecord {
  if (opened === undefined) return { topic, partition, ...record };
  if (opened.error !== null) return { topic, partition, ...record, undecryptable: { code: opened.error.code, message: opened.error.message } };
  return opened.producer === null ? { topic, partition, ...record } : { topic, partition, ...record, producer: opened.producer };
}
