import type { KV, KvEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import type { CommittedOffset } from '../types.js';
import { kvObject } from './kv-json.js';
import { fromKeyToken, isTopicId, keyToken } from './names.js';

export interface CommitEntry {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

/** Keys are `<group>.<topicId>.<partition>`, the group name base64url-encoded (any printable name fits a key token). */
interface ParsedKey {
  readonly group: string;
  readonly topicId: string;
  readonly partition: number;
}

function parseKey(key: string): ParsedKey | null {
  const [token, topicId, partition, ...rest] = key.split('.');
  if (token === undefined || partition === undefined || rest.length > 0 || !isTopicId(topicId) || !/^(0|[1-9][0-9]{0,8})$/.test(partition)) return null;
  const group = fromKeyToken(token);
  return group === null ? null : { group, topicId, partition: Number(partition) };
}

function parseValue(entry: KvEntry | null, key: ParsedKey): CommittedOffset | null {
  const value = kvObject(entry);
  if (value === null) return null;
  const { topic, partition, offset, metadata, committedAt } = value;
  const safe = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof topic !== 'string' || partition !== key.partition || !safe(offset) || typeof metadata !== 'string' || !safe(committedAt)) return null;
  return { topic, partition, offset, metadata, committedAt };
}

/** Keys listed at most: a bucket holding more is refused rather than read without end. */
const MAX_KEYS = 100_000;

/**
 * The keys of a listing, within `timeoutMs`: the client's key listing has no deadline of its own,
 * and one that never ends (a bucket without a leader) would hold a group's lock for good.
 */
async function collect(listing: Promise<QueuedIterator<string>>, timeoutMs: number): Promise<string[]> {
  const iterator = await listing;
  const out: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      iterator.stop();
      reject(new Error(`TimeoutError: listing the committed offsets took over ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        for await (const key of iterator) {
          if (out.length >= MAX_KEYS) {
            iterator.stop();
            throw new Error(`the committed offsets bucket lists over ${MAX_KEYS} keys`);
          }
          out.push(key);
        }
      })(),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/**
 * Consumer groups' committed offsets, one KV entry per group and partition: commits of different
 * partitions never contend, and the latest commit of a partition wins, as on the file store. An
 * entry names the topic's id, so a topic deleted and created again starts without the old
 * group's offsets even if the cleanup at deletion did not finish.
 */
export class CommittedOffsets {
  constructor(
    private readonly kv: KV,
    /** Whether a topic with this id still exists. */
    private readonly isLive: (topicId: string) => boolean,
    private readonly timeoutMs: number,
  ) {}

  private prefix(group: string): string {
    return keyToken(group);
  }

  async commit(group: string, entries: readonly CommitEntry[], committedAt: number): Promise<void> {
    await Promise.all(
      entries.map(({ topic, topicId, partition, offset, metadata }) =>
        this.kv.put(`${this.prefix(group)}.${topicId}.${partition}`, JSON.stringify({ topic, partition, offset, metadata, committedAt })),
      ),
    );
  }

  async fetch(group: string): Promise<CommittedOffset[]> {
    const keys = await collect(this.kv.keys(`${this.prefix(group)}.>`), this.timeoutMs);
    const live = keys.map(parseKey).filter((key): key is ParsedKey => key !== null && key.group === group && this.isLive(key.topicId));
    const values = await Promise.all(live.map(async (key) => parseValue(await this.kv.get(`${this.prefix(group)}.${key.topicId}.${key.partition}`), key)));
    return values.filter((value): value is CommittedOffset => value !== null);
  }

  async groups(): Promise<string[]> {
    const names = new Set<string>();
    for (const key of await collect(this.kv.keys(), this.timeoutMs)) {
      const parsed = parseKey(key);
      if (parsed !== null && this.isLive(parsed.topicId)) names.add(parsed.group);
    }
    return [...names].sort();
  }

  async deleteGroup(group: string): Promise<void> {
    const keys = await collect(this.kv.keys(`${this.prefix(group)}.>`), this.timeoutMs);
    await Promise.all(keys.map((key) => this.kv.purge(key)));
  }

  /** Drops every group's offsets of a deleted topic (best effort: `isLive` already hides them). */
  async deleteTopic(topicId: string): Promise<void> {
    const keys = await collect(this.kv.keys(`*.${topicId}.*`), this.timeoutMs);
    await Promise.all(keys.map((key) => this.kv.purge(key)));
  }
}
