import type { KV, KvEntry } from '@nats-io/kv';
import { parseProducerSnapshot, type ProducerSnapshot } from '../producer-sequences.js';
import { kvObject } from './kv-json.js';

export interface StoredSnapshot {
  /** The stream sequence the snapshot is the state after. */
  readonly seq: number;
  readonly producers: ProducerSnapshot;
}

function parse(entry: KvEntry | null): StoredSnapshot | null {
  const value = kvObject(entry);
  if (value === null) return null;
  const { seq, producers } = value;
  const parsed = parseProducerSnapshot(producers);
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || parsed === null) return null;
  return { seq, producers: parsed };
}

/**
 * The idempotent producers' state of each partition, saved now and then in a KV bucket so that a
 * broker opening a partition replays only the headers written since, not the whole stream, and
 * saved before retention removes messages, so that a producer whose last batches go keeps its
 * place in the sequence (the file store's checkpoint does the same).
 */
export class ProducerSnapshots {
  constructor(private readonly kv: KV) {}

  private key(topicId: string, partition: number): string {
    return `${topicId}.${partition}`;
  }

  /** The saved snapshot, or null when there is none or it is not well-formed (the state is then rebuilt from the stream). */
  async load(topicId: string, partition: number): Promise<StoredSnapshot | null> {
    return parse(await this.kv.get(this.key(topicId, partition)));
  }

  /**
   * Saves a snapshot unless a newer one is already there: brokers save concurrently, and an older
   * snapshot landing after retention would point below the first message still held.
   */
  async save(topicId: string, partition: number, snapshot: StoredSnapshot): Promise<void> {
    const key = this.key(topicId, partition);
    const value = JSON.stringify(snapshot);
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await this.kv.get(key);
      const current = parse(entry);
      if (current !== null && current.seq >= snapshot.seq) return;
      try {
        if (entry === null) await this.kv.create(key, value);
        else await this.kv.update(key, value, entry.revision);
        return;
      } catch {
        // Another broker saved in between: look again.
      }
    }
  }

  async remove(topicId: string, partition: number): Promise<void> {
    await this.kv.purge(this.key(topicId, partition));
  }
}
