/**
 * Gauges read from the store when scraped, never kept up to date on the hot path: log size and
 * segments per topic, partitions that turned read-only, consumer-group lag, and the data disk.
 * Label sets are capped (labels.ts); one scrape reads the store once for all of them.
 */
import { statfs } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import type { LogStore, TopicDescription } from '../../log/index.js';
import { MAX_GROUPS_SCANNED, MAX_LAG_SERIES, MAX_TOPIC_SERIES, OTHER_LABEL, largest } from './labels.js';

/**
 * Gauges collected within this long of each other share one read of the store: a scrape collects
 * them all at once, and the next scrape (seconds later) reads again.
 */
const SNAPSHOT_MS = 250;

interface TopicSize {
  readonly topic: string;
  readonly bytes: number;
  readonly segments: number;
}

interface Lag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

interface Snapshot {
  readonly sizes: readonly TopicSize[];
  readonly readOnly: number;
  readonly lags: readonly Lag[];
  readonly groups: number;
}

/** Per-topic sizes, the largest MAX_TOPIC_SERIES on their own and the rest summed under `(other)`. */
export function topicSizes(topics: readonly TopicDescription[]): TopicSize[] {
  const all = topics.map((topic) => ({
    topic: topic.name,
    bytes: topic.partitions.reduce((sum, partition) => sum + partition.sizeBytes, 0),
    segments: topic.partitions.reduce((sum, partition) => sum + partition.segments, 0),
  }));
  if (all.length <= MAX_TOPIC_SERIES) return all;
  const kept = largest(all, MAX_TOPIC_SERIES - 1, (entry) => entry.bytes);
  const keptNames = new Set(kept.map((entry) => entry.topic));
  const rest = all.filter((entry) => !keptNames.has(entry.topic));
  return [...kept, { topic: OTHER_LABEL, bytes: rest.reduce((sum, entry) => sum + entry.bytes, 0), segments: rest.reduce((sum, entry) => sum + entry.segments, 0) }];
}

/** High watermark minus committed offset, per committed partition of the first MAX_GROUPS_SCANNED groups; the largest MAX_LAG_SERIES. */
export async function groupLags(store: Pick<LogStore, 'listGroups' | 'fetchOffsets'>, topics: readonly TopicDescription[]): Promise<{ lags: Lag[]; groups: number }> {
  const highWatermarks = new Map<string, readonly number[]>();
  for (const topic of topics) highWatermarks.set(topic.name, topic.partitions.map((partition) => partition.highWatermark));
  const groups = await store.listGroups();
  const lags: Lag[] = [];
  for (const group of groups.slice(0, MAX_GROUPS_SCANNED)) {
    let committed;
    try {
      committed = await store.fetchOffsets(group);
    } catch {
      continue; // deleted between the listing and now
    }
    for (const entry of committed) {
      const highWatermark = highWatermarks.get(entry.topic)?.[entry.partition];
      if (highWatermark === undefined) continue;
      lags.push({ group, topic: entry.topic, partition: entry.partition, lag: Math.max(0, highWatermark - entry.offset) });
    }
  }
  return { lags: largest(lags, MAX_LAG_SERIES, (entry) => entry.lag), groups: groups.length };
}

export class BrokerStateMetrics {
  #store: LogStore | null = null;
  #dataDir: string | null = null;
  #snapshot: { at: number; value: Promise<Snapshot | null> } | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    const snapshot = (): Promise<Snapshot | null> => this.#read();
    const dataDir = (): string | null => this.#dataDir;
    new Gauge({
      name: 'sealbus_log_size_bytes',
      help: `Bytes held by each topic's segments (all partitions), internal topics included. The largest ${MAX_TOPIC_SERIES - 1} topics have their own series, the rest are summed under topic="(other)".`,
      labelNames: ['topic'] as const,
      registers,
      async collect() {
        const state = await snapshot();
        this.reset();
        for (const size of state?.sizes ?? []) this.set({ topic: size.topic }, size.bytes);
      },
    });
    new Gauge({
      name: 'sealbus_log_segments',
      help: 'Segment files of each topic (all partitions); same topics as sealbus_log_size_bytes. Many small segments mean segmentBytes is too small.',
      labelNames: ['topic'] as const,
      registers,
      async collect() {
        const state = await snapshot();
        this.reset();
        for (const size of state?.sizes ?? []) this.set({ topic: size.topic }, size.segments);
      },
    });
    new Gauge({
      name: 'sealbus_log_read_only_partitions',
      help: 'Partitions refusing appends after a failed write or fsync (SEALBUS_ERR_PARTITION_READ_ONLY) until the broker restarts. Alert on anything above 0.',
      registers,
      async collect() {
        this.set((await snapshot())?.readOnly ?? 0);
      },
    });
    new Gauge({
      name: 'sealbus_consumer_group_lag',
      help: `Records between a consumer group's committed offset and the partition's high watermark, read when scraped. At most ${MAX_LAG_SERIES} series (the largest lags) from the first ${MAX_GROUPS_SCANNED} groups. Alert when it keeps growing.`,
      labelNames: ['group', 'topic', 'partition'] as const,
      registers,
      async collect() {
        const state = await snapshot();
        this.reset();
        for (const lag of state?.lags ?? []) this.set({ group: lag.group, topic: lag.topic, partition: String(lag.partition) }, lag.lag);
      },
    });
    new Gauge({
      name: 'sealbus_consumer_groups',
      help: 'Consumer groups with committed offsets in the store.',
      registers,
      async collect() {
        this.set((await snapshot())?.groups ?? 0);
      },
    });
    new Gauge({
      name: 'sealbus_disk_free_bytes',
      help: 'Bytes available to the broker on the file system of the data directory (store.dir). Alert below 10% of sealbus_disk_size_bytes: a full disk refuses every produce (SEALBUS_ERR_STORAGE_FULL) and the audit log.',
      registers,
      async collect() {
        const dir = dataDir();
        if (dir === null) return;
        const stats = await statfs(dir).catch(() => null);
        if (stats !== null) this.set(stats.bavail * stats.bsize);
      },
    });
    new Gauge({
      name: 'sealbus_disk_size_bytes',
      help: 'Size of the file system of the data directory (store.dir).',
      registers,
      async collect() {
        const dir = dataDir();
        if (dir === null) return;
        const stats = await statfs(dir).catch(() => null);
        if (stats !== null) this.set(stats.blocks * stats.bsize);
      },
    });
  }

  watchStore(store: LogStore, dataDir: string): void {
    this.#store = store;
    this.#dataDir = dataDir;
  }

  #read(): Promise<Snapshot | null> {
    const store = this.#store;
    if (store === null) return Promise.resolve(null);
    const now = performance.now();
    if (this.#snapshot === null || now - this.#snapshot.at > SNAPSHOT_MS) {
      // A store that cannot be read (it is closing) leaves these gauges empty rather than failing the scrape.
      this.#snapshot = { at: now, value: readSnapshot(store).catch(() => null) };
    }
    return this.#snapshot.value;
  }
}

async function readSnapshot(store: LogStore): Promise<Snapshot> {
  const topics = await store.listTopics();
  let readOnly = 0;
  for (const topic of topics) for (const partition of topic.partitions) if (partition.readOnly) readOnly++;
  const { lags, groups } = await groupLags(store, topics);
  return { sizes: topicSizes(topics), readOnly, lags, groups };
}
