import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { SealbusError } from '../../errors/index.js';
import { checkAppendRequest, checkOffsetArgument, checkPartition } from '../append-checks.js';
import { assertGroupName, checkCommits } from '../group-checks.js';
import { assertProducerName } from '../producer-registry.js';
import { BATCH_HEADER_BYTES } from '../record-batch.js';
import { resolveTopicConfig, validateTopicDefaults } from '../topic-config.js';
import { assertTopicName } from '../topic-name.js';
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
import { CommittedOffsets, streamBucketKeys } from './committed-offsets.js';
import { connectNats, type NatsConnectOptions } from './connection.js';
import { appendSubjects, groupSubjects, natsMessageBus, type AppendSubjects, type GroupSubjects, type MessageBus } from './message-bus.js';
import { JetStreamPartition, type PartitionDeps, type TopicRecord } from './jetstream-partition.js';
import { newTopicId, storeNames, type StoreNames } from './names.js';
import { isRefusedInOrder, storeError } from './nats-errors.js';
import { offsetForTimestamp, readPartition } from './partition-reader.js';
import { enforcePartitionRetention } from './partition-retention.js';
import { ProducerIds } from './producer-ids.js';
import { ProducerSnapshots } from './producer-snapshots.js';
import { TopicCatalog } from './topic-catalog.js';
import { checkReadOptions, jetStreamDefaults, type JetStreamLogStoreOptions } from './store-options.js';

/** A key listing (committed offsets) may take this many request timeouts: it reads a whole bucket. */
const LISTING_TIMEOUT_REQUESTS = 3;

/** Room left in a NATS message for the headers around a batch. */
const HEADER_ROOM = 512;

interface OpenState {
  readonly connection: NatsConnection;
  readonly catalog: TopicCatalog;
  readonly offsets: CommittedOffsets;
  readonly producers: ProducerIds;
  readonly deps: PartitionDeps;
  readonly announcements: Subscription;
}

/**
 * The cluster backend: every partition is a JetStream stream of batches, and everything else a
 * broker knows (topics, committed offsets, producer ids and their state) is in KV buckets, so
 * brokers keep no state of their own and any broker serves any partition. See docs/cluster.md.
 */
export class JetStreamLogStore implements LogStore {
  private readonly settings: ReturnType<typeof jetStreamDefaults>;
  private readonly names: StoreNames;
  private readonly clock: () => number;
  private readonly defaults: Partial<TopicConfig>;
  private phase: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private opened: OpenState | null = null;
  /** Partitions by topic id, built on first use. */
  private readonly partitions = new Map<string, JetStreamPartition[]>();
  private timer: NodeJS.Timeout | null = null;
  /** The NATS servers' `max_payload` as last announced; the client forgets it while it reconnects. */
  private maxPayload = 0;
  /** Publishes JetStream refused because another broker had appended to the partition first. */
  private refused = 0;

  constructor(private readonly options: JetStreamLogStoreOptions & NatsConnectOptions) {
    this.settings = jetStreamDefaults(options);
    this.names = storeNames(this.settings.streamPrefix);
    this.clock = options.clock ?? Date.now;
    this.defaults = validateTopicDefaults(options.defaults ?? {});
  }

  async open(): Promise<RecoveryReport> {
    if (this.phase !== 'new') throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    this.phase = 'opening';
    const connection = await connectNats(this.options).catch((err: unknown) => {
      this.phase = 'closed';
      throw err;
    });
    this.maxPayload = connection.info?.max_payload ?? 0;
    try {
      this.opened = await this.openOn(connection);
      this.phase = 'open';
    } catch (err) {
      this.phase = 'closed';
      await connection.close().catch(() => undefined);
      throw storeError({ what: 'opening the store' }, err);
    }
    if (this.settings.retentionCheckMs > 0) {
      this.timer = setInterval(() => void this.enforceRetention().catch(() => undefined), this.settings.retentionCheckMs);
      this.timer.unref();
    }
    const topics = this.opened.catalog.list();
    const partitions = topics.reduce((sum, topic) => sum + topic.config.partitions, 0);
    return { topics: topics.length, partitions, scannedBytes: 0, problems: [] };
  }

