import type { ErrorTable } from './error-spec.js';

/** Errors of the WebSocket protocol and of session flow control. */
export const protocolErrors = {
  SEALBUS_ERR_PROTOCOL_VERSION: {
    status: 400,
    retriable: false,
    message: 'Protocol version {version} is not supported; this broker speaks {supported}',
  },
  SEALBUS_ERR_PROTOCOL_FRAME: { status: 400, retriable: false, message: 'Malformed frame: {reason}' },
  SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE: { status: 413, retriable: false, message: 'Frame of {size} bytes exceeds {limit}' },
  SEALBUS_ERR_PROTOCOL_TOO_MANY_IN_FLIGHT: {
    status: 429,
    retriable: true,
    message: 'More than {limit} batches in flight on this session',
  },
  SEALBUS_ERR_PROTOCOL_TOO_MANY_SUBSCRIPTIONS: {
    status: 429,
    retriable: false,
    message: 'At most {limit} subscriptions per session; unsubscribe first or open another session',
  },
  SEALBUS_ERR_PROTOCOL_TOO_MANY_CONNECTIONS: { status: 503, retriable: true, message: 'Connection limit of {limit} reached' },
  SEALBUS_ERR_PROTOCOL_UNKNOWN_SUBSCRIPTION: { status: 400, retriable: false, message: 'No subscription {id} on this session' },
  SEALBUS_ERR_SESSION_EXPIRED: {
    status: 401,
    retriable: true,
    message: 'The session token expired; reconnect or refresh with a new token',
  },
  SEALBUS_ERR_CONNECTION_CLOSED: { status: 503, retriable: true, message: 'The connection closed: {reason}' },
} as const satisfies ErrorTable;
