import { SealbusError } from '../errors/index.js';
import type { CertificateIdentity, Principal, TokenIdentity } from './types.js';

export interface AuthenticatorOptions {
  readonly verifier: { verify(token: string, certificate: CertificateIdentity): Promise<TokenIdentity> };
  /** Accept clients that present a certificate and no token (default policy: no). */
  readonly allowCertificateOnly: boolean;
}

// RFC 6750 b64token; a JWT uses only its base64url subset and dots.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The bearer token of an Authorization header; null when there is none. */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined || authorization.trim() === '') return null;
  const match = BEARER.exec(authorization);
  if (match === null) {
    throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_MALFORMED', { reason: 'the Authorization header must be "Bearer <token>"' });
  }
  return match[1] ?? '';
}

/**
 * Turns the connection's certificate and the request's Authorization header into the principal.
 * A token names the principal (`sub`); without one, the certificate does, if allowed.
 */
export class Authenticator {
  readonly #verifier: AuthenticatorOptions['verifier'];
  readonly #allowCertificateOnly: boolean;

  constructor(opts: AuthenticatorOptions) {
    this.#verifier = opts.verifier;
    this.#allowCertificateOnly = opts.allowCertificateOnly;
  }

  async authenticate(input: { certificate: CertificateIdentity; authorization: string | undefined }): Promise<Principal> {
    const token = bearerToken(input.authorization);
    if (token === null) {
      if (!this.#allowCertificateOnly) throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
      return Object.freeze({ name: input.certificate.principal, via: 'certificate', certificate: input.certificate, token: null });
    }
    const identity = await this.#verifier.verify(token, input.certificate);
    return Object.freeze({ name: identity.principal, via: 'token', certificate: input.certificate, token: identity });
  }
}
