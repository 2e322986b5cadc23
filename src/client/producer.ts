import { SealbusError } from '../errors/index.js';
import { StickyPartitioner, partitionForKey } from '../log/partitioner.js';
import { topicNameProblem } from '../log/topic-name.js';
import { DEFAULT_FRAME_LIMITS, DEFAULT_SESSION_LIMITS } from '../protocol/index.js';
import { DEFAULT_RETRY, asSealbusError, withRetries, type RetryOptions } from './backoff.js';
import type { ConnectionOptions } from './connection-options.js';
import type { BatchEncoder, PendingRecord, ProducerBatch } from './producer-batch.js';
import { topicRecipients } from './admin-keys.js';
import { httpsClient } from './https-client.js';
import { ProducerEncryption, type ProducerEncryptionOptions } from './producer-encryption.js';
import { ProducerSchemas } from './producer-schemas.js';
import { schemaById } from './admin-schemas.js';
import { encodeRecords } from '../log/record-batch.js';
import { ProducerSender } from './producer-sender.js';
import { RecordAccumulator } from './record-accumulator.js';
import { recordBodyBytes, toRecordInput, type ProducerRecord, type RecordMetadata } from './records.js';
import { SessionSource } from './session-source.js';
import type { Transport } from './transport.js';
import { transportFor } from './websocket-transport.js';

/** Options of `Producer`; give `connection` (or, in tests, `transport`). */
export interface ProducerOptions {
  /** Where and as whom to connect; or give `transport` instead. */
  readonly connection?: ConnectionOptions;
  readonly transport?: Transport;
  /** Stamp batches so that retries are never stored twice (default true). */
  readonly idempotent?: boolean;
  /** A stable name fences older instances of the same producer; empty (default) is anonymous. */
  readonly name?: string;
  /** Wait this long for more records before sending a batch that is not full (default 5 ms). */
  readonly lingerMs?: number;
  /** Bytes of one batch's records (default 1 MiB). */
  readonly maxBatchBytes?: number;
  /** Records per batch (default and maximum 10,000). */
  readonly maxBatchRecords?: number;
  /** Batches in flight on the session (default 256; the broker allows 1,024). */
  readonly maxInFlight?: number;
  /** Batches in flight per partition (default 5; 1 when not idempotent, to keep order on retries). */
  readonly maxInFlightPerPartition?: number;
  readonly retry?: Partial<RetryOptions>;
  /** A record not acknowledged this long after it was sent fails (default 120 s). */
  readonly deliveryTimeoutMs?: number;
  /** A request unanswered this long ends the session (default 30 s); batches in flight are retried. */
  readonly requestTimeoutMs?: number;
  readonly random?: () => number;
  readonly clock?: () => number;
  /**
   * End-to-end encryption: the client's keys. Batches of topics that require encryption are then
   * sealed to the topic's recipients and signed (docs/envelope.md); other topics stay plaintext.
   * Needs `connection` (the recipients are fetched from the broker).
   */
  readonly encryption?: ProducerEncryptionOptions;
}

/** Room for the PRODUCE head (header, topic, stamp, counts) inside a frame. */
const PRODUCE_HEAD_ROOM = 1024;

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'producer options', key: name, reason: `must be an integer in [${min}, ${max}]` });
  }
  return value;
}

interface TopicMetadata {
  readonly partitions: number;
  readonly maxRecordBytes: number;
}

/**
 * Produces records over one WebSocket: batched per partition, several batches in flight,
 * retried on retriable errors without reordering or duplicating a partition's records.
 *
 * @example
 * const producer = new Producer({ connection: connectionOptionsFromEnv() });
 * const { partition, offset } = await producer.send({ topic: 'orders', key: 'customer-7', value: JSON.stringify(order) });
 * await producer.close();
 */
export class Producer {
  readonly #sessions: SessionSource;
  readonly #sender: ProducerSender;
  readonly #accumulator: RecordAccumulator;
  readonly #sticky: StickyPartitioner;
  readonly #metadata = new Map<string, TopicMetadata | Promise<TopicMetadata>>();
  readonly #outstanding = new Set<Promise<unknown>>();
  readonly #retry: RetryOptions;
  readonly #random: () => number;
  readonly #maxBatchBytes: number;
  #flushing = 0;
  #closed = false;
  #encryption: ProducerEncryption | null = null;
  readonly #schemas: ProducerSchemas;
  /** Encodes a batch: stamped with its schema ids; on an encrypted topic, sealed and signed for the topic's recipients. */
  #encoder: BatchEncoder;

