import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import { KvWatchInclude } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import { SealbusError } from '../../errors/index.js';
import { MAX_PRODUCER_EPOCH } from '../producer-registry.js';
import type { ProducerStamp } from '../types.js';
import { kvObject } from './kv-json.js';
import { keyToken } from './names.js';
import { storeError } from './nats-errors.js';

/** How often an update is tried again after another broker changed the same key first. */
const MAX_ATTEMPTS = 32;
const ALLOCATION_KEY = 'allocation';

function integerIn(entry: KvEntry | null, field: string): number | null {
  const value = kvObject(entry)?.[field];
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function conflict(): SealbusError {
  return new SealbusError('SEALBUS_ERR_STORE_CONFLICT', { what: 'the producer registry' });
}

/**
 * Idempotent producers' ids and epochs, shared by every broker through a KV bucket:
 * `allocation` (written once per new id: its revision is the id), `id.<n>` (that id's current
 * epoch) and `name.<name>` (the id a named producer uses). Epoch and name changes are a
 * compare-and-set on the key's revision, so two brokers initializing the same name at once end with
 * two distinct epochs, and the older one is fenced: on replicated buckets that needs nats-server
 * 2.9.21 or later (docs/cluster.md). Each broker caches epochs, updated by a watch; a stamp the cache cannot vouch
 * for (unknown id, or an epoch above the cached one) is checked against the bucket itself.
 */
export class ProducerIds {
  private readonly epochs = new Map<number, number>();
  private watcher: QueuedIterator<KvWatchEntry> | null = null;

  constructor(private readonly kv: KV) {}

  async start(): Promise<void> {
    const watcher = await this.kv.watch({ key: 'id.>', include: KvWatchInclude.UpdatesOnly });
    this.watcher = watcher;
    void (async () => {
      for await (const entry of watcher) {
        const producerId = Number(entry.key.slice(3));
        const epoch = integerIn(entry, 'epoch');
        if (Number.isSafeInteger(producerId) && epoch !== null) this.learn(producerId, epoch);
      }
    })().catch(() => undefined);
  }

  stop(): void {
    this.watcher?.stop();
    this.watcher = null;
  }

  private learn(producerId: number, epoch: number): void {
    if (epoch > (this.epochs.get(producerId) ?? -1)) this.epochs.set(producerId, epoch);
  }

  /**
   * A new producer id: the revision JetStream gives a write to the bucket, which its stream's leader
   * assigns, one per write, even on a replicated stream. (A compare-and-set counter is not safe
   * there: nats-server before 2.9.21 checks the expected revision outside Raft, nats-io/nats-server#4320,
   * and two brokers got the same id.) Ids are unique, not contiguous; revisions exceed every id the
   * earlier counter handed out, as each of those took at least two writes.
   */
  private async allocate(): Promise<number> {
    try {
      return await this.kv.put(ALLOCATION_KEY, JSON.stringify({ allocatedAt: Date.now() }));
    } catch (err) {
      throw storeError({ what: 'the producer registry' }, err);
    }
  }

  private async register(producerId: number, epoch: number): Promise<void> {
    await this.kv.put(`id.${producerId}`, JSON.stringify({ epoch }));
    this.learn(producerId, epoch);
  }

  /** See LogStore.initProducer. */
  async init(name: string | null): Promise<{ producerId: number; epoch: number }> {
    if (name === null) {
      const producerId = await this.allocate();
      await this.register(producerId, 0);
      return { producerId, epoch: 0 };
    }
    const nameKey = `name.${keyToken(name)}`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const named = await this.kv.get(nameKey);
      const known = integerIn(named, 'producerId');
      if (named === null || known === null) {
        const producerId = await this.allocate();
        await this.register(producerId, 0);
        if (await this.swap(nameKey, JSON.stringify({ producerId }), named)) return { producerId, epoch: 0 };
        continue;
      }
      const idEntry = await this.kv.get(`id.${known}`);
      const epoch = integerIn(idEntry, 'epoch');
      if (idEntry === null || epoch === null) throw new SealbusError('SEALBUS_ERR_PRODUCER_UNKNOWN', { producerId: known });
      if (epoch < MAX_PRODUCER_EPOCH) {
        if (!(await this.swap(`id.${known}`, JSON.stringify({ epoch: epoch + 1 }), idEntry))) continue;
        this.learn(known, epoch + 1);
        return { producerId: known, epoch: epoch + 1 };
      }
      // Epochs used up: fence the old id for good (an epoch no stamp can carry) and move the name to a new id.
      if (!(await this.swap(`id.${known}`, JSON.stringify({ epoch: MAX_PRODUCER_EPOCH + 1 }), idEntry))) continue;
      this.learn(known, MAX_PRODUCER_EPOCH + 1);
      const producerId = await this.allocate();
      await this.register(producerId, 0);
      if (await this.swap(nameKey, JSON.stringify({ producerId }), named)) return { producerId, epoch: 0 };
    }
    throw conflict();
  }

  /** Writes `value` if the key is still at `seen`'s revision (or still absent); false when it moved. */
  private async swap(key: string, value: string, seen: KvEntry | null): Promise<boolean> {
    try {
      if (seen === null) await this.kv.create(key, value);
      else await this.kv.update(key, value, seen.revision);
      return true;
    } catch (err) {
      const now = await this.kv.get(key);
      if ((now?.revision ?? 0) === (seen?.revision ?? 0)) throw storeError({ what: 'the producer registry' }, err);
      return false;
    }
  }

  /** Throws unless the stamp names a registered producer at its current epoch. */
  async check(stamp: ProducerStamp): Promise<void> {
    let current = this.epochs.get(stamp.producerId);
    if (current === undefined || stamp.epoch > current) {
      const epoch = integerIn(await this.kv.get(`id.${stamp.producerId}`), 'epoch');
      if (epoch !== null) this.learn(stamp.producerId, epoch);
      current = this.epochs.get(stamp.producerId);
    }
    if (current === undefined || stamp.epoch > current) {
      throw new SealbusError('SEALBUS_ERR_PRODUCER_UNKNOWN', { producerId: stamp.producerId });
    }
    if (stamp.epoch < current) {
      throw new SealbusError('SEALBUS_ERR_PRODUCER_FENCED', { producerId: stamp.producerId, epoch: stamp.epoch, currentEpoch: current });
    }
  }
}
