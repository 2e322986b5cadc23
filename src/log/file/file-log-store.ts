import { SealbusError } from '../../errors/index.js';
import { checkAppendRequest, checkOffsetArgument, lookupPartition, lookupTopic } from '../append-checks.js';
import { assertGroupName, checkCommits } from '../group-checks.js';
import { assertProducerName } from '../producer-registry.js';
import { resolveTopicConfig, validateTopicDefaults } from '../topic-config.js';
import { assertTopicName } from '../topic-name.js';
import type {
  AppendRequest,
  AppendResult,
  CommittedOffset,
  LogStore,
  ReadOptions,
  ReadResult,
  RecoveryProblem,
  RecoveryReport,
  TopicConfig,
  TopicConfigInput,
  TopicDescription,
} from '../types.js';
import { writeCheckpoint } from './checkpoint.js';
import type { FilePartition } from './file-partition.js';
import { errorCode, nodeFileSystem, type LogFileSystem } from './fs-seam.js';
import { acquireLock } from './lock-file.js';
import { OffsetCommits } from './offset-commits.js';
import { dataPaths, type DataPaths } from './paths.js';
import { ProducerJournal } from './producer-journal.js';
import { cleanLeftovers, loadCheckpoint, openTopicPartitions, openTopics, openWal, type OpenTopic, type RecoveryEnvironment } from './store-recovery.js';
import type { StoreWal } from './store-wal.js';
import { createTopicFiles, deleteTopicFiles } from './topic-files.js';

export interface FileLogStoreOptions {
  readonly dir: string;
  readonly clock?: () => number;
  /** The file-system seam; tests inject failures through it. */
  readonly fs?: LogFileSystem;
  readonly defaults?: Partial<TopicConfig>;
  /** How often retention runs (and a fresh checkpoint is written); 0 turns the timer off. Default 30 s. */
  readonly retentionCheckMs?: number;
  /** Problems found after open, by reads of damaged data. */
  readonly onProblem?: (problem: RecoveryProblem) => void;
  /**
   * Called after each group-commit fdatasync of a partition with how long it took, in seconds. The
   * log knows nothing of metrics: the broker passes a histogram's observe here.
   */
  readonly onFsync?: (seconds: number) => void;
  /**
   * Small groups of appends become durable through one write-ahead log shared by every partition
   * (one fdatasync for all), instead of an fdatasync of each partition's segment. Default true.
   */
  readonly wal?: boolean;
  /** Size of each of the two WAL files. Default 16 MiB. */
  readonly walFileBytes?: number;
}

interface OpenState {
  readonly topics: Map<string, OpenTopic>;
  readonly commits: OffsetCommits;
  readonly producers: ProducerJournal;
  readonly releaseLock: () => Promise<void>;
}

