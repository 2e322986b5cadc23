import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import { SealbusError } from '../../errors/index.js';
import { resolveTopicConfig } from '../topic-config.js';
import { topicNameProblem } from '../topic-name.js';
import type { TopicConfig } from '../types.js';
import type { TopicRecord } from './jetstream-partition.js';
import { kvObject } from './kv-json.js';
import { isTopicId } from './names.js';

export type TopicChange = (name: string, before: TopicRecord | undefined, after: TopicRecord | undefined) => void;

/**
 * Parses a topic record read from the bucket. Nothing from NATS is trusted: a record whose name,
 * id or settings do not validate is ignored (the topic is not served), never half-used.
 */
function parseRecord(entry: KvEntry): TopicRecord | null {
  if (topicNameProblem(entry.key, { allowInternal: true }) !== null) return null;
  const value = kvObject(entry);
  if (value === null) return null;
  const { name, id, createdAt, config } = value;
  if (name !== entry.key || !isTopicId(id) || typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt)) return null;
  let resolved: TopicConfig;
  try {
    resolved = resolveTopicConfig(config);
  } catch {
    return null;
  }
  return { name, id, createdAt, config: resolved, revision: entry.revision };
}

function encodeRecord(record: Omit<TopicRecord, 'revision'>): string {
  return JSON.stringify({ name: record.name, id: record.id, createdAt: record.createdAt, config: record.config });
}

/**
 * The topics and their settings, one KV entry per topic (the key is the topic name). Every broker
 * keeps a copy fed by a watch on the bucket, so that `topicConfig` can answer synchronously and a
 * topic created or deleted through another broker shows up here within a moment; operations that
 * find no topic in the copy ask the bucket before saying it does not exist.
 */
export class TopicCatalog {
  private readonly topics = new Map<string, TopicRecord>();
  /** The last revision seen per key, deletes included, so that a late answer never undoes a newer one. */
  private readonly revisions = new Map<string, number>();
  private watcher: QueuedIterator<KvWatchEntry> | null = null;

  constructor(
    private readonly kv: KV,
    private readonly onChange: TopicChange,
  ) {}

  /** Loads every topic and keeps following the bucket; resolves once the copy is complete. */
  async start(timeoutMs: number): Promise<void> {
    const status = await this.kv.status();
    const target = status.streamInfo.state.last_seq;
    const watcher = await this.kv.watch();
    this.watcher = watcher;
    let loaded: () => void = () => undefined;
    const complete = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    if (target === 0) loaded();
    void (async () => {
      for await (const entry of watcher) {
        this.apply(entry.key, entry.revision, entry.operation === 'PUT' ? parseRecord(entry) : null);
        if (entry.revision >= target) loaded();
      }
    })().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SealbusError('SEALBUS_ERR_STORE_UNAVAILABLE', { what: 'topic catalog', reason: `not loaded within ${timeoutMs} ms` })), timeoutMs);
    });
    try {
      await Promise.race([complete, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.watcher?.stop();
    this.watcher = null;
  }

  private apply(name: string, revision: number, record: TopicRecord | null): void {
    if (revision <= (this.revisions.get(name) ?? 0)) return;
    this.revisions.set(name, revision);
    const before = this.topics.get(name);
    const after = record ?? undefined;
    if (after === undefined) this.topics.delete(name);
    else this.topics.set(name, after);
    if (before !== after) this.onChange(name, before, after);
  }

  get(name: string): TopicRecord | undefined {
    return this.topics.get(name);
  }

  /** The topic as the bucket has it now (for names this broker has not heard of yet). */
  async fetch(name: string): Promise<TopicRecord | undefined> {
    const entry = await this.kv.get(name);
    if (entry !== null) this.apply(name, entry.revision, parseRecord(entry));
    return this.topics.get(name);
  }

  list(): TopicRecord[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  hasId(topicId: string): boolean {
    for (const record of this.topics.values()) if (record.id === topicId) return true;
    return false;
  }

  /** Registers a new topic; false when the name is taken (here or by another broker). */
  async create(record: Omit<TopicRecord, 'revision'>): Promise<TopicRecord | null> {
    const value = encodeRecord(record);
    let revision: number;
    try {
      const existing = await this.kv.get(record.name);
      if (existing !== null && existing.operation === 'PUT') return null;
      revision = existing === null ? await this.kv.create(record.name, value) : await this.kv.update(record.name, value, existing.revision);
    } catch (err) {
      if ((await this.fetch(record.name)) !== undefined) return null;
      throw err;
    }
    const created: TopicRecord = { ...record, revision };
    this.apply(record.name, revision, created);
    return created;
  }

  /** Removes a topic record, unless it changed since it was read; false when it did. */
  async remove(record: TopicRecord): Promise<boolean> {
    try {
      await this.kv.delete(record.name, { previousSeq: record.revision });
    } catch (err) {
      const now = await this.fetch(record.name);
      if (now?.id !== record.id) return false;
      throw err;
    }
    // The delete's own revision is not returned; any revision between the record's and the watch's next one orders it.
    this.apply(record.name, record.revision + 0.5, null);
    return true;
  }
}
