import type { ErrorTable } from './error-spec.js';

/** Errors of the schema registry, payload validation and safe JSON parsing. */
export const schemaErrors = {
  SEALBUS_ERR_JSON_INVALID: { status: 400, retriable: false, message: 'The {what} is not valid JSON: {reason}' },
  SEALBUS_ERR_JSON_LIMIT: { status: 400, retriable: false, message: 'The {what} exceeds a JSON limit: {reason}' },
  SEALBUS_ERR_SCHEMA_INVALID: { status: 400, retriable: false, message: 'The schema cannot be used: {reason}' },
  SEALBUS_ERR_SCHEMA_INCOMPATIBLE: {
    status: 409,
    retriable: false,
    message: 'The schema is not {mode} compatible with version {version} of the {subject} schema of topic {topic}: {reason}',
  },
  SEALBUS_ERR_SCHEMA_NOT_FOUND: { status: 404, retriable: false, message: 'No schema {what}' },
  SEALBUS_ERR_SCHEMA_SETTINGS_INVALID: { status: 400, retriable: false, message: 'Invalid schema settings for topic {topic}: {reason}' },
  SEALBUS_ERR_SCHEMA_VALIDATION: {
    status: 400,
    retriable: false,
    message: 'Record {record} does not match schema {schemaId} ({subject}) of topic {topic}: {pointer} {reason}',
  },
  SEALBUS_ERR_SCHEMA_STALE: {
    status: 409,
    retriable: true,
    message: 'Record {record} carries {subject} schema id {given}, but the current one of topic {topic} is {current}; fetch it again',
  },
} as const satisfies ErrorTable;
