import { authErrors } from './codes-auth.js';
import { generalErrors } from './codes-general.js';
import { groupErrors } from './codes-groups.js';
import { limitErrors } from './codes-limits.js';
import { logErrors } from './codes-log.js';
import { payloadErrors } from './codes-payload.js';
import { policyErrors } from './codes-policy.js';
import { protocolErrors } from './codes-protocol.js';
import { schemaErrors } from './codes-schema.js';
import type { ErrorSpec } from './error-spec.js';

/**
 * The one error catalog. Every error sealbus returns, on any transport, has a code from here;
 * `docs/errors.md` lists them all (a test keeps the two in step), and the SDK rebuilds typed
 * errors from the code alone, never from the message text.
 */
export const catalog = {
  ...generalErrors,
  ...logErrors,
  ...authErrors,
  ...protocolErrors,
  ...policyErrors,
  ...groupErrors,
  ...payloadErrors,
  ...schemaErrors,
  ...limitErrors,
} as const;

export type ErrorCode = keyof typeof catalog;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(catalog, code);
}

export function specOf(code: ErrorCode): ErrorSpec {
  return catalog[code];
}
