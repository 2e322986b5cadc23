import type { ErrorTable } from './error-spec.js';

/**
 * Errors of consumer groups: membership, fencing of stale members, and the group administration.
 * A member that receives UNKNOWN_MEMBER, SESSION_TIMEOUT or REBALANCE_TIMEOUT has lost its
 * partitions: it stops consuming them and joins again for a new member id.
 */
export const groupErrors = {
  SEALBUS_ERR_GROUP_UNKNOWN_MEMBER: {
    status: 409,
    retriable: false,
    message: 'Member {memberId} is not in group "{group}" on this session (it left or was removed); join the group again',
  },
  SEALBUS_ERR_GROUP_STALE_GENERATION: {
    status: 409,
    retriable: true,
    message:
      'Generation {generation} of group "{group}" is stale: the member is at generation {current}; apply the latest assignment and retry with generation {current}',
  },
  SEALBUS_ERR_GROUP_NOT_ASSIGNED: {
    status: 409,
    retriable: false,
    message: 'Partition {topic}/{partition} is not assigned to member {memberId} of group "{group}"; commit only partitions of the current assignment',
  },
  SEALBUS_ERR_GROUP_NOT_EMPTY: {
    status: 409,
    retriable: false,
    message: 'Group "{group}" has {members} active member(s); stop its consumers before changing or deleting it',
  },
  SEALBUS_ERR_GROUP_NOT_FOUND: {
    status: 404,
    retriable: false,
    message: 'Consumer group "{group}" has no members and no committed offsets',
  },
  SEALBUS_ERR_GROUP_SESSION_TIMEOUT: {
    status: 409,
    retriable: true,
    message: 'Member {memberId} of group "{group}" sent no heartbeat for {timeoutMs} ms and was removed; join the group again',
  },
  SEALBUS_ERR_GROUP_REBALANCE_TIMEOUT: {
    status: 409,
    retriable: true,
    message:
      'Member {memberId} of group "{group}" did not acknowledge its revoked partitions within {timeoutMs} ms and was removed; join the group again',
  },
  SEALBUS_ERR_GROUP_STRATEGY_MISMATCH: {
    status: 409,
    retriable: false,
    message: 'Group "{group}" uses the {current} assignment strategy, not {requested}; join with {current} or use another group',
  },
  SEALBUS_ERR_GROUP_TOO_MANY_MEMBERS: {
    status: 429,
    retriable: true,
    message: 'Group "{group}" already has its maximum of {limit} members; retry later or use another group',
  },
  SEALBUS_ERR_GROUP_TOO_MANY_GROUPS: {
    status: 429,
    retriable: true,
    message: 'The broker already coordinates its maximum of {limit} active consumer groups; retry later',
  },
  SEALBUS_ERR_GROUP_TOO_MANY_TOPICS: {
    status: 400,
    retriable: false,
    message: 'A group member may subscribe to at most {limit} topics, not {count}; split the topics over several groups',
  },
  SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE: {
    status: 503,
    retriable: true,
    message: 'The coordinator of group "{group}" (broker {brokerId}) is gone or no longer coordinates it: {reason}; join the group again',
  },
} as const satisfies ErrorTable;
