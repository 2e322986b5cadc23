import { isIP } from 'node:net';
import {
  EC_ALGORITHM,
  type LoadedCa,
  checkCommonName,
  checkValidDays,
  exportPrivateKeyPem,
  generateEcKeyPair,
  generateSerial,
  invalidRequest,
  loadCertificateAuthority,
} from './certificate-authority.js';
import { isSpiffeId, parseSpiffeId } from './spiffe-id.js';
import { normalizeSerial, sha256Base64url } from './text.js';
import type { PemPair } from './types.js';
import { x509 } from './x509-lib.js';

const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;

export interface IssueCertificateOptions {
  readonly ca: PemPair;
  readonly commonName: string;
  /** Added as the one URI SAN; becomes the principal on the broker. */
  readonly spiffeId?: string;
  /** A server certificate: its DNS names and IP addresses become SANs. */
  readonly server?: { readonly hosts: readonly string[] };
  /** With `server`, also allow client authentication (same as extendedKeyUsage 'both'). */
  readonly client?: boolean;
  readonly validDays?: number;
  readonly now?: Date;
  /** Default: `now` minus five minutes, for verifiers whose clock lags behind. */
  readonly notBefore?: Date;
  /** Default: 'server' with `server`, 'both' with `server` and `client`, else 'client'. */
  readonly extendedKeyUsage?: 'client' | 'server' | 'both' | 'none';
}

export interface IssuedCertificate extends PemPair {
  /** Lowercase hex without leading zeros. */
  readonly serialNumber: string;
  /** base64url SHA-256 of the DER: the `x5t#S256` to bind tokens to this certificate. */
  readonly fingerprint256: string;
}

/** Low-level signing: any subject, any SANs. Tests use it to build the hostile certificates. */
export interface SignCertificateParams {
  readonly ca: LoadedCa;
  readonly subject: x509.JsonName;
  readonly subjectAltNames?: readonly x509.JsonGeneralName[];
  /** EKU OIDs; `null` leaves the extension out. */
  readonly extendedKeyUsage: readonly string[] | null;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa?: boolean;
  /** KeyUsage flags; default digitalSignature, or keyCertSign + cRLSign for a CA. */
  readonly keyUsage?: number;
}

export async function signCertificate(params: SignCertificateParams): Promise<IssuedCertificate> {
  const keys = await generateEcKeyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(params.isCa === true, undefined, true),
    new x509.KeyUsagesExtension(
      params.keyUsage ??
        (params.isCa === true ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature),
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(params.ca.cert.publicKey),
  ];
  if (params.extendedKeyUsage !== null) extensions.push(new x509.ExtendedKeyUsageExtension([...params.extendedKeyUsage]));
  if (params.subjectAltNames !== undefined && params.subjectAltNames.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension([...params.subjectAltNames]));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: generateSerial(),
    subject: params.subject,
    issuer: params.ca.cert.subjectName,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    publicKey: keys.publicKey,
    signingKey: params.ca.signingKey,
    signingAlgorithm: EC_ALGORITHM,
    extensions,
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    serialNumber: normalizeSerial(cert.serialNumber),
    fingerprint256: sha256Base64url(new Uint8Array(cert.rawData)),
  };
}

const DNS_NAME = /^(\*\.)?(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i;

export function hostToGeneralName(host: string): x509.JsonGeneralName {
  if (isIP(host) !== 0) return { type: 'ip', value: host };
  if (host.length > 253 || !DNS_NAME.test(host)) throw invalidRequest(`"${host}" is neither an IP address nor a DNS name`);
  return { type: 'dns', value: host.toLowerCase() };
}

function extendedKeyUsageOf(opts: IssueCertificateOptions): string[] | null {
  const choice = opts.extendedKeyUsage ?? (opts.server === undefined ? 'client' : opts.client === true ? 'both' : 'server');
  switch (choice) {
    case 'client':
      return [x509.ExtendedKeyUsage.clientAuth];
    case 'server':
      return [x509.ExtendedKeyUsage.serverAuth];
    case 'both':
      return [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    case 'none':
      return null;
  }
}

/**
 * Issues an end-entity certificate signed by `ca`: CN = `commonName`, an optional SPIFFE URI SAN,
 * DNS/IP SANs for servers, and the EKU asked for. It never outlives the CA.
 */
export async function issueCertificate(opts: IssueCertificateOptions): Promise<IssuedCertificate> {
  checkCommonName(opts.commonName);
  const validDays = opts.validDays ?? 365;
  checkValidDays(validDays);
  const subjectAltNames: x509.JsonGeneralName[] = [];
  if (opts.spiffeId !== undefined) {
    const parsed = parseSpiffeId(opts.spiffeId);
    if (!isSpiffeId(parsed)) throw invalidRequest(`the SPIFFE ID is invalid: ${parsed.invalid}`);
    subjectAltNames.push({ type: 'url', value: parsed.id });
  }
  if (opts.server !== undefined) {
    if (opts.server.hosts.length === 0) throw invalidRequest('a server certificate needs at least one host name or IP address');
    for (const host of opts.server.hosts) subjectAltNames.push(hostToGeneralName(host));
  }
  const ca = await loadCertificateAuthority(opts.ca);
  const now = (opts.now ?? new Date()).getTime();
  const notBefore = opts.notBefore ?? new Date(now - CLOCK_SKEW_MS);
  const wanted = (opts.notBefore?.getTime() ?? now) + validDays * DAY_MS;
  const notAfter = new Date(Math.min(wanted, ca.cert.notAfter.getTime()));
  if (notAfter.getTime() <= notBefore.getTime()) throw invalidRequest('the CA expires before the certificate would become valid');
  return signCertificate({
    ca,
    subject: [{ CN: [opts.commonName] }],
    subjectAltNames,
    extendedKeyUsage: extendedKeyUsageOf(opts),
    notBefore,
    notAfter,
  });
}
