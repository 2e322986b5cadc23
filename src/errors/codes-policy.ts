import type { ErrorTable } from './error-spec.js';

/**
 * Errors of the policy layer: policy files that cannot be used (the policy in force stays) and
 * token scopes that are not well formed. Messages name the file and line, never a token.
 */
export const policyErrors = {
  SEALBUS_ERR_POLICY_INVALID: {
    status: 400,
    retriable: false,
    message: 'Invalid policy {file} line {line}: {reason}',
  },
  SEALBUS_ERR_POLICY_UNREADABLE: { status: 500, retriable: true, message: 'Cannot read policy {file}: {reason}' },
  SEALBUS_ERR_POLICY_SCOPE_INVALID: { status: 400, retriable: false, message: 'Invalid token scope "{scope}": {reason}' },
} as const satisfies ErrorTable;