  constructor(options: ProducerOptions) {
    const transport = options.transport ?? (options.connection === undefined ? null : transportFor(options.connection));
    if (transport === null) {
      throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'producer options', key: 'connection', reason: 'or transport is required' });
    }
    const idempotent = options.idempotent ?? true;
    this.#retry = Object.assign({}, DEFAULT_RETRY, options.retry);
    this.#random = options.random ?? Math.random;
    const clock = options.clock ?? Date.now;
    this.#maxBatchBytes = integerOption('maxBatchBytes', options.maxBatchBytes ?? 1024 * 1024, 1, DEFAULT_FRAME_LIMITS.maxFrameBytes - PRODUCE_HEAD_ROOM);
    this.#sessions = new SessionSource(transport, options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs });
    this.#sender = new ProducerSender(this.#sessions, {
      idempotent,
      name: options.name ?? '',
      maxInFlight: integerOption('maxInFlight', options.maxInFlight ?? 256, 1, DEFAULT_SESSION_LIMITS.maxProduceInFlight),
      maxInFlightPerPartition: idempotent ? integerOption('maxInFlightPerPartition', options.maxInFlightPerPartition ?? 5, 1, 5) : 1,
      retry: this.#retry,
      deliveryTimeoutMs: integerOption('deliveryTimeoutMs', options.deliveryTimeoutMs ?? 120_000, 1, Number.MAX_SAFE_INTEGER),
      random: this.#random,
      clock,
      seal: (batch) => batch.seal(this.#encoder),
      stale: (topic, code) =>
        code === 'SEALBUS_ERR_SCHEMA_STALE' ? this.#learnSchemas(topic) : (this.#encryption?.refresh(topic) ?? Promise.resolve()),
    });
    if (options.encryption !== undefined) {
      if (options.connection === undefined) {
        throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'producer options', key: 'encryption', reason: 'needs connection (to fetch the recipients of topics)' });
      }
      const http = httpsClient(options.connection);
      this.#encryption = new ProducerEncryption(options.encryption, (topic) => topicRecipients(http, topic));
    }
    const http = options.connection === undefined ? null : httpsClient(options.connection);
    const schemas = new ProducerSchemas(http === null ? null : (id) => schemaById(http, id));
    this.#schemas = schemas;
    const encryption = this.#encryption;
    // Records are stamped with their topic's schema ids (validated first when the broker cannot
    // read them), then sealed for an encrypted topic.
    this.#encoder = (topic, records) => {
      const sealed = this.#sealed(topic);
      const stamped = schemas.stamp(topic, records, sealed);
      return encryption === null ? encodeRecords(stamped) : encryption.encode(topic, stamped);
    };
    this.#accumulator = new RecordAccumulator(
      {
        lingerMs: integerOption('lingerMs', options.lingerMs ?? 5, 0, 2 ** 31 - 1),
        maxBatchBytes: this.#maxBatchBytes,
        maxBatchRecords: integerOption('maxBatchRecords', options.maxBatchRecords ?? 10_000, 1, DEFAULT_FRAME_LIMITS.maxRecordsPerProduce),
      },
      (batch) => this.#batchClosed(batch),
      clock,
    );
    this.#sticky = new StickyPartitioner(this.#random);
  }

  /**
   * Queues a record; resolves with its partition and offset once its batch is durable on the
   * broker, or rejects with a SealbusError (`err.code`; `err.retriable` says whether sending it
   * again may succeed).
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    const refused = this.#refusal(record.topic);
    if (refused !== null) return Promise.reject(refused);
    const input = toRecordInput(record);
    let pending!: PendingRecord;
    const promise = new Promise<RecordMetadata>((resolve, reject) => {
      pending = { input, size: 4 + recordBodyBytes(input), resolve, reject };
    });
    this.#outstanding.add(promise);
    const forget = (): void => void this.#outstanding.delete(promise);
    promise.then(forget, forget);
    const metadata = this.#metadata.get(record.topic);
    // Known metadata routes at once; otherwise routing waits in send order on the one lookup.
    if (metadata !== undefined && !(metadata instanceof Promise)) this.#route(record, pending, metadata);
    else this.#lookup(record.topic).then((found) => this.#route(record, pending, found), (err: unknown) => pending.reject(asSealbusError(err)));
    return promise;
  }

  /** Sends every queued record now and resolves once each record sent before this call is settled. */
  async flush(): Promise<void> {
    const waiting = [...this.#outstanding];
    this.#flushing++;
    try {
      this.#accumulator.closeAll();
      await Promise.allSettled(waiting);
    } finally {
      this.#flushing--;
    }
  }

  /**
   * Flushes, then closes the session and ends the encryption worker threads. Sends after close fail
   * with SEALBUS_ERR_CONNECTION_CLOSED.
   */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.flush();
      this.#sender.stop();
      await this.#sessions.close();
    } finally {
      await this.#encryption?.close();
    }
  }

  /** The broker said the schema ids of `topic` are stale: asks its metadata again. */
  async #learnSchemas(topic: string): Promise<void> {
    const reply = await withRetries(async () => (await this.#sessions.get()).request({ type: 'METADATA', topic }), { retry: this.#retry, random: this.#random });
    this.#schemas.learn(topic, reply);
    if (this.#sealed(topic)) await this.#schemas.prepareValidators(topic);
  }

  /** Whether batches of `topic` are sealed (known once the topic was prepared). */
  #sealed(topic: string): boolean {
    return this.#encryption?.requires(topic) ?? false;
  }

  #refusal(topic: string): SealbusError | null {
    if (this.#closed) return new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'the producer is closed' });
    if (this.#sender.fatalError !== null) return this.#sender.fatalError;
    const problem = topicNameProblem(topic);
    return problem === null ? null : new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason: problem });
  }

  #lookup(topic: string): Promise<TopicMetadata> {
    const known = this.#metadata.get(topic);
    if (known !== undefined) return Promise.resolve(known);
    const lookup = withRetries(
      async () => {
        const session = await this.#sessions.get();
        const reply = await session.request({ type: 'METADATA', topic });
        // Whether the topic is sealed, and to whom, and its schemas are known before its first batch closes.
        await this.#encryption?.prepare(topic);
        this.#schemas.learn(topic, reply);
        if (this.#sealed(topic)) await this.#schemas.prepareValidators(topic);
        return { partitions: reply.partitions, maxRecordBytes: reply.maxRecordBytes };
      },
      { retry: this.#retry, random: this.#random },
    );
    this.#metadata.set(topic, lookup);
    lookup.then(
      (found) => this.#metadata.set(topic, found),
      () => this.#metadata.delete(topic),
    );
    return lookup;
  }

  #route(record: ProducerRecord, pending: PendingRecord, metadata: TopicMetadata): void {
    const { topic } = record;
    const bodyBytes = pending.size - 4;
    if (bodyBytes > metadata.maxRecordBytes) {
      pending.reject(new SealbusError('SEALBUS_ERR_RECORD_TOO_LARGE', { index: 0, size: bodyBytes, topic, limit: metadata.maxRecordBytes }));
      return;
    }
    if (pending.size > DEFAULT_FRAME_LIMITS.maxFrameBytes - PRODUCE_HEAD_ROOM) {
      pending.reject(new SealbusError('SEALBUS_ERR_BATCH_TOO_LARGE', { size: pending.size, limit: DEFAULT_FRAME_LIMITS.maxFrameBytes }));
      return;
    }
    let partition: number;
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= metadata.partitions) {
        pending.reject(new SealbusError('SEALBUS_ERR_PARTITION_NOT_FOUND', { topic, partition: record.partition, partitions: metadata.partitions }));
        return;
      }
      partition = record.partition;
    } else if (pending.input.key !== null && pending.input.key !== undefined) {
      partition = partitionForKey(pending.input.key, metadata.partitions);
    } else {
      partition = this.#sticky.partition(topic, metadata.partitions);
    }
    this.#accumulator.append(topic, partition, pending);
    // A record that waited for metadata during a flush must not wait for its linger as well.
    if (this.#flushing > 0) this.#accumulator.closeAll();
  }

  #batchClosed(batch: ProducerBatch): void {
    const metadata = this.#metadata.get(batch.topic);
    if (metadata !== undefined && !(metadata instanceof Promise)) this.#sticky.batchClosed(batch.topic, metadata.partitions, batch.partition);
    this.#sender.enqueue(batch);
  }
}
