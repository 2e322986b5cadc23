/**
 * How the broker authenticates its requests, wired from the configuration: the token verifier (the
 * local issuer and the configured external ones), the authenticator that binds a token to the
 * client's certificate, the watch that picks up keyring rotations, and the re-check of live
 * sessions when something they rely on changes.
 */
import {
  Authenticator,
  TokenVerifier,
  identifyClient,
  type IdentityMapping,
  type IssuerTrust,
  type LocalIssuer,
  type TlsServerMaterial,
} from '../auth/index.js';
import type { RevocationList } from '../auth/revocation-list.js';
import type { SealbusConfig } from '../config/index.js';
import { isSealbusError } from '../errors/index.js';
import type { RequestAuthenticator } from './context.js';

/** The error code `check` throws, or null when it passes. */
export function rejectionCode(check: () => unknown): string | null {
  try {
    check();
    return null;
  } catch (err) {
    return isSealbusError(err) ? err.code : 'SEALBUS_ERR_AUTH_CERT_UNTRUSTED';
  }
}

/**
 * Once a second: picks up a rotation made by another process (`sealbus keys rotate --config`), and
 * notices a key whose overlap ended, so sessions on its tokens close within a second.
 */
export function watchKeyring(issuer: LocalIssuer, onChange: () => void, onError: (err: unknown) => void): () => void {
  // The keyring hands out the same JWKS object until its set of live keys changes (a rotation, or
  // the end of an overlap), so a new object is the signal, whatever the clock did in between.
  let published = issuer.jwks();
  let reloading = false;
  const timer = setInterval(() => {
    if (reloading) return;
    reloading = true;
    issuer
      .reload()
      .then((changed) => {
        const current = issuer.jwks();
        if (changed || current !== published) onChange();
        published = current;
      }, onError)
      .finally(() => {
        reloading = false;
      });
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

export function createRequestAuthenticator(
  config: SealbusConfig,
  material: TlsServerMaterial,
  mapping: IdentityMapping,
  issuer: LocalIssuer,
  revocations: RevocationList,
  clock: () => number,
): { authenticator: RequestAuthenticator; verifier: TokenVerifier } {
  const issuers: IssuerTrust[] = [
    issuer.trust({ requireBinding: config.auth.localIssuer.requireBinding }),
    ...config.auth.issuers.map(
      (external): IssuerTrust => ({
        issuer: external.issuer,
        jwks: { url: external.jwksUrl },
        requireBinding: external.requireBinding,
        typ: external.typ ?? null,
        groupsClaim: external.groupsClaim,
      }),
    ),
  ];
  const verifier = new TokenVerifier({
    issuers,
    audience: config.auth.audience,
    algorithms: [...config.auth.algorithms],
    clockToleranceSec: config.auth.clockToleranceSec,
    maxTokenAgeSec: config.auth.maxTokenAgeSec,
    now: clock,
    isTokenRevoked: (token) => revocations.isRevoked(token),
  });
  const authenticator = new Authenticator({ verifier, allowCertificateOnly: config.auth.allowCertificateOnly });
  return {
    verifier,
    authenticator: {
      identify: (socket) => identifyClient(socket, material, mapping),
      authenticate: (certificate, authorization) => authenticator.authenticate({ certificate, authorization }),
    },
  };
}
