/**
 * The brokers of a shared JetStream store (docs/cluster.md): one routing over the brokers the
 * lease shows alive, used for consumer groups (each group's operations go to its coordinator) and
 * for appends (each partition's batches go to its one writer). The file and memory stores have one
 * broker, its own coordinator and writer: nothing is started.
 */
import type { BrokerLease } from '../audit/index.js';
import type { Broker } from '../broker/index.js';
import { BrokerRouting, ClusterAppends, RoutedLogStore } from '../broker/cluster/index.js';
import { ClusterGroups } from '../broker/groups/cluster/index.js';
import { JetStreamLogStore, type LogStore } from '../log/index.js';

/** A forwarded append waits this many JetStream request timeouts: the owner's own append may take three publishes. */
const FORWARD_TIMEOUT_REQUESTS = 4;

/** The routing among the brokers of a shared store; null for a store with one broker. */
export function clusterRouting(store: LogStore, lease: BrokerLease | null): BrokerRouting | null {
  if (!(store instanceof JetStreamLogStore) || lease === null) return null;
  return new BrokerRouting(lease.brokerId, () => lease.liveBrokers());
}

/** One writer per partition: starts appending for the other brokers and returns the store the Broker appends through. */
export function startClusterAppends(store: LogStore, routing: BrokerRouting | null, report: (err: unknown) => void): { appends: ClusterAppends; store: LogStore } | null {
  if (!(store instanceof JetStreamLogStore) || routing === null) return null;
  const appends = new ClusterAppends({
    store,
    routing,
    bus: store.messageBus(),
    subjects: store.appendSubjects(),
    timeoutMs: FORWARD_TIMEOUT_REQUESTS * store.requestTimeoutMs(),
    report,
  });
  appends.start();
  return { appends, store: new RoutedLogStore(store, appends) };
}

export function startClusterGroups(store: LogStore, routing: BrokerRouting | null, instance: string, broker: Broker, report: (err: unknown) => void): ClusterGroups | null {
  if (!(store instanceof JetStreamLogStore) || routing === null) return null;
  const cluster = new ClusterGroups({
    local: broker.groups.coordinator,
    routing,
    bus: store.messageBus(),
    subjects: store.groupSubjects(),
    instance,
    report,
  });
  cluster.start();
  broker.groups.useBackend(cluster);
  return cluster;
}
