import type { ErrorTable } from './error-spec.js';

/** Errors of configuration, requests, the server itself and its audit log. */
export const generalErrors = {
  SEALBUS_ERR_CONFIG_INVALID: { status: 500, retriable: false, message: 'Invalid configuration in {file}: {key} {reason}' },
  SEALBUS_ERR_CONFIG_UNREADABLE: { status: 500, retriable: false, message: 'Cannot read configuration file {file}: {reason}' },
  SEALBUS_ERR_REQUEST_INVALID: { status: 400, retriable: false, message: 'Invalid request: {reason}' },
  SEALBUS_ERR_REQUEST_TOO_LARGE: { status: 413, retriable: false, message: 'Request body exceeds {limit} bytes' },
  SEALBUS_ERR_NOT_FOUND: { status: 404, retriable: false, message: 'No route {method} {url}' },
  SEALBUS_ERR_TIMEOUT: { status: 504, retriable: true, message: 'Timed out after {ms} ms waiting for {what}' },
  SEALBUS_ERR_UNAVAILABLE: { status: 503, retriable: true, message: 'The broker is not ready: {reason}' },
  SEALBUS_ERR_INTERNAL: { status: 500, retriable: false, message: 'Internal error (request {requestId})' },
  // The audit log: an invalid event is a bug of the caller; an unwritable log refuses the operation it
  // had to record (fail closed), and may succeed once the log is writable again.
  SEALBUS_ERR_AUDIT_INVALID: { status: 400, retriable: false, message: 'The audit event is invalid: {reason}' },
  SEALBUS_ERR_AUDIT_UNAVAILABLE: { status: 503, retriable: true, message: 'The audit log cannot be written: {reason}; the operation was refused' },
  SEALBUS_ERR_AUDIT_TAMPERED: { status: 500, retriable: false, message: 'The audit log does not verify at position {position}: {reason}' },
  // One writer per chain: a second broker started with the same audit.brokerId on a shared store.
  SEALBUS_ERR_BROKER_ID_IN_USE: {
    status: 409,
    retriable: false,
    message: 'Broker id "{brokerId}" is in use by another running broker on this store (instance {holder}, seen {ageMs} ms ago); give every broker its own audit.brokerId',
  },
} as const satisfies ErrorTable;
