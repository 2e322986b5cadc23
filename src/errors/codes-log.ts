import type { ErrorTable } from './error-spec.js';

/** Errors of the log store: topics, partitions, records, storage. */
export const logErrors = {
  SEALBUS_ERR_TOPIC_NAME_INVALID: { status: 400, retriable: false, message: 'Invalid topic name: {reason}' },
  SEALBUS_ERR_TOPIC_NOT_FOUND: { status: 404, retriable: false, message: 'Topic "{topic}" does not exist' },
  SEALBUS_ERR_TOPIC_EXISTS: { status: 409, retriable: false, message: 'Topic "{topic}" already exists' },
  SEALBUS_ERR_TOPIC_CONFIG_INVALID: { status: 400, retriable: false, message: 'Invalid topic setting {key}: {reason}' },
  SEALBUS_ERR_PARTITION_NOT_FOUND: {
    status: 404,
    retriable: false,
    message: 'Topic "{topic}" has no partition {partition} (it has {partitions})',
  },
  SEALBUS_ERR_RECORD_TOO_LARGE: {
    status: 413,
    retriable: false,
    message: 'Record {index} is {size} bytes; topic "{topic}" accepts at most {limit}',
  },
  SEALBUS_ERR_BATCH_TOO_LARGE: { status: 413, retriable: false, message: 'Batch of {size} exceeds the limit of {limit}' },
  SEALBUS_ERR_BATCH_INVALID: { status: 400, retriable: false, message: 'Malformed record batch: {reason}' },
  SEALBUS_ERR_OFFSET_OUT_OF_RANGE: {
    status: 416,
    retriable: false,
    message: 'Offset {offset} is outside [{logStartOffset}, {highWatermark}] of {topic}/{partition}',
  },
  SEALBUS_ERR_RECORDS_CORRUPTED: {
    status: 500,
    retriable: false,
    message: 'Offsets {from}..{to} of {topic}/{partition} failed their checksum and are quarantined; the next readable offset is {next}',
  },
  SEALBUS_ERR_PRODUCER_FENCED: {
    status: 409,
    retriable: false,
    message: 'Producer {producerId} epoch {epoch} was fenced by a newer instance (epoch {currentEpoch})',
  },
  SEALBUS_ERR_PRODUCER_SEQUENCE_GAP: {
    status: 409,
    retriable: false,
    message: 'Producer {producerId} sent sequence {sequence} on {topic}/{partition}; expected {expected}',
  },
  SEALBUS_ERR_PRODUCER_UNKNOWN: { status: 409, retriable: false, message: 'Producer {producerId} is not registered' },
  SEALBUS_ERR_STORAGE_FULL: {
    status: 507,
    retriable: true,
    message: 'No space left on the device holding {topic}/{partition}; nothing of this batch was written',
  },
  SEALBUS_ERR_STORAGE_IO: { status: 500, retriable: false, message: 'Storage error on {topic}/{partition}: {reason}' },
  SEALBUS_ERR_PARTITION_READ_ONLY: {
    status: 503,
    retriable: false,
    message: 'Partition {topic}/{partition} is read-only after a failed fsync; restart the broker after checking the disk',
  },
  SEALBUS_ERR_STORE_CLOSED: { status: 503, retriable: true, message: 'The log store is closed' },
  SEALBUS_ERR_STORE_UNAVAILABLE: {
    status: 503,
    retriable: true,
    message: 'The cluster store did not answer ({what}): {reason}',
  },
  SEALBUS_ERR_STORE_CONFLICT: {
    status: 503,
    retriable: true,
    message: 'Brokers kept racing to update {what}; nothing was written',
  },
  SEALBUS_ERR_STORE_DATA_INVALID: {
    status: 500,
    retriable: false,
    message: 'Message {seq} of {topic}/{partition} in the cluster store is not a valid sealbus batch ({reason}); it is not served',
  },
  SEALBUS_ERR_STORE_LOCKED: {
    status: 503,
    retriable: false,
    message: 'The data directory {dir} is in use by another process (pid {pid})',
  },
} as const satisfies ErrorTable;
