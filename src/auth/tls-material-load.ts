import { X509Certificate as NodeX509, createHash, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SealbusError } from '../errors/index.js';
import { parseCrl } from './crl.js';
import { splitPem, toPem } from './pem.js';
import { sha256Base64url } from './text.js';
import { x509 } from './x509-lib.js';

export interface TlsMaterialFiles {
  /** Server certificate, optionally followed by its intermediates. */
  readonly certFile: string;
  readonly keyFile: string;
  /** The CAs that client certificates must chain to. The system roots are never trusted. */
  readonly caFile: string;
  /** CRLs, one per CA of the bundle (PEM, concatenated). */
  readonly crlFile?: string;
}

/** One consistent, validated reading of the files. Replaced whole on reload, never patched. */
export interface MaterialSnapshot {
  readonly contentHash: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPems: readonly string[];
  readonly crlPems: readonly string[] | undefined;
  readonly anchors: readonly NodeX509[];
  readonly anchorFingerprints: ReadonlySet<string>;
  /** `${issuer}\n${serial}` of every revoked certificate. */
  readonly revoked: ReadonlySet<string>;
}

// A CRL signed a moment "in the future" by a host whose clock is slightly ahead is still usable.
const CLOCK_SKEW_MS = 5 * 60_000;

export function revocationKey(issuer: string, serialNumber: string): string {
  return `${issuer}\n${serialNumber}`;
}

function invalid(file: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file, reason });
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : 'unreadable';
    throw invalid(file, `cannot read it (${code})`);
  }
}

function loadServerCertificate(files: TlsMaterialFiles, certPem: string, keyPem: string, now: number): void {
  const blocks = splitPem(certPem).filter((block) => block.label === 'CERTIFICATE');
  const leafBlock = blocks[0];
  if (leafBlock === undefined) throw invalid(files.certFile, 'no PEM CERTIFICATE block');
  let leaf: NodeX509;
  try {
    leaf = new NodeX509(leafBlock.der);
  } catch {
    throw invalid(files.certFile, 'the first certificate cannot be parsed');
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw invalid(files.keyFile, 'not a PEM private key');
  }
  // Checked here because a certificate rotated before its key (two separate writes) must not be
  // swapped in: reload keeps the old pair until both files match.
  if (!leaf.checkPrivateKey(key)) throw invalid(files.keyFile, `the key does not belong to ${files.certFile}`);
  const notAfter = new x509.X509Certificate(leafBlock.der).notAfter.getTime();
  if (notAfter < now) throw invalid(files.certFile, `the server certificate expired on ${new Date(notAfter).toISOString()}`);
}

function loadAnchors(caFile: string, caText: string): NodeX509[] {
  const blocks = splitPem(caText);
  if (blocks.length === 0) throw invalid(caFile, 'no PEM CERTIFICATE block');
  return blocks.map((block, index) => {
    if (block.label !== 'CERTIFICATE') throw invalid(caFile, `block ${index + 1} is "${block.label}", not CERTIFICATE`);
    let cert: NodeX509;
    try {
      cert = new NodeX509(block.der);
    } catch {
      throw invalid(caFile, `certificate ${index + 1} cannot be parsed`);
    }
    // A leaf in the bundle would make that one certificate a trust anchor for itself.
    if (!cert.ca) throw invalid(caFile, `certificate ${index + 1} (${cert.subject.replace(/\n/g, ', ')}) is not a CA`);
    return cert;
  });
}

async function loadRevocations(crlFile: string, crlText: string, anchors: readonly NodeX509[], now: number) {
  const blocks = splitPem(crlText).filter((block) => block.label === 'X509 CRL' || block.label === 'CRL');
  if (blocks.length === 0) throw invalid(crlFile, 'no PEM X509 CRL block');
  const cas = anchors.map((anchor) => new x509.X509Certificate(anchor.raw));
  const covered = new Set<string>();
  const revoked = new Set<string>();
  const crlPems: string[] = [];
  for (const block of blocks) {
    const parsed = await parseCrl(block.der, crlFile);
    const signer = cas.find((ca) => ca.subject === parsed.issuer);
    if (signer === undefined) throw invalid(crlFile, `the CRL of "${parsed.issuer}" is for a CA that is not in the bundle`);
    if (!(await parsed.crl.verify({ publicKey: signer }))) throw invalid(crlFile, `the CRL of "${parsed.issuer}" is not signed by the CA`);
    if (parsed.thisUpdate.getTime() > now + CLOCK_SKEW_MS) throw invalid(crlFile, `the CRL of "${parsed.issuer}" is not valid yet`);
    if (parsed.nextUpdate !== undefined && parsed.nextUpdate.getTime() < now) {
      throw invalid(crlFile, `the CRL of "${parsed.issuer}" expired on ${parsed.nextUpdate.toISOString()}; re-sign it (sealbus certs crl)`);
    }
    covered.add(parsed.issuer);
    for (const entry of parsed.entries) revoked.add(revocationKey(parsed.issuer, entry.serialNumber));
    // Re-armoured with the label OpenSSL reads ("X509 CRL"), one CRL per string.
    crlPems.push(toPem('X509 CRL', block.der));
  }
  // OpenSSL fails every client of a CA without a CRL (UNABLE_TO_GET_CRL); say so at load instead.
  const uncovered = cas.find((ca) => !covered.has(ca.subject));
  if (uncovered !== undefined) throw invalid(crlFile, `there is no CRL for CA "${uncovered.subject}"; each CA of the bundle needs one`);
  return { revoked, crlPems };
}

/** Reads and validates every file; throws SEALBUS_ERR_AUTH_MATERIAL_INVALID naming the bad file. */
export async function loadMaterialSnapshot(files: TlsMaterialFiles, now: number): Promise<MaterialSnapshot> {
  const [certPem, keyPem, caText, crlText] = await Promise.all([
    readText(files.certFile),
    readText(files.keyFile),
    readText(files.caFile),
    files.crlFile === undefined ? Promise.resolve(undefined) : readText(files.crlFile),
  ]);
  loadServerCertificate(files, certPem, keyPem, now);
  const anchors = loadAnchors(files.caFile, caText);
  const revocations =
    files.crlFile === undefined || crlText === undefined ? undefined : await loadRevocations(files.crlFile, crlText, anchors, now);
  const hash = createHash('sha256');
  for (const text of [certPem, keyPem, caText, crlText ?? '']) hash.update(text).update('\0');
  return {
    contentHash: hash.digest('hex'),
    keyPem,
    certPem,
    caPems: anchors.map((anchor) => anchor.toString()),
    crlPems: revocations?.crlPems,
    anchors,
    anchorFingerprints: new Set(anchors.map((anchor) => sha256Base64url(anchor.raw))),
    revoked: revocations?.revoked ?? new Set(),
  };
}
