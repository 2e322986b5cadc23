/**
 * The storage contract of sealbus. Every backend (the embedded file store, the in-memory store of
 * the unit tests, and the NATS JetStream store for clusters) implements `LogStore`, and one shared
 * test suite runs against each of them.
 *
 * Offsets are JavaScript numbers: they are exact up to 2^53, and the store refuses to go past that.
 */

/** How an append becomes durable before it is acknowledged. */
export type FsyncPolicy =
  /** fsync (fdatasync) before the ack; appends that arrive while one runs share the next (group commit). */
  | { readonly mode: 'always' }
  /** Ack after the write reaches the page cache; fsync every `intervalMs`. A power loss (not a process crash) may lose that window. */
  | { readonly mode: 'interval'; readonly intervalMs: number };

export interface TopicConfig {
  readonly partitions: number;
  /** Delete sealed segments whose newest record is older than this; null keeps forever. */
  readonly retentionMs: number | null;
  /** Delete the oldest sealed segments while a partition is larger than this; null keeps all. */
  readonly retentionBytes: number | null;
  /** Largest encoded record (key + value + headers) accepted. */
  readonly maxRecordBytes: number;
  /** Largest records section (what one append carries, before the 46-byte batch header) accepted. */
  readonly maxBatchBytes: number;
  /** Roll the active segment once it reaches this size. */
  readonly segmentBytes: number;
  readonly fsync: FsyncPolicy;
  /**
   * Settings owned by the layers above the log (encryption required, schema policy, recipients).
   * The store keeps them with the topic and never interprets them.
   */
  readonly attributes: Readonly<Record<string, string>>;
}

export type TopicConfigInput = Partial<TopicConfig> & { readonly partitions: number };

export interface PartitionState {
  readonly partition: number;
  /** First offset still held (retention moves it forward). */
  readonly logStartOffset: number;
  /** Offset the next appended record gets; every offset below it is durable. */
  readonly highWatermark: number;
  readonly sizeBytes: number;
  readonly segments: number;
  readonly readOnly: boolean;
}

export interface TopicDescription {
  readonly name: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
  readonly partitions: readonly PartitionState[];
}

/** Identifies an idempotent producer's batch: the store drops a retried batch it already holds. */
export interface ProducerStamp {
  readonly producerId: number;
  readonly epoch: number;
  /** Sequence number of the batch's first record; the next batch starts at baseSequence + count. */
  readonly baseSequence: number;
}

export interface AppendRequest {
  /** The encoded records section (see record-batch.ts); the store validates it before writing. */
  readonly records: EncodedRecords;
  readonly producer?: ProducerStamp;
  /**
   * Called at most once, synchronously, when the store has given the batch its offsets and is
   * about to make it durable: what comes next can run alongside the store's fsync (the broker
   * starts the batch's audit event here). The append may still fail afterwards (an fsync error),
   * and then those offsets were never acknowledged. Never called for a retry of a stored batch,
   * nor for an append refused before placement. A store may not call it at all (the JetStream
   * store does not): callers then do their work after the append resolves. Must not throw.
   */
  readonly onPlaced?: (placed: PlacedBatch) => void;
}

/** Where a batch goes, as known before it is durable: the offsets and time its AppendResult will carry. */
export interface PlacedBatch {
  readonly baseOffset: number;
  readonly count: number;
  readonly timestamp: number;
}

export interface AppendResult {
  readonly baseOffset: number;
  readonly count: number;
  /** Broker append time stamped on the batch (ms since the epoch). */
  readonly timestamp: number;
  /** True when the batch was a retry of one already stored; the offsets are those of the original. */
  readonly duplicate: boolean;
}

export interface ReadOptions {
  readonly maxBytes: number;
  /** Soft limit: whole batches are returned, so a read may hold up to one batch more. */
  readonly maxRecords?: number;
}

export interface ReadResult {
  /**
   * Whole stored batches, in offset order, as their exact bytes (header included). The first batch
   * may start before the requested offset; readers skip the records below it. At least one batch is
   * returned when any data lies at or after the offset, even if it is larger than maxBytes.
   */
  readonly batches: readonly Buffer[];
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** The offset to read next: one past the last record returned, or the requested offset when nothing was. */
  readonly nextOffset: number;
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset the group will consume. */
  readonly offset: number;
  readonly metadata: string;
  readonly committedAt: number;
}

export interface RecoveryProblem {
  readonly kind:
    | 'torn-tail'
    | 'corrupt-batch'
    | 'index-rebuilt'
    | 'orphan-file'
    | 'incomplete-delete'
    /** `log check` only: an index file that recovery would rebuild. */
    | 'index-damaged'
    /** Offsets missing between segments, or lost below a clean checkpoint. */
    | 'offset-gap'
    /** A topic.json, checkpoint or journal that cannot be read. */
    | 'invalid-metadata'
    /** Not damage: appends made durable through the write-ahead log, written back into their segments at open. */
    | 'wal-replayed';
  readonly topic: string;
  readonly partition: number;
  readonly segment: string;
  /** Byte position in the segment file. */
  readonly position: number;
  readonly bytes: number;
  /** First and last offsets affected, when they are known. */
  readonly fromOffset: number | null;
  readonly toOffset: number | null;
  readonly detail: string;
}

export interface RecoveryReport {
  readonly topics: number;
  readonly partitions: number;
  /** Bytes scanned after the last clean checkpoint. */
  readonly scannedBytes: number;
  readonly problems: readonly RecoveryProblem[];
}

export interface LogStore {
  /** Opens (and recovers) the store. Must be called once before anything else. */
  open(): Promise<RecoveryReport>;
  /** Flushes, writes a clean checkpoint and releases files. Appends after close fail with SEALBUS_ERR_STORE_CLOSED. */
  close(): Promise<void>;

  createTopic(name: string, config: TopicConfigInput): Promise<TopicDescription>;
  deleteTopic(name: string): Promise<void>;
  listTopics(): Promise<readonly TopicDescription[]>;
  describeTopic(name: string): Promise<TopicDescription>;
  /** Synchronous view used on the hot path (partition count, limits); throws SEALBUS_ERR_TOPIC_NOT_FOUND. */
  topicConfig(name: string): TopicConfig;

  /** Appends one batch; resolves once it is durable under the topic's fsync policy. */
  append(topic: string, partition: number, request: AppendRequest): Promise<AppendResult>;
  read(topic: string, partition: number, offset: number, options: ReadOptions): Promise<ReadResult>;
  /** Resolves with the high watermark as soon as it is above `offset`, or rejects with the signal's reason when aborted. */
  waitForData(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<number>;
  /** The first offset whose batch timestamp is >= `timestamp`, or the high watermark when none is. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number>;

  /** Allocates a producer id, or, for a known name, bumps its epoch, fencing older instances. */
  initProducer(name: string | null): Promise<{ producerId: number; epoch: number }>;

  commitOffsets(group: string, offsets: readonly Omit<CommittedOffset, 'committedAt'>[]): Promise<void>;
  fetchOffsets(group: string): Promise<readonly CommittedOffset[]>;
  listGroups(): Promise<readonly string[]>;
  deleteGroup(group: string): Promise<void>;

  /** Deletes sealed segments past retention now (it also runs on a timer). */
  enforceRetention(): Promise<{ deletedSegments: number; deletedBytes: number }>;
}

/** A records section as produced by `encodeRecords` and carried on the wire, not yet validated. */
export interface EncodedRecords {
  readonly count: number;
  readonly bytes: Buffer;
}
