import { SealbusError } from '../errors/index.js';
import { EC_ALGORITHM, invalidRequest, loadCertificateAuthority } from './certificate-authority.js';
import { toPem } from './pem.js';
import { normalizeSerial } from './text.js';
import type { PemPair } from './types.js';
import { x509 } from './x509-lib.js';

const DAY_MS = 86_400_000;
const CRL_NUMBER_OID = '2.5.29.20';

export interface RevokedEntry {
  readonly serialNumber: string;
  readonly revokedAt?: Date;
}

export interface CreateCrlOptions {
  readonly ca: PemPair;
  readonly revoked: readonly RevokedEntry[];
  readonly now?: Date;
  /**
   * Days until `nextUpdate` (default 30). TLS stacks reject every client of a CA whose CRL is past
   * `nextUpdate`, so the CRL must be re-signed (`sealbus certs crl`) before then.
   */
  readonly nextUpdateDays?: number;
}

/** DER INTEGER contents as hex: even length, and a leading 00 when the high bit would make it negative. */
function integerHex(hex: string): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return Number.parseInt(even.slice(0, 2), 16) >= 0x80 ? `00${even}` : even;
}

function crlNumberExtension(value: number): x509.Extension {
  const contents = Buffer.from(integerHex(Math.max(0, Math.floor(value)).toString(16)), 'hex');
  return new x509.Extension(CRL_NUMBER_OID, false, Buffer.concat([Buffer.from([0x02, contents.length]), contents]));
}

/** Signs a CRL listing `revoked`, as PEM (`X509 CRL`, the label OpenSSL and Node expect). */
export async function createCrl(opts: CreateCrlOptions): Promise<string> {
  const nextUpdateDays = opts.nextUpdateDays ?? 30;
  if (!Number.isInteger(nextUpdateDays) || nextUpdateDays < 1) throw invalidRequest('nextUpdateDays must be a positive integer');
  const ca = await loadCertificateAuthority(opts.ca);
  const now = opts.now ?? new Date();
  const seen = new Set<string>();
  const entries: x509.X509CrlEntryParams[] = [];
  for (const entry of opts.revoked) {
    let serial: string;
    try {
      serial = normalizeSerial(entry.serialNumber);
    } catch {
      throw invalidRequest(`serial number ${JSON.stringify(entry.serialNumber)} is not hexadecimal`);
    }
    if (seen.has(serial)) continue;
    seen.add(serial);
    entries.push({ serialNumber: integerHex(serial), revocationDate: entry.revokedAt ?? now });
  }
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + nextUpdateDays * DAY_MS),
    entries,
    signingKey: ca.signingKey,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      // RFC 5280 wants a monotonically increasing CRL number; the signing time in seconds is one.
      crlNumberExtension(now.getTime() / 1000),
    ],
  });
  return toPem('X509 CRL', new Uint8Array(crl.rawData));
}

export interface ParsedCrl {
  readonly crl: x509.X509Crl;
  readonly issuer: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: readonly { readonly serialNumber: string; readonly revokedAt: Date }[];
}

/** Parses one DER CRL and, when `issuerCert` is given, checks that it signed it. */
export async function parseCrl(der: Uint8Array, source: string, issuerCert?: x509.X509Certificate): Promise<ParsedCrl> {
  const fail = (reason: string): SealbusError => new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file: source, reason });
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(der);
  } catch {
    throw fail('a CRL block is not a valid X.509 CRL');
  }
  if (issuerCert !== undefined && (crl.issuer !== issuerCert.subject || !(await crl.verify({ publicKey: issuerCert })))) {
    throw fail(`the CRL of "${crl.issuer}" is not signed by the CA`);
  }
  return {
    crl,
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    entries: crl.entries.map((entry) => ({ serialNumber: normalizeSerial(entry.serialNumber), revokedAt: entry.revocationDate })),
  };
}