function invalidRequest(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

/** The embedded backend: a directory per partition, segment files, group commit. See docs/log-format.md. */
export class FileLogStore implements LogStore {
  private readonly fileSystem: LogFileSystem;
  private readonly paths: DataPaths;
  private readonly clock: () => number;
  private readonly defaults: Partial<TopicConfig>;
  private readonly retentionCheckMs: number;
  private phase: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private opened: OpenState | null = null;
  private wal: StoreWal | null = null;
  /** Names being created or deleted right now. */
  private readonly busy = new Set<string>();
  private checkpointChain: Promise<void> = Promise.resolve();
  private checkpointQueued = false;
  private retentionChain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: FileLogStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidRequest('dir is required');
    this.fileSystem = options.fs ?? nodeFileSystem;
    this.paths = dataPaths(options.dir);
    this.clock = options.clock ?? Date.now;
    this.defaults = validateTopicDefaults(options.defaults ?? {});
    this.retentionCheckMs = options.retentionCheckMs ?? 30_000;
    if (!Number.isInteger(this.retentionCheckMs) || this.retentionCheckMs < 0) throw invalidRequest('retentionCheckMs must be a non-negative integer');
  }

  private environment(): RecoveryEnvironment {
    return {
      fileSystem: this.fileSystem,
      paths: this.paths,
      clock: this.clock,
      onRoll: () => this.checkpointSoon(),
      onLateProblem: (problem) => this.options.onProblem?.(problem),
      onFsync: this.options.onFsync,
      wal: this.wal,
    };
  }

  async open(): Promise<RecoveryReport> {
    if (this.phase !== 'new') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    this.phase = 'opening';
    await this.fileSystem.mkdir(this.options.dir);
    const releaseLock = await acquireLock(this.fileSystem, this.paths.lock, this.options.dir);
    const problems: RecoveryProblem[] = [];
    const cleanup: (() => Promise<void>)[] = [releaseLock];
    try {
      if (this.options.wal !== false) {
        const opened = await openWal(this.fileSystem, this.paths, this.options.walFileBytes);
        const wal = opened.wal;
        this.wal = wal;
        cleanup.push(() => wal.close());
        problems.push(...opened.problems);
      }
      problems.push(...(await cleanLeftovers(this.fileSystem, this.paths, this.options.dir)));
      const checkpoint = await loadCheckpoint(this.fileSystem, this.paths);
      problems.push(...checkpoint.problems);
      const producers = await ProducerJournal.open(this.fileSystem, this.paths.producers);
      cleanup.push(() => producers.producers.close());
      problems.push(...producers.problems);
      const isLive = (topic: string, topicId: string): boolean => this.opened?.topics.get(topic)?.file.id === topicId;
      const commits = await OffsetCommits.open(this.fileSystem, this.paths.offsets, isLive);
      cleanup.push(() => commits.commits.close());
      problems.push(...commits.problems);
      const recovered = await openTopics(this.environment(), checkpoint.entries, (problem) => problems.push(problem));
      const topics = recovered.topics;
      cleanup.push(async () => {
        for (const topic of topics.values()) await Promise.all(topic.partitions.map((partition) => partition.close()));
      });
      this.opened = { topics, commits: commits.commits, producers: producers.producers, releaseLock };
      this.phase = 'open';
      await this.writeCheckpointNow();
      if (this.retentionCheckMs > 0) {
        this.timer = setInterval(() => void this.tick(), this.retentionCheckMs);
        this.timer.unref();
      }
      let partitions = 0;
      for (const topic of topics.values()) partitions += topic.partitions.length;
      return { topics: topics.size, partitions, scannedBytes: recovered.scannedBytes, problems };
    } catch (err) {
      this.phase = 'closed';
      this.opened = null;
      for (const step of cleanup.reverse()) await step().catch(() => undefined);
      throw err;
    }
  }

  private async tick(): Promise<void> {
    try {
      await this.enforceRetention();
      this.checkpointSoon();
    } catch {
      // Retried at the next tick; the store stays consistent whatever failed.
    }
  }

  async close(): Promise<void> {
    if (this.phase === 'closed' || this.phase === 'new') {
      this.phase = 'closed';
      return;
    }
    this.phase = 'closed';
    if (this.timer !== null) clearInterval(this.timer);
    await this.retentionChain.catch(() => undefined);
    const opened = this.opened;
    if (opened === null) return;
    try {
      for (const topic of opened.topics.values()) await Promise.all(topic.partitions.map((partition) => partition.close()));
      await this.checkpointChain.catch(() => undefined);
      await this.writeCheckpoint(opened);
    } finally {
      // After the partitions: each has made its segment durable, so the WAL is cleared.
      await this.wal?.close();
      await this.shutdown();
      await opened.releaseLock();
    }
  }

  private async shutdown(): Promise<void> {
    const opened = this.opened;
    if (opened === null) return;
    await opened.commits.close();
    await opened.producers.close();
  }

  private state(): OpenState {
    if (this.phase !== 'open' || this.opened === null) throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    return this.opened;
  }

  private topic(name: string): OpenTopic {
    return lookupTopic(this.state().topics, name);
  }

  private partition(name: string, partition: number): FilePartition {
    return lookupPartition(this.state().topics, name, partition);
  }

  private describe(topic: OpenTopic): TopicDescription {
    const { name, config, createdAt } = topic.file;
    return { name, config, createdAt, partitions: topic.partitions.map((partition) => partition.state()) };
  }

  async createTopic(name: string, input: TopicConfigInput): Promise<TopicDescription> {
    const opened = this.state();
    assertTopicName(name, { allowInternal: true });
    const config = resolveTopicConfig(input, this.defaults);
    if (opened.topics.has(name) || this.busy.has(name)) throw new SealbusError('SEALBUS_ERR_TOPIC_EXISTS', { topic: name });
    this.busy.add(name);
    try {
      // A directory without topic.json is an unfinished creation (e.g. the disk filled up).
      await this.fileSystem.removeTree(this.paths.topic(name));
      const file = await createTopicFiles(this.fileSystem, this.paths, name, config, this.clock());
      const { topic } = await openTopicPartitions(this.environment(), file, new Map(), (problem) => this.options.onProblem?.(problem));
      opened.topics.set(name, topic);
      this.checkpointSoon();
      return this.describe(topic);
    } catch (err) {
      await this.fileSystem.removeTree(this.paths.topic(name)).catch(() => undefined);
      if (err instanceof SealbusError) throw err;
      if (errorCode(err) === 'ENOSPC') throw new SealbusError('SEALBUS_ERR_STORAGE_FULL', { topic: name, partition: '*' }, { cause: err });
      throw new SealbusError('SEALBUS_ERR_STORAGE_IO', { topic: name, partition: '*', reason: errorCode(err) ?? String(err) }, { cause: err });
    } finally {
      this.busy.delete(name);
    }
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.topic(name);
    const opened = this.state();
    opened.topics.delete(name);
    this.busy.add(name);
    try {
      const gone = new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name });
      await Promise.all(topic.partitions.map((partition) => partition.close(gone)));
      await deleteTopicFiles(this.fileSystem, this.paths, topic.file);
      this.checkpointSoon();
    } finally {
      this.busy.delete(name);
    }
  }

  async listTopics(): Promise<readonly TopicDescription[]> {
    const topics = [...this.state().topics.values()].sort((a, b) => a.file.name.localeCompare(b.file.name));
    return topics.map((topic) => this.describe(topic));
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    return this.describe(this.topic(name));
  }

  topicConfig(name: string): TopicConfig {
    return this.topic(name).file.config;
  }

  append(topic: string, partition: number, request: AppendRequest): Promise<AppendResult> {
    try {
      const target = this.partition(topic, partition);
      checkAppendRequest(topic, target.config, request);
      if (request.producer !== undefined) this.state().producers.registry.check(request.producer);
      return target.append(request);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async read(topic: string, partition: number, offset: number, options: ReadOptions): Promise<ReadResult> {
    const target = this.partition(topic, partition);
    checkOffsetArgument('offset', offset);
    if (!Number.isSafeInteger(options?.maxBytes) || options.maxBytes < 1) throw invalidRequest('maxBytes must be a positive integer');
    if (options.maxRecords !== undefined && (!Number.isSafeInteger(options.maxRecords) || options.maxRecords < 1)) {
      throw invalidRequest('maxRecords must be a positive integer');
    }
    return target.read(offset, options);
  }

  waitForData(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<number> {
    try {
      const target = this.partition(topic, partition);
      checkOffsetArgument('offset', offset);
      return target.waitForData(offset, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    const target = this.partition(topic, partition);
    checkOffsetArgument('timestamp', timestamp);
    return target.offsetForTimestamp(timestamp);
  }

  async initProducer(name: string | null): Promise<{ producerId: number; epoch: number }> {
    const opened = this.state();
    assertProducerName(name);
    const { producerId, epoch } = await opened.producers.register(name);
    return { producerId, epoch };
  }

  async commitOffsets(group: string, offsets: readonly Omit<CommittedOffset, 'committedAt'>[]): Promise<void> {
    const opened = this.state();
    checkCommits(group, offsets, (topic) => this.topic(topic).partitions.length);
    const entries = offsets.map((entry) => ({
      topic: entry.topic,
      topicId: this.topic(entry.topic).file.id,
      partition: entry.partition,
      offset: entry.offset,
      metadata: entry.metadata,
    }));
    await opened.commits.commit(group, entries, this.clock());
  }

  async fetchOffsets(group: string): Promise<readonly CommittedOffset[]> {
    const opened = this.state();
    assertGroupName(group);
    return opened.commits.fetch(group);
  }

  async listGroups(): Promise<readonly string[]> {
    return this.state().commits.groupNames();
  }

  async deleteGroup(group: string): Promise<void> {
    const opened = this.state();
    assertGroupName(group);
    await opened.commits.deleteGroup(group);
  }

  enforceRetention(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    const run = this.retentionChain.catch(() => undefined).then(() => this.runRetention());
    this.retentionChain = run;
    return run;
  }

  private async runRetention(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    const opened = this.state();
    const now = this.clock();
    const due: [FilePartition, number][] = [];
    for (const topic of opened.topics.values()) {
      for (const partition of topic.partitions) {
        const count = partition.retentionDue(now);
        if (count > 0) due.push([partition, count]);
      }
    }
    let deletedSegments = 0;
    let deletedBytes = 0;
    if (due.length === 0) return { deletedSegments, deletedBytes };
    // Producer state and positions must not depend on the segments about to go.
    await this.writeCheckpointNow();
    for (const [partition, count] of due) {
      if (this.phase !== 'open') break;
      const result = await partition.deleteOldest(count);
      deletedSegments += result.deletedSegments;
      deletedBytes += result.deletedBytes;
    }
    return { deletedSegments, deletedBytes };
  }

  private checkpointSoon(): void {
    if (this.checkpointQueued || this.opened === null) return;
    this.checkpointQueued = true;
    const opened = this.opened;
    this.checkpointChain = this.checkpointChain
      .catch(() => undefined)
      .then(() => {
        this.checkpointQueued = false;
        return this.phase === 'open' ? this.writeCheckpoint(opened) : undefined;
      })
      .catch(() => undefined);
  }

  private writeCheckpointNow(): Promise<void> {
    const opened = this.state();
    const write = this.checkpointChain.catch(() => undefined).then(() => this.writeCheckpoint(opened));
    this.checkpointChain = write;
    return write;
  }

  private async writeCheckpoint(opened: OpenState): Promise<void> {
    const entries = [];
    for (const topic of opened.topics.values()) {
      for (const partition of topic.partitions) entries.push(partition.checkpoint(topic.file.id));
    }
    await writeCheckpoint(this.fileSystem, this.paths.checkpoint, this.options.dir, entries);
  }
}
