/**
 * Authentication: who a client is. Authorization (may it?) lives elsewhere and receives the
 * `Principal` built here.
 *
 * How the server wires it:
 *
 * ```ts
 * const material = await loadTlsMaterial({ certFile, keyFile, caFile, crlFile, minVersion });
 * const server = https.createServer(material.serverOptions(), handler); // or fastify({ https: ... })
 *
 * // Every request and WebSocket upgrade (cheap after the first call on a connection):
 * const certificate = identifyClient(request.socket as TLSSocket, material, mapping); // 401 CERT_*
 * const principal = await authenticator.authenticate({ certificate, authorization: request.headers.authorization });
 *
 * // Reload without restart: new handshakes use the new CA/CRL, live connections are re-checked.
 * const stop = material.watch(() => {
 *   server.setSecureContext(material.serverOptions());
 *   for (const session of sessions) {
 *     try { identifyClient(session.socket, material, mapping); } catch (err) { session.close(err); }
 *     // or, with only the identity at hand: if (material.isRevoked(session.certificate)) ...
 *   }
 * }, (err) => log.warn(err, 'new TLS material refused; the previous one stays in use'));
 * ```
 *
 * The handshake never rejects a client certificate (`rejectUnauthorized: false`) so that the
 * client gets an HTTP 401 with an exact code; therefore `identifyClient` MUST run before anything
 * else on every request. It also re-checks the current CA bundle, CRLs and validity period on its
 * own, so a session resumed from before a reload is judged by the new material.
 *
 * Times in this API are milliseconds since the epoch; clocks are injected as `() => number`.
 */
export { Authenticator, bearerToken, type AuthenticatorOptions } from './authenticator.js';
export { certificateThumbprint, createCertificateAuthority, loadCertificateAuthority, type LoadedCa } from './certificate-authority.js';
export { readCertificateFiles, writeCertificateFiles } from './certificate-files.js';
export { issueCertificate, type IssueCertificateOptions, type IssuedCertificate } from './certificate-issue.js';
export { createCrl, type CreateCrlOptions, type RevokedEntry } from './crl.js';
export { checkClientUsage, identifyClient } from './identify-client.js';
export { defaultIdentityMapping, validateIdentityMapping, type IdentityMapping } from './identity-mapping.js';
export {
  ISSUER_KEY_FILE,
  KEYRING_FILE,
  Keyring,
  MAX_KEYRING_BYTES,
  MAX_KEYRING_KEYS,
  RETIRED_KEY_KEPT_MS,
  type KeyInfo,
  type KeyRotation,
  type KeyStatus,
  type KeyringEntry,
  type KeyringOptions,
} from './keyring.js';
export { LocalIssuer, type IssuedTokenClaims, type IssueTokenOptions } from './local-issuer.js';
export { PRIVATE_MODE, replaceFile } from './private-files.js';
export { parseSpiffeId } from './spiffe-id.js';
export {
  loadTlsMaterial,
  type LoadTlsMaterialOptions,
  type TlsMaterialFiles,
  type TlsServerMaterial,
  type TlsServerOptions,
  type TrustState,
} from './tls-material.js';
export { SEALBUS_TOKEN_TYPE, TokenVerifier, type TokenVerifierOptions } from './token-verifier.js';
export type {
  CertificateIdentity,
  IssuerKeys,
  IssuerTrust,
  JwkSet,
  PemPair,
  Principal,
  RemoteIssuerKeys,
  TokenIdentity,
} from './types.js';
