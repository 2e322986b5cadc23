export { describeResource, type AccessContext, type Action, type Actor, type Authorizer, type Decision, type Resource } from './access.js';
export { PolicyAuthorizer } from './policy-authorizer.js';
export { Broker, type BrokerLimits, type BrokerOptions, type CreateTopicInput, type ProduceRecord, type StartPosition } from './broker.js';
export { Subscription, type SubscriptionOptions } from './subscription.js';
export { ConsumerGroups, type JoinGroupInput, type ResetTarget } from './consumer-groups.js';