  private async openOn(connection: NatsConnection): Promise<OpenState> {
    const timeout = this.settings.requestTimeoutMs;
    const clients = { js: jetstream(connection, { timeout }), jsm: await jetstreamManager(connection, { timeout }) };
    const kvm = new Kvm(clients.js);
    const bucket = (name: string): Promise<KV> => kvm.create(name, { history: 1, replicas: this.settings.replicas, storage: 'file', timeout });
    const [topicsKv, offsetsKv, producersKv, stateKv] = await Promise.all([
      bucket(this.names.topicsBucket),
      bucket(this.names.offsetsBucket),
      bucket(this.names.producersBucket),
      bucket(this.names.producerStateBucket),
    ]);
    const catalog = new TopicCatalog(topicsKv, (_name, before) => {
      if (before !== undefined) this.dropPartitions(before, new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: before.name }));
    });
    const producers = new ProducerIds(producersKv);
    const deps: PartitionDeps = {
      clients,
      connection,
      names: this.names,
      snapshots: new ProducerSnapshots(stateKv),
      clock: this.clock,
      requestTimeoutMs: timeout,
      waitPollMs: this.settings.waitPollMs,
      isClosed: () => this.phase === 'closed',
      publishSeam: (send) => {
        const seam = this.options.publishSeam;
        return (seam === undefined ? send() : seam(send)).catch((err: unknown) => {
          if (isRefusedInOrder(err)) this.refused++;
          throw err;
        });
      },
    };
    const announcements = connection.subscribe(this.names.appendedWildcard, {
      callback: (err, msg) => {
        if (err !== null) return;
        const [, , topicId, partition] = msg.subject.split('.');
        const seq = Number(msg.string());
        if (topicId === undefined || !Number.isSafeInteger(seq)) return;
        this.partitions.get(topicId)?.[Number(partition)]?.announced(seq);
      },
    });
    await catalog.start(timeout);
    await producers.start();
    return { connection, catalog, offsets: new CommittedOffsets(offsetsKv, (id) => catalog.hasId(id), streamBucketKeys(clients.jsm, this.names.offsetsBucket), LISTING_TIMEOUT_REQUESTS * this.settings.requestTimeoutMs), producers, deps, announcements };
  }

  async close(): Promise<void> {
    if (this.phase === 'closed' || this.phase === 'new') {
      this.phase = 'closed';
      return;
    }
    this.phase = 'closed';
    if (this.timer !== null) clearInterval(this.timer);
    const opened = this.opened;
    if (opened === null) return;
    const closed = new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    const all = [...this.partitions.values()].flat();
    for (const partition of all) partition.close(closed);
    this.partitions.clear();
    opened.catalog.stop();
    opened.producers.stop();
    opened.announcements.unsubscribe();
    await opened.connection.drain().catch(() => opened.connection.close());
  }

  /** Request/reply between the brokers sharing this store, over its NATS connection (open store only). */
  messageBus(): MessageBus {
    return natsMessageBus(this.state().connection, () => this.maxPayload || 1024 * 1024);
  }

  /** The subjects of consumer-group traffic between brokers, under the store's prefix. */
  groupSubjects(): GroupSubjects {
    return groupSubjects(this.names.prefix);
  }

  /** The subject of appends forwarded to a partition's owner broker. */
  appendSubjects(): AppendSubjects {
    return appendSubjects(this.names.prefix);
  }

  /** How long one JetStream request may take (`requestTimeoutMs`). */
  requestTimeoutMs(): number {
    return this.settings.requestTimeoutMs;
  }

  /** Publishes refused so far because another broker had appended first (each is planned again): the cost of contention. */
  refusedPublishes(): number {
    return this.refused;
  }

  private state(): OpenState {
    if (this.phase !== 'open' || this.opened === null) throw new SealbusError('SEALBUS_ERR_STORE_CLOSED');
    return this.opened;
  }

  private dropPartitions(record: TopicRecord, reason: SealbusError): void {
    const partitions = this.partitions.get(record.id);
    if (partitions === undefined) return;
    this.partitions.delete(record.id);
    for (const partition of partitions) partition.close(reason);
  }

  /** A topic by name, asking the bucket when this broker has not heard of it (created through another broker). */
  private async topic(name: string): Promise<TopicRecord> {
    const catalog = this.state().catalog;
    assertTopicName(name, { allowInternal: true });
    const record = catalog.get(name) ?? (await guard('the topic catalog', catalog.fetch(name)));
    if (record === undefined) throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name });
    return record;
  }

  private partitionsOf(record: TopicRecord): JetStreamPartition[] {
    let partitions = this.partitions.get(record.id);
    if (partitions === undefined) {
      const deps = this.state().deps;
      partitions = Array.from({ length: record.config.partitions }, (_, index) => new JetStreamPartition(deps, record, index));
      this.partitions.set(record.id, partitions);
    }
    return partitions;
  }

  private async partition(name: string, partition: number): Promise<JetStreamPartition> {
    const record = await this.topic(name);
    checkPartition(name, partition, record.config.partitions);
    return this.partitionsOf(record)[partition]!;
  }

  private async describe(record: TopicRecord): Promise<TopicDescription> {
    const partitions = await Promise.all(this.partitionsOf(record).map((partition) => partition.describe()));
    return { name: record.name, config: record.config, createdAt: record.createdAt, partitions };
  }

  async createTopic(name: string, input: TopicConfigInput): Promise<TopicDescription> {
    const { catalog, deps } = this.state();
    assertTopicName(name, { allowInternal: true });
    const config = resolveTopicConfig(input, this.defaults);
    if (catalog.get(name) !== undefined) throw new SealbusError('SEALBUS_ERR_TOPIC_EXISTS', { topic: name });
    const draft = { name, id: newTopicId(), config, createdAt: this.clock(), revision: 0 };
    const partitions = Array.from({ length: config.partitions }, (_, index) => new JetStreamPartition(deps, draft, index));
    // Streams first, then the record that makes them visible: no broker ever sees a topic whose streams are missing.
    try {
      await inBatches(partitions, (partition) => partition.stream.create(this.settings.replicas));
      const created = await catalog.create(draft);
      if (created === null) throw new SealbusError('SEALBUS_ERR_TOPIC_EXISTS', { topic: name });
    } catch (err) {
      await inBatches(partitions, (partition) => partition.stream.remove()).catch(() => undefined);
      throw storeError({ what: `creating topic ${name}` }, err);
    }
    const empty = { logStartOffset: 0, highWatermark: 0, sizeBytes: 0, segments: 1, readOnly: false };
    return { name, config, createdAt: draft.createdAt, partitions: partitions.map((_, partition) => ({ partition, ...empty })) };
  }

  async deleteTopic(name: string): Promise<void> {
    const record = await this.topic(name);
    const { catalog, offsets, deps } = this.state();
    if (!(await guard('the topic catalog', catalog.remove(record)))) {
      throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name });
    }
    this.dropPartitions(record, new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name }));
    const streams = Array.from({ length: record.config.partitions }, (_, index) => new JetStreamPartition(deps, record, index));
    await inBatches(streams, (partition) => partition.stream.remove());
    await offsets.deleteTopic(record.id).catch(() => undefined);
    await inBatches(streams, (partition) => deps.snapshots.remove(record.id, partition.partition)).catch(() => undefined);
  }

  async listTopics(): Promise<readonly TopicDescription[]> {
    return Promise.all(this.state().catalog.list().map((record) => this.describe(record)));
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    return this.describe(await this.topic(name));
  }

  topicConfig(name: string): TopicConfig {
    const catalog = this.state().catalog;
    assertTopicName(name, { allowInternal: true });
    const record = catalog.get(name);
    if (record === undefined) throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: name });
    return record.config;
  }

  async append(topic: string, partition: number, request: AppendRequest): Promise<AppendResult> {
    const target = await this.partition(topic, partition);
    checkAppendRequest(topic, target.config, request);
    // While the client reconnects (its server died) it has no server info: the last limit still
    // holds, and the publish fails retriably if no server answers, rather than as a batch too large.
    this.maxPayload = this.state().connection.info?.max_payload ?? this.maxPayload;
    const limit = this.maxPayload - BATCH_HEADER_BYTES - HEADER_ROOM;
    if (this.maxPayload > 0 && request.records.bytes.length > limit) {
      throw new SealbusError('SEALBUS_ERR_BATCH_TOO_LARGE', { size: request.records.bytes.length, limit: Math.max(0, limit) });
    }
    if (request.producer !== undefined) await guard('the producer registry', this.state().producers.check(request.producer));
    return target.append(request);
  }

  async read(topic: string, partition: number, offset: number, options: ReadOptions): Promise<ReadResult> {
    const target = await this.partition(topic, partition);
    checkOffsetArgument('offset', offset);
    checkReadOptions(options);
    await target.beforeRead(offset);
    return readPartition(target, offset, options);
  }

  async waitForData(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<number> {
    const target = await this.partition(topic, partition);
    checkOffsetArgument('offset', offset);
    return target.waitForData(offset, signal);
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    const target = await this.partition(topic, partition);
    checkOffsetArgument('timestamp', timestamp);
    return offsetForTimestamp(target, timestamp);
  }

  async initProducer(name: string | null): Promise<{ producerId: number; epoch: number }> {
    const { producers } = this.state();
    assertProducerName(name);
    return guard('the producer registry', producers.init(name));
  }

  async commitOffsets(group: string, offsets: readonly Omit<CommittedOffset, 'committedAt'>[]): Promise<void> {
    const state = this.state();
    assertGroupName(group);
    const records = new Map<string, TopicRecord>();
    for (const entry of Array.isArray(offsets) ? offsets : []) {
      if (!records.has(entry.topic)) records.set(entry.topic, await this.topic(entry.topic));
    }
    checkCommits(group, offsets, (topic) => records.get(topic)!.config.partitions);
    const entries = offsets.map((entry) => ({ ...entry, topicId: records.get(entry.topic)!.id }));
    await guard('committed offsets', state.offsets.commit(group, entries, this.clock()));
  }

  async fetchOffsets(group: string): Promise<readonly CommittedOffset[]> {
    const { offsets } = this.state();
    assertGroupName(group);
    return guard('committed offsets', offsets.fetch(group));
  }

  async listGroups(): Promise<readonly string[]> {
    return guard('committed offsets', this.state().offsets.groups());
  }

  async deleteGroup(group: string): Promise<void> {
    const { offsets } = this.state();
    assertGroupName(group);
    await guard('committed offsets', offsets.deleteGroup(group));
  }

  async enforceRetention(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    const { catalog } = this.state();
    const now = this.clock();
    let deletedSegments = 0;
    let deletedBytes = 0;
    for (const record of catalog.list()) {
      if (record.config.retentionMs === null && record.config.retentionBytes === null) continue;
      for (const partition of this.partitionsOf(record)) {
        const result = await enforcePartitionRetention(partition, now);
        deletedSegments += result.deletedSegments;
        deletedBytes += result.deletedBytes;
      }
    }
    return { deletedSegments, deletedBytes };
  }
}

/** The catalog error for a failed KV call (a SealbusError passes through). */
function guard<T>(what: string, work: Promise<T>): Promise<T> {
  return work.catch((err: unknown) => Promise.reject(storeError({ what }, err)));
}

/** Runs `task` over `items`, a bounded number at a time (a topic may have thousands of partitions). */
async function inBatches<T>(items: readonly T[], task: (item: T) => Promise<unknown>, size = 32): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(task));
}
