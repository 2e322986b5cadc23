import { SealbusError } from '../errors/index.js';
import { encodeRecords, type RecordInput } from '../log/record-batch.js';
import type { EncodedRecords } from '../log/types.js';
import { asSealbusError } from './backoff.js';
import type { RecordMetadata } from './records.js';

/** Encodes a batch's records, sealing them for an encrypted topic: at once, or later (in a worker thread). */
export type BatchEncoder = (topic: string, records: readonly RecordInput[]) => EncodedRecords | Promise<EncodedRecords>;

const plainEncoder: BatchEncoder = (_topic, records) => encodeRecords(records);

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
  /** Set once encoded (sealed); the same bytes are sent on every attempt. */
  encoded: EncodedRecords | null = null;
  /** Pending while the batch is sealed in a worker thread. */
  sealing: Promise<void> | null = null;
  /** Why sealing failed: the batch is rejected with it in its turn. */
  sealFailure: SealbusError | null = null;
  /**
   * Idempotent producers: the sequence of the first record, given when first sent and kept for every
   * retry (a retry of a stored batch must be recognised as one); null until then, or once known not
   * stored and to be numbered again.
   */
  sequence: number | null = null;
  /** An attempt went unanswered or failed on the broker's side (5xx): the batch may be stored. */
  maybeStored = false;
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
   * Encodes the records once, as every attempt sends them; `encode` seals them for an end-to-end
   * encrypted topic. Returns null when that is done, else a promise that settles when it is (a failure
   * is kept in `sealFailure`). Throws what `encode` throws. Set `encoded` back to null to encode anew
   * (new recipients).
   */
  seal(encode: BatchEncoder = plainEncoder): Promise<void> | null {
    if (this.encoded !== null) return null;
    if (this.sealing !== null) return this.sealing;
    const result = encode(this.topic, this.records.map((record) => record.input));
    if (!(result instanceof Promise)) {
      this.encoded = result;
      return null;
    }
    this.sealing = result.then(
      (encoded) => {
        this.encoded = encoded;
        this.sealing = null;
      },
      (err: unknown) => {
        this.sealFailure = asSealbusError(err);
        this.sealing = null;
      },
    );
    return this.sealing;
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
