import { createHash } from 'node:crypto';

/** A broker the lease shows alive: its id, the instance holding it, when it last renewed (its clock). */
export interface LiveBroker {
  readonly brokerId: string;
  readonly instance: string;
  readonly lastSeen: number;
}

function score(group: string, brokerId: string): bigint {
  const digest = createHash('sha256').update(group, 'utf8').update('\0').update(brokerId, 'utf8').digest();
  return digest.readBigUInt64BE(0);
}

/**
 * Rendezvous (highest random weight) hashing: the broker with the highest hash of (group, broker)
 * coordinates the group. Every broker that sees the same set picks the same one, and a broker
 * joining or leaving moves only the groups it wins or held. Ties (never in practice) go to the
 * smaller id. Null for an empty set.
 */
export function rendezvousOwner(group: string, brokers: Iterable<string>): string | null {
  let best: string | null = null;
  let bestScore = -1n;
  for (const brokerId of brokers) {
    const s = score(group, brokerId);
    if (s > bestScore || (s === bestScore && best !== null && brokerId < best)) {
      best = brokerId;
      bestScore = s;
    }
  }
  return best;
}

/**
 * Which broker coordinates each group: rendezvous hashing over the brokers the lease shows alive,
 * this one always included, minus the brokers found gone (a forwarded request met no responder).
 * A broker found gone stays out until the lease shows a hold of it newer than the one known when
 * it was found gone (it came back, or it was alive after all).
 */
export class GroupRouting {
  readonly self: string;
  readonly #live: () => readonly LiveBroker[];
  /** Broker id → its lastSeen when it was found gone. */
  readonly #gone = new Map<string, number>();

  constructor(self: string, live: () => readonly LiveBroker[]) {
    this.self = self;
    this.#live = live;
  }

  /** The brokers groups are spread over now, this one included, sorted. */
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

  coordinatorOf(group: string): string {
    return rendezvousOwner(group, this.brokers()) ?? this.self;
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
