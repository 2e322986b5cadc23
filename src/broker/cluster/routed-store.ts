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
} from '../../log/types.js';
import type { ClusterAppends } from './cluster-appends.js';

/**
 * The shared store as the Broker sees it on a cluster: everything goes to the store itself but
 * `append`, which goes through the partition's owner (ClusterAppends). Opening and closing stay
 * with whoever opened the store.
 */
export class RoutedLogStore implements LogStore {
  constructor(
    private readonly store: LogStore,
    private readonly appends: ClusterAppends,
  ) {}

  open(): Promise<RecoveryReport> {
    return this.store.open();
  }
  close(): Promise<void> {
    return this.store.close();
  }
  createTopic(name: string, config: TopicConfigInput): Promise<TopicDescription> {
    return this.store.createTopic(name, config);
  }
  deleteTopic(name: string): Promise<void> {
    return this.store.deleteTopic(name);
  }
  listTopics(): Promise<readonly TopicDescription[]> {
    return this.store.listTopics();
  }
  describeTopic(name: string): Promise<TopicDescription> {
    return this.store.describeTopic(name);
  }
  topicConfig(name: string): TopicConfig {
    return this.store.topicConfig(name);
  }
  append(topic: string, partition: number, request: AppendRequest): Promise<AppendResult> {
    return this.appends.append(topic, partition, request);
  }
  read(topic: string, partition: number, offset: number, options: ReadOptions): Promise<ReadResult> {
    return this.store.read(topic, partition, offset, options);
  }
  waitForData(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<number> {
    return this.store.waitForData(topic, partition, offset, signal);
  }
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.store.offsetForTimestamp(topic, partition, timestamp);
  }
  initProducer(name: string | null): Promise<{ producerId: number; epoch: number }> {
    return this.store.initProducer(name);
  }
  commitOffsets(group: string, offsets: readonly Omit<CommittedOffset, 'committedAt'>[]): Promise<void> {
    return this.store.commitOffsets(group, offsets);
  }
  fetchOffsets(group: string): Promise<readonly CommittedOffset[]> {
    return this.store.fetchOffsets(group);
  }
  listGroups(): Promise<readonly string[]> {
    return this.store.listGroups();
  }
  deleteGroup(group: string): Promise<void> {
    return this.store.deleteGroup(group);
  }
  enforceRetention(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    return this.store.enforceRetention();
  }
}
