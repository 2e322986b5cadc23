import { errors } from 'jose';
import { SealbusError } from '../errors/index.js';
import { displayValue } from './text.js';

export interface TokenErrorContext {
  readonly issuer: string;
  readonly audience: string;
  readonly maxTokenAgeSec: number | null;
}

function claimError(err: errors.JWTClaimValidationFailed, context: TokenErrorContext): SealbusError {
  if (err.reason === 'missing') return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_CLAIMS', { reason: `the "${err.claim}" claim is missing` });
  if (err.reason === 'invalid') return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_CLAIMS', { reason: `the "${err.claim}" claim must be a number` });
  switch (err.claim) {
    case 'aud':
      return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_AUDIENCE', { expected: JSON.stringify(context.audience) });
    case 'iss':
      return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_ISSUER', { iss: displayValue(err.payload.iss) });
    case 'typ':
      return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_TYPE', { typ: '(another)', expected: '(the configured one)' });
    case 'nbf':
    case 'iat':
      // An "iat" in the future (beyond the tolerance) is a token not valid yet, like "nbf".
      return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID');
    default:
      return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_CLAIMS', { reason: `the "${err.claim}" claim is not accepted` });
  }
}

/**
 * Maps a jose error to the catalog. jose messages are not reused as-is: some errors carry the
 * claims, and the catalog's messages are the ones the docs promise.
 */
export function fromJoseError(err: unknown, context: TokenErrorContext): SealbusError {
  if (err instanceof SealbusError) return err;
  if (err instanceof errors.JWTExpired) {
    // jose reports a too-old "iat" (maxTokenAge) as JWTExpired on the "iat" claim.
    return err.claim === 'iat'
      ? new SealbusError('SEALBUS_ERR_AUTH_TOKEN_TOO_OLD', { maxAge: `${context.maxTokenAgeSec ?? 0} seconds` })
      : new SealbusError('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
  }
  if (err instanceof errors.JWTClaimValidationFailed) return claimError(err, context);
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_SIGNATURE', { iss: JSON.stringify(context.issuer) });
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_ALG', { alg: '(this one)' });
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid || err instanceof errors.JWKSTimeout) {
    return new SealbusError('SEALBUS_ERR_AUTH_KEYS_UNAVAILABLE', { iss: JSON.stringify(context.issuer) });
  }
  if (err instanceof errors.JOSEError) {
    // JWSInvalid, JWTInvalid, JOSENotSupported (e.g. an unknown "crit"): the token's shape.
    return new SealbusError('SEALBUS_ERR_AUTH_TOKEN_MALFORMED', { reason: err.message });
  }
  throw err;
}
