import type { ErrorTable } from './error-spec.js';

/**
 * Refusals of the broker's quotas and connection limits (docs/operations.md, "Limits and quotas").
 * Both are retriable: the same request succeeds once the client slows down or closes a connection.
 * Messages name the limit, never the principal's credentials.
 */
export const limitErrors = {
  SEALBUS_ERR_QUOTA_EXCEEDED: {
    status: 429,
    retriable: true,
    message: 'The {quota} quota ({limit} per second) is exceeded; retry after {retryAfterMs} ms',
  },
  SEALBUS_ERR_LIMIT_PRINCIPAL_CONNECTIONS: {
    status: 429,
    retriable: true,
    message: 'This principal already holds {limit} connections, the most allowed; close one or retry later',
  },
} as const satisfies ErrorTable;
