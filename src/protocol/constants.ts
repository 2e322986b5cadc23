/**
 * Constants of the WebSocket protocol v1 (docs/protocol.md). The server and the SDK import them
 * from here so that a change is one edit.
 */
import { TOPIC_NAME_MAX_LENGTH } from '../log/topic-name.js';

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'sealbus.v1';
/** Path of the WebSocket endpoint on the broker's HTTPS listener. */
export const WEBSOCKET_PATH = '/v1/ws';

/** Bytes of the header every frame starts with: u8 version, u8 type, u32 requestId. */
export const FRAME_HEADER_BYTES = 6;

/** Wire codes of the frame types. Client frames are below 0x80, broker frames at or above it. */
export const FRAME_TYPE_CODES = {
  PRODUCE: 0x01,
  SUBSCRIBE: 0x02,
  CREDIT: 0x03,
  UNSUBSCRIBE: 0x04,
  REFRESH: 0x05,
  METADATA: 0x06,
  INIT_PRODUCER: 0x07,
  JOIN_GROUP: 0x08,
  HEARTBEAT: 0x09,
  COMMIT: 0x0a,
  LEAVE_GROUP: 0x0b,
  PRODUCE_ACK: 0x81,
  SUBSCRIBED: 0x82,
  RECORDS: 0x83,
  REFRESHED: 0x84,
  METADATA_RESULT: 0x85,
  PRODUCER: 0x86,
  SUBSCRIPTION_ERROR: 0x87,
  TOKEN_EXPIRING: 0x88,
  GROUP_JOINED: 0x89,
  ASSIGNMENT: 0x8a,
  GROUP_ERROR: 0x8b,
  ERROR: 0x8f,
  OK: 0x90,
} as const;

export type FrameTypeName = keyof typeof FRAME_TYPE_CODES;

/** Start positions of SUBSCRIBE, as carried in its `startKind` byte. */
export const START_KIND_CODES = { offset: 0, earliest: 1, latest: 2, timestamp: 3 } as const;

/** Assignment strategies of JOIN_GROUP, as carried in its `strategy` byte. */
export const STRATEGY_CODES = { range: 0, sticky: 1 } as const;

/** PRODUCE flag: a producer stamp (producerId, epoch, baseSequence) follows. */
export const PRODUCE_FLAG_STAMP = 0x01;

/** ERROR flag (in the byte that was only `retriable`, bit 0): a `u32 retryAfterMs` follows. */
export const ERROR_FLAG_RETRY_AFTER = 0x02;

/** The epoch value the batch format reserves for "no producer"; never valid on the wire. */
export const NO_PRODUCER_EPOCH = 0xffff;

/** WebSocket close codes used by the broker; the close reason is the error code. */
export const CLOSE_CODES = {
  NORMAL: 1000,
  INTERNAL_ERROR: 1011,
  AUTHENTICATION: 4001,
  AUTHORIZATION: 4003,
  PROTOCOL: 4400,
  SHUTTING_DOWN: 4503,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/** Bounds `decodeFrame` enforces on untrusted bytes. All sizes are in bytes. */
export interface FrameLimits {
  /** Largest frame accepted, header included. */
  readonly maxFrameBytes: number;
  readonly maxRecordsPerProduce: number;
  readonly maxTopicBytes: number;
  readonly maxProducerNameBytes: number;
  readonly maxTokenBytes: number;
  readonly maxErrorCodeBytes: number;
  readonly maxErrorMessageBytes: number;
  readonly maxGroupBytes: number;
  readonly maxMemberIdBytes: number;
  readonly maxTopicsPerJoin: number;
  readonly maxOffsetsPerCommit: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = Object.freeze({
  maxFrameBytes: 8 * 1024 * 1024,
  maxRecordsPerProduce: 10_000,
  // Topic names are ASCII (see topic-name.ts), so characters and bytes agree.
  maxTopicBytes: TOPIC_NAME_MAX_LENGTH,
  maxProducerNameBytes: 256,
  maxTokenBytes: 16 * 1024,
  maxErrorCodeBytes: 128,
  maxErrorMessageBytes: 64 * 1024,
  // Group names are at most 255 characters of any script: up to 4 bytes each.
  maxGroupBytes: 1020,
  maxMemberIdBytes: 64,
  maxTopicsPerJoin: 100,
  maxOffsetsPerCommit: 10_000,
});

/** Session limits of the broker (docs/protocol.md, "Limits"); the SDK stays under them by default. */
export const DEFAULT_SESSION_LIMITS = Object.freeze({
  maxProduceInFlight: 1024,
  maxSubscriptions: 256,
  maxSessions: 10_000,
});
