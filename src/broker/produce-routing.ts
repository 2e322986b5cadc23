/**
 * What the produce path checks and decides before a batch is authorized further: the broker-wide
 * batch limits, and for records produced through the HTTP API, their partition (explicit, else by
 * key hash as Kafka does, else round-robin per topic) and the headers the broker adds.
 */
import { SealbusError } from '../errors/index.js';
import type { EncodedRecords, RecordHeader, RecordInput } from '../log/index.js';
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

/** A record produced through the HTTP API: the broker picks the partition when none is given. */
export interface ProduceRecord extends RecordInput {
  readonly partition?: number;
}

/** The records of one partition, with where each stands in the request. */
export interface PartitionGroup {
  readonly indexes: number[];
  readonly records: RecordInput[];
}

/** Each record with the headers of `added` it does not carry itself (by name), after its own. */
export function withHeaders(records: readonly ProduceRecord[], added: readonly RecordHeader[]): readonly ProduceRecord[] {
  if (added.length === 0) return records;
  return records.map((record) => {
    const own = record.headers ?? [];
    const headers = [...own, ...added.filter((header) => !own.some((mine) => mine.name === header.name))];
    return { value: record.value, headers, ...(record.key !== undefined && { key: record.key }), ...(record.partition !== undefined && { partition: record.partition }) };
  });
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

  /** Routes each record (as `route`) and groups them by partition, in the order given. */
  group(topic: string, records: readonly ProduceRecord[], partitions: number): Map<number, PartitionGroup> {
    const groups = new Map<number, PartitionGroup>();
    records.forEach((record, index) => {
      const partition = this.route(topic, record, partitions);
      let group = groups.get(partition);
      if (group === undefined) groups.set(partition, (group = { indexes: [], records: [] }));
      group.indexes.push(index);
      group.records.push(record);
    });
    return groups;
  }
}
