import type { KV, KvEntry } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
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

/** Listing and removing keys of the bucket by filter (`*` and `>` wildcards, as in a KV key listing). */
export interface BucketKeys {
  list(filter: string): Promise<Iterable<string>>;
  /** Removes every message of the matching keys, purge markers included (a listing no longer names them). */
  purge(filter: string): Promise<void>;
}

/**
 * Keys through the bucket's stream: stream info with a subject filter lists them (request and
 * reply, each with the client's timeout, paged by the client), a filtered stream purge removes
 * them. The KV client's own listing is an ordered consumer with no deadline, which was seen never
 * to end (its group's lock then held for good); its purge leaves a marker per key, which the
 * stream's subjects would still list.
 */
export function streamBucketKeys(jsm: JetStreamManager, bucket: string): BucketKeys {
  const prefix = `$KV.${bucket}.`;
  const stream = `KV_${bucket}`;
  return {
    async list(filter) {
      const info = await jsm.streams.info(stream, { subjects_filter: `${prefix}${filter}` });
      return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
    },
    async purge(filter) {
      await jsm.streams.purge(stream, { filter: `${prefix}${filter}` });
    },
  };
}

/** The keys of a listing, within `timeoutMs` and MAX_KEYS. */
async function collect(listing: Promise<Iterable<string>>, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`TimeoutError: listing the committed offsets took over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const out: string[] = [];
    for (const key of await Promise.race([listing, expired])) {
      if (out.length >= MAX_KEYS) throw new Error(`the committed offsets bucket lists over ${MAX_KEYS} keys`);
      out.push(key);
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
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
    private readonly keys: BucketKeys,
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
    const keys = await collect(this.keys.list(`${this.prefix(group)}.>`), this.timeoutMs);
    const live = keys.map(parseKey).filter((key): key is ParsedKey => key !== null && key.group === group && this.isLive(key.topicId));
    const values = await Promise.all(live.map(async (key) => parseValue(await this.kv.get(`${this.prefix(group)}.${key.topicId}.${key.partition}`), key)));
    return values.filter((value): value is CommittedOffset => value !== null);
  }

  async groups(): Promise<string[]> {
    const names = new Set<string>();
    for (const key of await collect(this.keys.list('>'), this.timeoutMs)) {
      const parsed = parseKey(key);
      if (parsed !== null && this.isLive(parsed.topicId)) names.add(parsed.group);
    }
    return [...names].sort();
  }

  async deleteGroup(group: string): Promise<void> {
    await this.keys.purge(`${this.prefix(group)}.>`);
  }

  /** Drops every group's offsets of a deleted topic (best effort: `isLive` already hides them). */
  async deleteTopic(topicId: string): Promise<void> {
    await this.keys.purge(`*.${topicId}.*`);
  }
}
