/**
 * Every frame of protocol v1 as a discriminated union on `type`. Requests carry the client's
 * `requestId`; broker pushes (RECORDS, SUBSCRIPTION_ERROR, TOKEN_EXPIRING, ASSIGNMENT, GROUP_ERROR) carry none, since their
 * wire requestId is always 0.
 */
import type { EncodedRecords, ProducerStamp } from '../log/types.js';

export type StartPosition =
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  /** The first record whose batch timestamp (ms since the epoch) is at or after this. */
  | { readonly kind: 'timestamp'; readonly timestamp: number };

// ---- client to broker ----

export interface ProduceFrame {
  readonly type: 'PRODUCE';
  readonly requestId: number;
  readonly topic: string;
  readonly partition: number;
  /** Present for idempotent producers; the broker de-duplicates retries by it. */
  readonly producer: ProducerStamp | null;
  /** On decode: a view into the frame, not a copy; validate with `validateRecords` before use. */
  readonly records: EncodedRecords;
}

export interface SubscribeFrame {
  readonly type: 'SUBSCRIBE';
  readonly requestId: number;
  readonly subscriptionId: number;
  readonly topic: string;
  readonly partition: number;
  readonly start: StartPosition;
  readonly creditBytes: number;
}

export interface CreditFrame {
  readonly type: 'CREDIT';
  /** Answered only when it fails (ERROR with this requestId); success is silent. */
  readonly requestId: number;
  readonly subscriptionId: number;
  readonly creditBytes: number;
}

export interface UnsubscribeFrame {
  readonly type: 'UNSUBSCRIBE';
  readonly requestId: number;
  readonly subscriptionId: number;
}

export interface RefreshFrame {
  readonly type: 'REFRESH';
  readonly requestId: number;
  readonly token: string;
}

export interface MetadataFrame {
  readonly type: 'METADATA';
  readonly requestId: number;
  readonly topic: string;
}

export interface InitProducerFrame {
  readonly type: 'INIT_PRODUCER';
  readonly requestId: number;
  /** Empty: an anonymous producer (a fresh id, nothing to fence). */
  readonly name: string;
}

/** How a group's partitions are spread over its members (docs/consumer-groups.md). */
export type GroupStrategy = 'range' | 'sticky';

export interface JoinGroupFrame {
  readonly type: 'JOIN_GROUP';
  readonly requestId: number;
  readonly group: string;
  readonly strategy: GroupStrategy;
  /** A member that sends no HEARTBEAT for this long is removed. */
  readonly sessionTimeoutMs: number;
  /** A member that does not release revoked partitions for this long is removed. */
  readonly rebalanceTimeoutMs: number;
  readonly topics: readonly string[];
}

export interface HeartbeatFrame {
  readonly type: 'HEARTBEAT';
  readonly requestId: number;
  readonly group: string;
  readonly memberId: string;
  /** The newest ASSIGNMENT generation the member has applied: revoked partitions released. */
  readonly generation: number;
}

export interface CommitOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to consume. */
  readonly offset: number;
}

export interface CommitFrame {
  readonly type: 'COMMIT';
  readonly requestId: number;
  readonly group: string;
  readonly memberId: string;
  readonly generation: number;
  readonly offsets: readonly CommitOffset[];
}

export interface LeaveGroupFrame {
  readonly type: 'LEAVE_GROUP';
  readonly requestId: number;
  readonly group: string;
  readonly memberId: string;
}

export type ClientFrame =
  | JoinGroupFrame
  | HeartbeatFrame
  | CommitFrame
  | LeaveGroupFrame
  | ProduceFrame
  | SubscribeFrame
  | CreditFrame
  | UnsubscribeFrame
  | RefreshFrame
  | MetadataFrame
  | InitProducerFrame;

// ---- broker to client ----

export interface ProduceAckFrame {
  readonly type: 'PRODUCE_ACK';
  readonly requestId: number;
  readonly baseOffset: number;
  readonly count: number;
  readonly timestamp: number;
  /** True when the batch was a retry of one already stored; the offsets are the original ones. */
  readonly duplicate: boolean;
}

export interface SubscribedFrame {
  readonly type: 'SUBSCRIBED';
  readonly requestId: number;
  readonly subscriptionId: number;
  readonly startOffset: number;
  readonly highWatermark: number;
}

export interface RecordsFrame {
  readonly type: 'RECORDS';
  readonly subscriptionId: number;
  readonly highWatermark: number;
  /** Whole stored batches; on decode, views into the frame whose CRC is not yet verified. */
  readonly batches: readonly Buffer[];
}

export interface RefreshedFrame {
  readonly type: 'REFRESHED';
  readonly requestId: number;
  readonly expiresAt: number;
}

export interface MetadataResultFrame {
  readonly type: 'METADATA_RESULT';
  readonly requestId: number;
  readonly topic: string;
  readonly partitions: number;
  readonly maxRecordBytes: number;
  /** The id of the topic's current value schema, which every record must carry (docs/schemas.md); absent: none (0 on the wire). */
  readonly valueSchemaId?: number;
  /** The same for the key schema. */
  readonly keySchemaId?: number;
}

export interface ProducerFrame {
  readonly type: 'PRODUCER';
  readonly requestId: number;
  readonly producerId: number;
  readonly epoch: number;
}

export interface SubscriptionErrorFrame {
  readonly type: 'SUBSCRIPTION_ERROR';
  readonly subscriptionId: number;
  /** A catalog code; kept as a string because a newer broker may send one this build does not know. */
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
}

export interface TokenExpiringFrame {
  readonly type: 'TOKEN_EXPIRING';
  readonly expiresAt: number;
}

export interface GroupJoinedFrame {
  readonly type: 'GROUP_JOINED';
  readonly requestId: number;
  readonly memberId: string;
  readonly heartbeatIntervalMs: number;
}

export interface AssignedPartition {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset (the next to consume), or null when it never committed one. */
  readonly committedOffset: number | null;
}

export interface AssignmentFrame {
  readonly type: 'ASSIGNMENT';
  readonly group: string;
  readonly memberId: string;
  readonly generation: number;
  /** Every partition the member owns from now on; those it owned before and are missing are revoked. */
  readonly partitions: readonly AssignedPartition[];
}

export interface GroupErrorFrame {
  readonly type: 'GROUP_ERROR';
  readonly group: string;
  readonly memberId: string;
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
}

export interface ErrorFrame {
  readonly type: 'ERROR';
  /** 0: the session itself failed and the broker closes it. */
  readonly requestId: number;
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
  /** Wait at least this long before sending the request again (a quota refusal); absent: no hint. */
  readonly retryAfterMs?: number;
}

export interface OkFrame {
  readonly type: 'OK';
  readonly requestId: number;
}

export type BrokerFrame =
  | GroupJoinedFrame
  | AssignmentFrame
  | GroupErrorFrame
  | ProduceAckFrame
  | SubscribedFrame
  | RecordsFrame
  | RefreshedFrame
  | MetadataResultFrame
  | ProducerFrame
  | SubscriptionErrorFrame
  | TokenExpiringFrame
  | ErrorFrame
  | OkFrame;

export type Frame = ClientFrame | BrokerFrame;

/** Frames the broker pushes unasked; the rest of the broker frames answer a request. */
export type PushFrame = RecordsFrame | SubscriptionErrorFrame | TokenExpiringFrame | AssignmentFrame | GroupErrorFrame;
export type ReplyFrame = Exclude<BrokerFrame, PushFrame>;
