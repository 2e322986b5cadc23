import type { ErrorTable } from './error-spec.js';

/**
 * Errors of authentication (who are you: 401) and authorization (may you: 403). Messages say what
 * to fix and never echo a token, a key or a certificate body.
 */
export const authErrors = {
  SEALBUS_ERR_AUTH_CERT_REQUIRED: { status: 401, retriable: false, message: 'A client certificate is required' },
  SEALBUS_ERR_AUTH_CERT_UNTRUSTED: {
    status: 401,
    retriable: false,
    message: 'The client certificate does not chain to a trusted CA: {reason}',
  },
  SEALBUS_ERR_AUTH_CERT_EXPIRED: { status: 401, retriable: false, message: 'The client certificate is expired or not yet valid' },
  SEALBUS_ERR_AUTH_CERT_REVOKED: { status: 401, retriable: false, message: 'The client certificate is revoked' },
  SEALBUS_ERR_AUTH_CERT_USAGE: {
    status: 401,
    retriable: false,
    message: 'The client certificate may not be used for client authentication: {reason}',
  },
  SEALBUS_ERR_AUTH_CERT_IDENTITY: {
    status: 401,
    retriable: false,
    message: 'The client certificate does not name exactly one principal: {reason}',
  },
  SEALBUS_ERR_AUTH_TOKEN_REQUIRED: {
    status: 401,
    retriable: false,
    message: 'A bearer token is required (Authorization: Bearer <token>)',
  },
  SEALBUS_ERR_AUTH_TOKEN_MALFORMED: { status: 401, retriable: false, message: 'The bearer token is not a well-formed JWT: {reason}' },
  SEALBUS_ERR_AUTH_TOKEN_ALG: { status: 401, retriable: false, message: 'Token algorithm {alg} is not allowed' },
  SEALBUS_ERR_AUTH_TOKEN_SIGNATURE: {
    status: 401,
    retriable: false,
    message: 'The token signature does not verify with any key of issuer {iss}',
  },
  SEALBUS_ERR_AUTH_TOKEN_ISSUER: { status: 401, retriable: false, message: 'Token issuer {iss} is not trusted' },
  SEALBUS_ERR_AUTH_TOKEN_AUDIENCE: { status: 401, retriable: false, message: 'The token audience does not include {expected}' },
  SEALBUS_ERR_AUTH_TOKEN_TYPE: { status: 401, retriable: false, message: 'Token type {typ} is not accepted; expected {expected}' },
  SEALBUS_ERR_AUTH_TOKEN_EXPIRED: { status: 401, retriable: false, message: 'The token has expired' },
  SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID: { status: 401, retriable: false, message: 'The token is not valid yet' },
  SEALBUS_ERR_AUTH_TOKEN_TOO_OLD: { status: 401, retriable: false, message: 'The token was issued more than {maxAge} ago' },
  SEALBUS_ERR_AUTH_TOKEN_CLAIMS: { status: 401, retriable: false, message: 'The token claims are invalid: {reason}' },
  SEALBUS_ERR_AUTH_TOKEN_UNBOUND: {
    status: 401,
    retriable: false,
    message: 'Tokens of issuer {iss} must be bound to the client certificate (cnf.x5t#S256)',
  },
  SEALBUS_ERR_AUTH_TOKEN_BINDING: {
    status: 401,
    retriable: false,
    message: 'The token is bound to another client certificate',
  },
  SEALBUS_ERR_AUTH_TOKEN_REVOKED: { status: 401, retriable: false, message: 'The token has been revoked' },
  SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED: {
    status: 401,
    retriable: false,
    message: 'The token is signed by key {kid}, which was retired by a key rotation; get a new token',
  },
  SEALBUS_ERR_AUTH_TOKEN_HEADER: {
    status: 401,
    retriable: false,
    message: 'The token header carries "{header}"; sealbus takes keys only from configured issuers, never from the token',
  },
  SEALBUS_ERR_AUTH_KEYS_UNAVAILABLE: {
    status: 503,
    retriable: true,
    message: 'The signing keys of issuer {iss} cannot be fetched right now',
  },
  SEALBUS_ERR_AUTH_PRINCIPAL_MISMATCH: {
    status: 403,
    retriable: false,
    message: 'The new token names another principal than the session ({reason})',
  },
  SEALBUS_ERR_AUTH_MATERIAL_INVALID: {
    status: 500,
    retriable: false,
    message: 'Cannot use {file}: {reason}',
  },
  SEALBUS_ERR_AUTH_FILE_EXISTS: {
    status: 409,
    retriable: false,
    message: '{file} already exists; sealbus never overwrites a key or certificate (move it away first)',
  },
  SEALBUS_ERR_TOKEN_ISSUE_DENIED: {
    status: 403,
    retriable: false,
    message: '{principal} may not issue this token: {reason}',
  },
  SEALBUS_ERR_TOKEN_REQUEST_INVALID: {
    status: 400,
    retriable: false,
    message: 'The token request is invalid: {reason}',
  },
  SEALBUS_ERR_TOKEN_REVOCATIONS_FULL: {
    status: 503,
    retriable: true,
    message: 'The revocation list holds its maximum of {limit} entries; wait for entries to expire or raise the limit',
  },
  SEALBUS_ERR_KEYS_UNAVAILABLE: {
    status: 503,
    retriable: true,
    message: 'The issuer keyring cannot be used right now: {reason}',
  },
  SEALBUS_ERR_FORBIDDEN: { status: 403, retriable: false, message: '{principal} may not {action} {resource}' },
} as const satisfies ErrorTable;
