/** Consumer groups across the brokers of one store: routing, forwarding, and the coordinator's service for other brokers. */
export { ClusterGroups, FORWARD_TIMEOUTS, type ClusterGroupsOptions } from './cluster-groups.js';
export { BrokerRouting, rendezvousOwner, type LiveBroker } from '../../cluster/routing.js';
