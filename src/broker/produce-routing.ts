/**
 * What the produce path checks and decides before a batch is authorized further: the broker-wide
 * batch limits, and the partition of a record produced through the HTTP API (explicit, else by key
 * hash as Kafka does, else round-robin per topic).
 */
import { SealbusError } from '../errors/index.js';
import type { EncodedRecords, RecordInput } from '../log/index.js';
import { partitionForKey } from '../log/partitioner.js';

/** Throws SEALBUS_ERR_BATCH_TOO_LARGE when a records section passes the broker's limits. */
export function checkBatchLimits(records: EncodedRecords, limits: { maxRecordsPerBatch: number; maxBatchBytes: number }): void {
  if (records.count > limits.maxRecordsPerBatch) {
    throw new SealbusError('SEALBUS_ERR_BATCH_TOO_LARGE', { size: `${records.count} records`, limit: `${limits.maxRecordsPerBatch} records` });
  }
  if (records.bytes.length > limits.maxBatchBytes) {
    throw new SealbusError('SEALBUS_ERR_BATCH_TOO_LARGE', { size: `${records.bytes.length} bytes`, limit: `${limits.maxBatchBytes} bytes` });
  }
}

/** Picks partitions for records that may name one; keeps the round-robin position of each topic. */
export class RecordRouter {
  readonly #roundRobin = new Map<string, number>();

  /** Throws SEALBUS_ERR_PARTITION_NOT_FOUND for a named partition the topic does not have. */
  route(topic: string, record: RecordInput & { readonly partition?: number }, partitions: number): number {
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= partitions) {
        throw new SealbusError('SEALBUS_ERR_PARTITION_NOT_FOUND', { topic, partition: record.partition, partitions });
      }
      return record.partition;
    }
    if (record.key !== undefined && record.key !== null) return partitionForKey(record.key, partitions);
    const next = this.#roundRobin.get(topic) ?? 0;
    this.#roundRobin.set(topic, (next + 1) % partitions);
    return next % partitions;
  }
}
