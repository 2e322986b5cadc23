/** Consumer groups across the brokers of one store: routing, forwarding, and the coordinator's service for other brokers. */
export { ClusterGroups, FORWARD_TIMEOUTS, type ClusterGroupsOptions } from './cluster-groups.js';
export { GroupRouting, rendezvousOwner, type LiveBroker } from './routing.js';
