import type { TLSSocket } from 'node:tls';
import type { CertificateIdentity, Principal } from '../auth/index.js';

/**
 * What the transport layer needs from authentication. `src/auth` provides the real one; tests of
 * routes may inject a fake through `buildApp`, while the TLS tests drive the real one end to end.
 */
export interface RequestAuthenticator {
  /** Identifies the client of a TLS socket; throws a SEALBUS_ERR_AUTH_CERT_* error. */
  identify(socket: TLSSocket): CertificateIdentity;
  /** The principal for a certificate and the Authorization header; throws a SEALBUS_ERR_AUTH_* error. */
  authenticate(certificate: CertificateIdentity, authorization: string | undefined): Promise<Principal>;
}

/**
 * An authenticated principal and where its request came from (policy conditions, audit):
 * the client's address and the connection it came on.
 */
export type ClientPrincipal = Principal & { readonly sourceIp: string | null; readonly sessionId: string; readonly requestId: string };

/** Where a request came from: the client's address, its connection, and the request's own id. */
export interface RequestOrigin {
  readonly sourceIp: string | null | undefined;
  readonly sessionId: string;
  readonly requestId: string;
}

/** The principal as the broker sees it: what authentication returned, plus where the request came from. */
export function clientPrincipal(principal: Principal, origin: RequestOrigin): ClientPrincipal {
  return { ...principal, sourceIp: origin.sourceIp ?? null, sessionId: origin.sessionId, requestId: origin.requestId };
}

/** How a route authenticates: `token` (the default) needs a certificate and a token; `certificate` only a certificate. */
export type RouteAuth = 'token' | 'certificate';

declare module 'fastify' {
  interface FastifyRequest {
    certificate: CertificateIdentity | null;
    principal: ClientPrincipal | null;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

/** The principal of an authenticated request; routes marked `auth: 'token'` always have one. */
export function principalOf(request: { principal: ClientPrincipal | null }): ClientPrincipal {
  if (request.principal === null) throw new Error('route reached without authentication');
  return request.principal;
}
