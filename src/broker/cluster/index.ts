/** What the brokers of one shared store divide among themselves: the routing, and one writer per partition. */
export { BrokerRouting, partitionKey, rendezvousOwner, type LiveBroker } from './routing.js';
export { ClusterAppends, type AppendRoutingStats, type ClusterAppendsOptions } from './cluster-appends.js';
export { RoutedLogStore } from './routed-store.js';
export { encodeForward, parseForward } from './append-wire.js';
