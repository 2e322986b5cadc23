import { X509Certificate as NodeX509, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { SealbusError } from '../errors/index.js';
import { toPem } from './pem.js';
import { isPrintableName, sha256Base64url } from './text.js';
import type { PemPair } from './types.js';
import { x509 } from './x509-lib.js';

/** Every key sealbus generates for X.509 is ECDSA P-256 signed with SHA-256: small, fast, universal. */
export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

const DAY_MS = 86_400_000;

/** A CA ready to sign: its parsed certificate and its private key as a non-extractable CryptoKey. */
export interface LoadedCa {
  readonly cert: x509.X509Certificate;
  readonly nodeCert: NodeX509;
  readonly signingKey: webcrypto.CryptoKey;
}

export function invalidRequest(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

/** RFC 5280 serials are positive and at most 20 bytes; 16 random bytes make collisions irrelevant. */
export function generateSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

export function checkCommonName(commonName: string): void {
  // X.520 caps a CN at 64 characters; control characters would forge audit lines.
  if (typeof commonName !== 'string' || !isPrintableName(commonName, 64)) {
    throw invalidRequest('the common name must be 1 to 64 printable characters without surrounding spaces');
  }
}

export function checkValidDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw invalidRequest('validDays must be an integer from 1 to 36500');
}

export async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

export async function generateEcKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable only so that the private key can be written once as PKCS#8.
  return (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/**
 * Creates a self-signed CA: ECDSA P-256, basicConstraints CA (critical, path length 0 since it
 * signs only end-entity certificates), keyUsage keyCertSign + cRLSign (critical).
 */
export async function createCertificateAuthority(opts: { commonName: string; validDays?: number; now?: Date }): Promise<PemPair> {
  checkCommonName(opts.commonName);
  const validDays = opts.validDays ?? 3650;
  checkValidDays(validDays);
  const now = opts.now ?? new Date();
  const keys = await generateEcKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: generateSerial(),
    name: [{ CN: [opts.commonName] }],
    // Backdated a little so that a verifier whose clock lags behind still accepts it.
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + validDays * DAY_MS),
    keys,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** Parses a CA pair and checks that it can sign: a CA certificate, a P-256 key, and that they match. */
export async function loadCertificateAuthority(ca: PemPair, source = 'the CA'): Promise<LoadedCa> {
  const fail = (reason: string): SealbusError => new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file: source, reason });
  let nodeCert: NodeX509;
  let privateKey;
  try {
    nodeCert = new NodeX509(ca.certPem);
    privateKey = createPrivateKey(ca.keyPem);
  } catch {
    throw fail('the CA certificate or key is not valid PEM');
  }
  if (!nodeCert.ca) throw fail('the certificate is not a CA (basicConstraints CA is not set)');
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw fail('the CA key must be ECDSA P-256');
  }
  if (!nodeCert.checkPrivateKey(privateKey)) throw fail('the CA key does not belong to the CA certificate');
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, EC_ALGORITHM, false, ['sign']);
  return { cert: new x509.X509Certificate(ca.certPem), nodeCert, signingKey };
}

/** RFC 8705 `x5t#S256` of a PEM certificate: what `bindThumbprint` and `cnf` carry. */
export function certificateThumbprint(certPem: string): string {
  return sha256Base64url(new NodeX509(certPem).raw);
}
