import type { ErrorTable } from './error-spec.js';

/** Errors of end-to-end encryption: envelopes, signatures, and the key directory. */
export const payloadErrors = {
  SEALBUS_ERR_ENVELOPE_INVALID: { status: 400, retriable: false, message: 'The encrypted batch is malformed: {reason}' },
  SEALBUS_ERR_ENVELOPE_REQUIRED: {
    status: 400,
    retriable: false,
    message: 'Topic {topic} requires end-to-end encryption: plaintext records are refused',
  },
  SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID: { status: 400, retriable: false, message: 'The envelope signature does not verify: {reason}' },
  SEALBUS_ERR_ENVELOPE_SIGNER_MISMATCH: {
    status: 403,
    retriable: false,
    message: 'The batch is signed with key {keyId}, which is not an active signing key of {principal}',
  },
  SEALBUS_ERR_ENVELOPE_RECIPIENTS_STALE: {
    status: 409,
    retriable: true,
    message: 'The batch is not sealed for the current recipients of topic {topic}: {reason}; fetch the recipients again and seal anew',
  },
  SEALBUS_ERR_ENVELOPE_NO_KEY: {
    status: 403,
    retriable: false,
    message: 'The batch is not sealed for any of your encryption keys ({keyIds})',
  },
  SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED: { status: 400, retriable: false, message: 'The batch does not decrypt: {reason}' },
  SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER: { status: 400, retriable: false, message: 'The batch is signed with key {keyId}, which the key directory does not know' },
  SEALBUS_ERR_KEY_REGISTRATION_INVALID: { status: 400, retriable: false, message: 'The key registration is invalid: {reason}' },
  SEALBUS_ERR_KEY_CONFLICT: { status: 409, retriable: false, message: 'Key {keyId} is already registered by another principal' },
  SEALBUS_ERR_KEY_NOT_FOUND: { status: 404, retriable: false, message: 'No registered key {keyId}' },
  SEALBUS_ERR_KEY_FILE_INVALID: { status: 400, retriable: false, message: 'The key file {file} cannot be used: {reason}' },
  // The SDK's own worker thread died under a batch (not the batch's fault): the pool starts another.
  SEALBUS_ERR_CRYPTO_WORKER_FAILED: {
    status: 500,
    retriable: true,
    message: 'The encryption worker thread failed while {operation} a batch: {reason}',
  },
} as const satisfies ErrorTable;
