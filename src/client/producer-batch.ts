import { SealbusError } from '../errors/index.js';
import { encodeRecords, type RecordInput } from '../log/record-batch.js';
import type { EncodedRecords } from '../log/types.js';
import type { RecordMetadata } from './records.js';

/** One record waiting for its batch's ack. */
export interface PendingRecord {
  readonly input: RecordInput;
  /** Bytes in the records section, length field included. */
  readonly size: number;
  readonly resolve: (metadata: RecordMetadata) => void;
  readonly reject: (error: SealbusError) => void;
}

/** A batch of one topic partition, from its first record to its ack. */
export class ProducerBatch {
  readonly records: PendingRecord[] = [];
  bytes = 0;
  /** Set when the batch closes; the same bytes are sent on every attempt. */
  encoded: EncodedRecords | null = null;
  /** Idempotent producers: the sequence of the first record, assigned when sent. */
  sequence = 0;
  /** Failed attempts so far (retries after a retriable error). */
  attempts = 0;

  constructor(
    /** Increasing per producer: orders the batches of a partition. */
    readonly id: number,
    readonly topic: string,
    readonly partition: number,
    readonly createdAt: number,
  ) {}

  get count(): number {
    return this.records.length;
  }

  /**
   * Encodes the records once, as every attempt sends them; `transform` seals them for an
   * end-to-end encrypted topic. Set `encoded` back to null to encode anew (new recipients).
   */
  seal(transform?: (topic: string, records: readonly RecordInput[]) => readonly RecordInput[]): void {
    if (this.encoded !== null) return;
    const inputs = this.records.map((record) => record.input);
    this.encoded = encodeRecords(transform === undefined ? inputs : transform(this.topic, inputs));
  }

  resolve(baseOffset: number, timestamp: number): void {
    this.records.forEach((record, index) =>
      record.resolve({ topic: this.topic, partition: this.partition, offset: baseOffset + index, timestamp }),
    );
  }

  reject(error: SealbusError): void {
    for (const record of this.records) record.reject(error);
  }
}
