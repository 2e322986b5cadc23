/**
 * Consumer groups across brokers (docs/cluster.md): on a shared JetStream store, group operations
 * go to each group's coordinator broker, chosen among the brokers the lease shows alive. The file
 * and memory stores have one broker, whose own coordinator serves every group: nothing is started.
 */
import type { BrokerLease } from '../audit/index.js';
import type { Broker } from '../broker/index.js';
import { ClusterGroups, GroupRouting } from '../broker/groups/cluster/index.js';
import { JetStreamLogStore, type LogStore } from '../log/index.js';

export function startClusterGroups(store: LogStore, lease: BrokerLease | null, broker: Broker, report: (err: unknown) => void): ClusterGroups | null {
  if (!(store instanceof JetStreamLogStore) || lease === null) return null;
  const cluster = new ClusterGroups({
    local: broker.groups.coordinator,
    routing: new GroupRouting(lease.brokerId, () => lease.liveBrokers()),
    bus: store.messageBus(),
    subjects: store.groupSubjects(),
    instance: lease.instance,
    report,
  });
  cluster.start();
  broker.groups.useBackend(cluster);
  return cluster;
}
