import { SealbusError } from '../../errors/index.js';
import { checkAppendRequest, checkOffsetArgument, lookupPartition, lookupTopic } from '../append-checks.js';
import { assertGroupName, checkCommits } from '../group-checks.js';
import { ProducerRegistry, assertProducerName } from '../producer-registry.js';
import { assertTopicName } from '../topic-name.js';
import { resolveTopicConfig, validateTopicDefaults } from '../topic-config.js';
import type {
  AppendRequest,
  AppendResult,
  CommittedOffset,
  LogStore,
  ReadOptions,
  ReadResult,
  RecoveryReport,
  TopicConfig,
  TopicConfigInput,
  TopicDescription,
} from '../types.js';
import { MemoryPartition } from './memory-partition.js';

export interface MemoryLogStoreOptions {
  readonly clock?: () => number;
  readonly defaults?: Partial<TopicConfig>;
}

interface MemoryTopic {
  readonly name: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
  readonly partitions: MemoryPartition[];
}

/**
 * The in-memory backend: the same contract and the same checks as the file store, nothing durable.
 * The layers above use it in their unit tests; the shared log suite keeps it honest.
 */
export class MemoryLogStore implements LogStore {
  private readonly clock: () => number;
  private readonly defaults: Partial<TopicConfig>;
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, Map<string, CommittedOffset>>();
  private readonly producers = new ProducerRegistry();
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(options: MemoryLogStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.defaults = validateTopicDefaults(options.defaults ?? {});
  }

  async open(): Promise<RecoveryReport> {
    if (this.state !== 'new') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    this.state = 'open';
    return { topics: 0, partitions: 0, scannedBytes: 0, problems: [] };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const closed = new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    for (const topic of this.topics.values()) for (const partition of topic.partitions) partition.waiters.rejectAll(closed);
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
  }

  private topic(name: string): MemoryTopic {
    this.ensureOpen();
    return lookupTopic(this.topics, name);
  }

  private partition(name: string, partition: number): MemoryPartition {
    this.ensureOpen();
    return lookupPartition(this.topics, name, partition);
  }

  private describe(topic: MemoryTopic): TopicDescription {
    return {
      name: topic.name,
      config: topic.config,
      createdAt: topic.createdAt,
      partitions: topic.partitions.map((partition) => partition.state()),
    };
  }

  async createTopic(name: string, input: TopicConfigInput): Promise<TopicDescription> {
    this.ensureOpen();
    assertTopicName(name, { allowInternal: true });
    const config = resolveTopicConfig(input, this.defaults);
    if (this.topics.has(name)) throw new SealbusError('SEALBUS_ERR_TOPIC_EXISTS', { topic: name });
    const partitions = Array.from({ length: config.partitions }, (_, index) => new MemoryPartition(name, index, config));
    const topic: MemoryTopic = { name, config, createdAt: this.clock(), partitions };
    this.topics.set(name, topic);
    return this.describe(topic);
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.topic(name);
    this.topics.delete(name);
    const gone = new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name });
    for (const partition of topic.partitions) partition.waiters.rejectAll(gone);
    for (const offsets of this.groups.values()) {
      for (const [key, entry] of offsets) if (entry.topic === name) offsets.delete(key);
    }
  }

  async listTopics(): Promise<readonly TopicDescription[]> {
    this.ensureOpen();
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name)).map((topic) => this.describe(topic));
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    return this.describe(this.topic(name));
  }

  topicConfig(name: string): TopicConfig {
    return this.topic(name).config;
  }

  async append(topic: string, partition: number, request: AppendRequest): Promise<AppendResult> {
    const target = this.partition(topic, partition);
    checkAppendRequest(topic, this.topic(topic).config, request);
    if (request.producer !== undefined) this.producers.check(request.producer);
    return target.append(request, this.clock());
  }

  async read(topic: string, partition: number, offset: number, options: ReadOptions): Promise<ReadResult> {
    const target = this.partition(topic, partition);
    checkOffsetArgument('offset', offset);
    return target.read(offset, options);
  }

  waitForData(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<number> {
    try {
      const target = this.partition(topic, partition);
      checkOffsetArgument('offset', offset);
      return target.waiters.wait(offset, target.highWatermark, signal);
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
    this.ensureOpen();
    assertProducerName(name);
    const registrations = this.producers.next(name);
    for (const registration of registrations) this.producers.apply(registration);
    const { producerId, epoch } = registrations.at(-1)!;
    return { producerId, epoch };
  }

  async commitOffsets(group: string, offsets: readonly Omit<CommittedOffset, 'committedAt'>[]): Promise<void> {
    this.ensureOpen();
    checkCommits(group, offsets, (topic) => this.topic(topic).partitions.length);
    const committedAt = this.clock();
    let stored = this.groups.get(group);
    if (stored === undefined) {
      stored = new Map();
      this.groups.set(group, stored);
    }
    for (const entry of offsets) {
      const { topic, partition, offset, metadata } = entry;
      stored.set(`${partition}:${topic}`, { topic, partition, offset, metadata, committedAt });
    }
  }

  async fetchOffsets(group: string): Promise<readonly CommittedOffset[]> {
    this.ensureOpen();
    assertGroupName(group);
    return [...(this.groups.get(group)?.values() ?? [])];
  }

  async listGroups(): Promise<readonly string[]> {
    this.ensureOpen();
    return [...this.groups].filter(([, offsets]) => offsets.size > 0).map(([group]) => group).sort();
  }

  async deleteGroup(group: string): Promise<void> {
    this.ensureOpen();
    assertGroupName(group);
    this.groups.delete(group);
  }

  async enforceRetention(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    this.ensureOpen();
    const now = this.clock();
    let deletedSegments = 0;
    let deletedBytes = 0;
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        const result = partition.enforceRetention(now);
        deletedSegments += result.deletedSegments;
        deletedBytes += result.deletedBytes;
      }
    }
    return { deletedSegments, deletedBytes };
  }
}
