import { createHash } from 'node:crypto';

/** A broker the lease shows alive: its id, the instance holding it, when it last renewed (its clock). */
export interface LiveBroker {
  readonly brokerId: string;
  readonly instance: string;
  readonly lastSeen: number;
}

function score(key: string, brokerId: string): bigint {
  const digest = createHash('sha256').update(key, 'utf8').update('\0').update(brokerId, 'utf8').digest();
  return digest.readBigUInt64BE(0);
}

/**
 * Rendezvous (highest random weight) hashing: the broker with the highest hash of (key, broker)
 * owns the key (a group, a partition). Every broker that sees the same set picks the same one, and
 * a broker joining or leaving moves only the keys it wins or held. Ties (never in practice) go to
 * the smaller id. Null for an empty set.
 */
export function rendezvousOwner(key: string, brokers: Iterable<string>): string | null {
  let best: string | null = null;
  let bestScore = -1n;
  for (const brokerId of brokers) {
    const s = score(key, brokerId);
    if (s > bestScore || (s === bestScore && best !== null && brokerId < best)) {
      best = brokerId;
      bestScore = s;
    }
  }
  return best;
}

/** The key a partition is routed by: apart from every group name (topic names hold no NUL). */
export function partitionKey(topic: string, partition: number): string {
  return `partition\0${topic}\0${partition}`;
}

/**
 * Which broker owns what among the brokers of one store: the coordinator of each consumer group,
 * the one writer of each partition. Rendezvous hashing over the brokers the lease shows alive,
 * this one always included, minus the brokers found gone (a forwarded request met no responder).
 * A broker found gone stays out until the lease shows a hold of it newer than the one known when
 * it was found gone (it came back, or it was alive after all). One instance per broker serves
 * groups and partitions alike, so a broker found gone by one is routed around by both.
 */
export class BrokerRouting {
  readonly self: string;
  readonly #live: () => readonly LiveBroker[];
  /** Broker id → its lastSeen when it was found gone. */
  readonly #gone = new Map<string, number>();

  constructor(self: string, live: () => readonly LiveBroker[]) {
    this.self = self;
    this.#live = live;
  }

  /** The brokers groups and partitions are spread over now, this one included, sorted. */
  brokers(): string[] {
    const ids = new Set<string>([this.self]);
    for (const broker of this.#live()) {
      const goneAt = this.#gone.get(broker.brokerId);
      if (goneAt !== undefined && broker.lastSeen <= goneAt) continue;
      if (goneAt !== undefined) this.#gone.delete(broker.brokerId);
      ids.add(broker.brokerId);
    }
    return [...ids].sort();
  }

  ownerOf(key: string): string {
    return rendezvousOwner(key, this.brokers()) ?? this.self;
  }

  /** The broker coordinating a consumer group. */
  coordinatorOf(group: string): string {
    return this.ownerOf(group);
  }

  /** The broker that writes a partition (docs/cluster.md, "One writer per partition"). */
  writerOf(topic: string, partition: number): string {
    return this.ownerOf(partitionKey(topic, partition));
  }

  /** A request to `brokerId` met no responder: route around it until it renews its hold. */
  markGone(brokerId: string): void {
    if (brokerId === this.self) return;
    const live = this.#live().find((broker) => broker.brokerId === brokerId);
    // Not listed: not routed to anyway, and a hold it writes later brings it back.
    if (live === undefined) return;
    this.#gone.set(brokerId, live.lastSeen);
    // Bounded: only brokers the lease still lists are worth remembering.
    if (this.#gone.size > 1024) {
      const listed = new Set(this.#live().map((broker) => broker.brokerId));
      for (const id of this.#gone.keys()) if (!listed.has(id)) this.#gone.delete(id);
    }
  }

  /** The instance holding `brokerId` now, or null when the lease no longer shows it alive. */
  instanceOf(brokerId: string): string | null {
    return this.#live().find((broker) => broker.brokerId === brokerId)?.instance ?? null;
  }
}
