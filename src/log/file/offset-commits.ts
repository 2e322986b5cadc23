import type { CommittedOffset, RecoveryProblem } from '../types.js';
import type { LogFileSystem } from './fs-seam.js';
import { Journal, type JournalDamage } from './journal.js';

/** Rewrite the journal once it is past this size and mostly superseded records. */
const COMPACT_MIN_BYTES = 1024 * 1024;

interface StoredCommit extends CommittedOffset {
  /** The topic incarnation: offsets of a deleted topic do not carry over to a new one of that name. */
  readonly topicId: string;
}

export interface CommitEntry {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

type CommitRecord =
  | { readonly t: 'c'; readonly g: string; readonly at: number; readonly e: [string, string, number, number, string][] }
  | { readonly t: 'd'; readonly g: string };

function isCommitRecord(value: unknown): value is CommitRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (typeof record['g'] !== 'string') return false;
  if (record['t'] === 'd') return true;
  return record['t'] === 'c' && typeof record['at'] === 'number' && Array.isArray(record['e']);
}

export function journalProblems(name: string, damage: readonly JournalDamage[]): RecoveryProblem[] {
  return damage.map((range) => ({
    kind: range.tail ? 'torn-tail' : 'invalid-metadata',
    topic: '',
    partition: -1,
    segment: name,
    position: range.position,
    bytes: range.bytes,
    fromOffset: null,
    toOffset: null,
    detail: range.tail ? 'cut an unfinished journal record; it was never acknowledged' : 'skipped a journal record that fails its checksum',
  }));
}

/**
 * Consumer-group committed offsets: one journal record per commit (all of its partitions or none),
 * durable before the commit resolves; the latest value per group, topic and partition wins.
 */
export class OffsetCommits {
  private readonly groups = new Map<string, Map<string, StoredCommit>>();
  private compacting = false;

  private constructor(
    private readonly journal: Journal,
    private readonly isLive: (topic: string, topicId: string) => boolean,
  ) {}

  static async open(
    fileSystem: LogFileSystem,
    path: string,
    isLive: (topic: string, topicId: string) => boolean,
  ): Promise<{ commits: OffsetCommits; problems: RecoveryProblem[] }> {
    const { journal, values, damage } = await Journal.open(fileSystem, path);
    const commits = new OffsetCommits(journal, isLive);
    for (const value of values) if (isCommitRecord(value)) commits.apply(value);
    return { commits, problems: journalProblems('offsets.journal', damage) };
  }

  private apply(record: CommitRecord): void {
    if (record.t === 'd') {
      this.groups.delete(record.g);
      return;
    }
    let offsets = this.groups.get(record.g);
    if (offsets === undefined) {
      offsets = new Map();
      this.groups.set(record.g, offsets);
    }
    for (const [topic, topicId, partition, offset, metadata] of record.e) {
      offsets.set(`${partition}:${topic}`, { topic, topicId, partition, offset, metadata, committedAt: record.at });
    }
  }

  async commit(group: string, entries: readonly CommitEntry[], committedAt: number): Promise<void> {
    const record: CommitRecord = {
      t: 'c',
      g: group,
      at: committedAt,
      e: entries.map((entry) => [entry.topic, entry.topicId, entry.partition, entry.offset, entry.metadata]),
    };
    await this.journal.append(record);
    this.apply(record);
    await this.compactIfWorthIt();
  }

  fetch(group: string): CommittedOffset[] {
    const out: CommittedOffset[] = [];
    for (const stored of this.groups.get(group)?.values() ?? []) {
      if (!this.isLive(stored.topic, stored.topicId)) continue;
      const { topic, partition, offset, metadata, committedAt } = stored;
      out.push({ topic, partition, offset, metadata, committedAt });
    }
    return out;
  }

  groupNames(): string[] {
    return [...this.groups.keys()].filter((group) => this.fetch(group).length > 0).sort();
  }

  async deleteGroup(group: string): Promise<void> {
    if (!this.groups.has(group)) return;
    const record: CommitRecord = { t: 'd', g: group };
    await this.journal.append(record);
    this.apply(record);
  }

  private liveRecords(): CommitRecord[] {
    const records: CommitRecord[] = [];
    for (const [group, offsets] of this.groups) {
      const live = [...offsets.values()].filter((stored) => this.isLive(stored.topic, stored.topicId));
      for (const stored of live) {
        records.push({ t: 'c', g: group, at: stored.committedAt, e: [[stored.topic, stored.topicId, stored.partition, stored.offset, stored.metadata]] });
      }
    }
    return records;
  }

  private async compactIfWorthIt(): Promise<void> {
    if (this.compacting || this.journal.bytes < COMPACT_MIN_BYTES) return;
    let live = 0;
    for (const offsets of this.groups.values()) live += offsets.size;
    // Each live entry takes roughly 100 bytes; compact once most of the file is superseded.
    if (this.journal.bytes < live * 400) return;
    this.compacting = true;
    try {
      await this.journal.rewrite(this.liveRecords());
    } finally {
      this.compacting = false;
    }
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
