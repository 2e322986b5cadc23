import { X509Certificate as NodeX509 } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { SealbusError } from '../errors/index.js';
import { type IdentityMapping, defaultIdentityMapping, mapCertificateIdentity } from './identity-mapping.js';
import { normalizeSerial, sha256Base64url } from './text.js';
import type { TlsServerMaterial, TrustState } from './tls-material.js';
import type { CertificateIdentity } from './types.js';
import { x509 } from './x509-lib.js';

interface Verdict {
  readonly generation: number;
  readonly mapping: IdentityMapping;
  readonly identity: CertificateIdentity;
  readonly notBefore: number;
}

// The full check parses certificates and verifies signatures; it runs once per connection and
// material generation. Later requests on the same connection only re-check the validity period.
const verdicts = new WeakMap<TLSSocket, Verdict>();

const UNTRUSTED_REASONS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is not issued by a configured CA',
  UNABLE_TO_GET_ISSUER_CERT: 'it is not issued by a configured CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is not issued by a configured CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'it chains to a CA that is not configured',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
  UNABLE_TO_GET_CRL: 'its revocation status is unknown (no CRL for its CA)',
  CRL_HAS_EXPIRED: 'its revocation status is unknown (the CRL of its CA has expired)',
  CRL_NOT_YET_VALID: 'its revocation status is unknown (the CRL of its CA is not valid yet)',
  CRL_SIGNATURE_FAILURE: 'its revocation status is unknown (the CRL signature does not verify)',
  UNABLE_TO_GET_CRL_ISSUER: 'its revocation status is unknown (the CRL issuer is unknown)',
};

function untrusted(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_CERT_UNTRUSTED', { reason });
}

/** Turns OpenSSL's verdict on the handshake into the catalog's codes. */
function handshakeError(authorizationError: unknown): SealbusError {
  // Typed as Error, but Node sets the OpenSSL code as a string (e.g. "CERT_HAS_EXPIRED").
  const code =
    typeof authorizationError === 'string'
      ? authorizationError
      : String((authorizationError as { code?: unknown } | null)?.code ?? (authorizationError as Error | null)?.message ?? 'unknown');
  switch (code) {
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return new SealbusError('SEALBUS_ERR_AUTH_CERT_EXPIRED');
    case 'CERT_REVOKED':
      return new SealbusError('SEALBUS_ERR_AUTH_CERT_REVOKED');
    case 'INVALID_PURPOSE':
      return new SealbusError('SEALBUS_ERR_AUTH_CERT_USAGE', { reason: 'it is not valid for TLS client authentication' });
    default:
      return untrusted(UNTRUSTED_REASONS[code] ?? `verification failed (${code})`);
  }
}

function checkValidity(notBefore: number, notAfter: number, now: number): void {
  if (now < notBefore || now > notAfter) throw new SealbusError('SEALBUS_ERR_AUTH_CERT_EXPIRED');
}

/** EKU clientAuth when an EKU is present; never a CA certificate; a key usage that can sign. */
export function checkClientUsage(cert: x509.X509Certificate): void {
  const usage = (reason: string): SealbusError => new SealbusError('SEALBUS_ERR_AUTH_CERT_USAGE', { reason });
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca === true) throw usage('a CA certificate cannot authenticate a client');
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku !== null && !eku.usages.map(String).includes(x509.ExtendedKeyUsage.clientAuth)) {
    throw usage('its extended key usage does not include clientAuth');
  }
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  if (keyUsage !== null && (keyUsage.usages & (x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement)) === 0) {
    throw usage('its key usage allows neither digitalSignature nor keyAgreement');
  }
}

function presentedChain(socket: TLSSocket): NodeX509[] {
  const chain: NodeX509[] = [];
  const seen = new Set<string>();
  let entry: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (entry?.raw !== undefined && chain.length < 10 && !seen.has(entry.fingerprint256)) {
    seen.add(entry.fingerprint256);
    chain.push(new NodeX509(entry.raw));
    entry = entry.issuerCertificate as DetailedPeerCertificate | undefined;
  }
  return chain;
}

function signedBy(child: NodeX509, parent: NodeX509): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * OpenSSL judged the chain against the CA bundle of the handshake. After a reload the bundle may
 * have changed (and a resumed session skips verification), so the chain must also reach a CA of
 * the current bundle, link by verified link.
 */
function checkChainToCurrentBundle(socket: TLSSocket, state: TrustState): void {
  const chain = presentedChain(socket);
  for (let index = 0; index < chain.length; index += 1) {
    const current = chain[index] as NodeX509;
    if (state.anchors.some((anchor) => signedBy(current, anchor))) return;
    const parent = chain[index + 1];
    if (parent === undefined || !signedBy(current, parent)) break;
  }
  throw untrusted('it does not chain to a CA of the current bundle');
}

/**
 * Who is on the other end of this mutual-TLS connection. Call it for every request or upgrade:
 * the first call on a connection does the full check, later ones are a lookup plus a validity
 * check, until the material is reloaded. Throws SealbusError with CERT_REQUIRED, CERT_UNTRUSTED,
 * CERT_EXPIRED, CERT_REVOKED, CERT_USAGE or CERT_IDENTITY.
 */
export function identifyClient(
  socket: TLSSocket,
  material: Pick<TlsServerMaterial, 'trustState'>,
  mapping: IdentityMapping = defaultIdentityMapping,
): CertificateIdentity {
  const state = material.trustState();
  const cached = verdicts.get(socket);
  if (cached !== undefined && cached.generation === state.generation && cached.mapping === mapping) {
    checkValidity(cached.notBefore, cached.identity.notAfter, state.now());
    return cached.identity;
  }
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) throw new SealbusError('SEALBUS_ERR_AUTH_CERT_REQUIRED');
  if (!socket.authorized) throw handshakeError(socket.authorizationError);
  const cert = new x509.X509Certificate(leaf.raw);
  const notBefore = cert.notBefore.getTime();
  const notAfter = cert.notAfter.getTime();
  checkValidity(notBefore, notAfter, state.now());
  checkClientUsage(cert);
  checkChainToCurrentBundle(socket, state);
  const serialNumber = normalizeSerial(cert.serialNumber);
  if (state.isRevoked(cert.issuer, serialNumber)) throw new SealbusError('SEALBUS_ERR_AUTH_CERT_REVOKED');
  const mapped = mapCertificateIdentity(cert, mapping);
  const identity: CertificateIdentity = Object.freeze({
    principal: mapped.principal,
    spiffeId: mapped.spiffeId,
    subject: mapped.subject,
    issuer: cert.issuer,
    serialNumber,
    fingerprint256: sha256Base64url(leaf.raw),
    notAfter,
  });
  // The identity is cached per connection: a renegotiated handshake must not swap the certificate.
  socket.disableRenegotiation();
  verdicts.set(socket, { generation: state.generation, mapping, identity, notBefore });
  return identity;
}
