import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { createCertificateAuthority, createCrl, issueCertificate, readCertificateFiles, writeCertificateFiles } from '../../auth/index.js';
import type { PemPair, RevokedEntry } from '../../auth/index.js';
import { parseCrl } from '../../auth/crl.js';
import { splitPem } from '../../auth/pem.js';
import { PUBLIC_MODE, fileExists, replaceFile, writeNewFile } from '../../auth/private-files.js';
import { normalizeSerial } from '../../auth/text.js';
import { x509 } from '../../auth/x509-lib.js';
import { SealbusError } from '../../errors/index.js';

/** Where the CLI writes; tests pass their own. */
export interface CertsOutput {
  out(line: string): void;
}

const stdout: CertsOutput = { out: (line) => process.stdout.write(`${line}\n`) };

const CA_NAME = 'ca';
const CRL_FILE = 'crl.pem';

function parseDays(value: string): number {
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new InvalidArgumentError('expected a whole number of days from 1 to 36500');
  return days;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseSerial(value: string): string {
  try {
    return normalizeSerial(value);
  } catch {
    throw new InvalidArgumentError('a serial number is hexadecimal (colons allowed)');
  }
}

/** The CRL entries already in DIR/crl.pem, after checking that this CA signed them. */
async function currentRevocations(caDir: string, ca: PemPair): Promise<RevokedEntry[]> {
  const file = join(caDir, CRL_FILE);
  if (!(await fileExists(file))) return [];
  const issuer = new x509.X509Certificate(ca.certPem);
  const entries: RevokedEntry[] = [];
  for (const block of splitPem(await readFile(file, 'utf8'))) {
    const crl = await parseCrl(block.der, file, issuer);
    for (const entry of crl.entries) entries.push({ serialNumber: entry.serialNumber, revokedAt: entry.revokedAt });
  }
  return entries;
}

async function serialOfIssuedCertificate(file: string, ca: PemPair): Promise<string> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(file));
  } catch {
    throw new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file, reason: 'not a readable PEM certificate' });
  }
  const caCert = new X509Certificate(ca.certPem);
  // A CRL entry means nothing for a certificate of another CA, and a typo would look like success.
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) {
    throw new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file, reason: 'it was not issued by this CA' });
  }
  return normalizeSerial(cert.serialNumber);
}

function registerInit(certs: Command, io: CertsOutput): void {
  certs
    .command('init')
    .description('create a CA (ECDSA P-256) in DIR: ca.crt, ca.key (mode 0600) and an empty crl.pem')
    .requiredOption('--out <dir>', 'folder for the CA files (never overwritten)')
    .option('--cn <name>', 'common name of the CA', 'sealbus development CA')
    .option('--days <n>', 'validity of the CA in days', parseDays, 3650)
    .option('--crl-days <n>', 'days until the CRL must be re-signed (sealbus certs crl)', parseDays, 30)
    .action(async (opts: { out: string; cn: string; days: number; crlDays: number }) => {
      const ca = await createCertificateAuthority({ commonName: opts.cn, validDays: opts.days });
      const files = await writeCertificateFiles(opts.out, CA_NAME, ca);
      const crlFile = join(opts.out, CRL_FILE);
      await writeNewFile(crlFile, await createCrl({ ca, revoked: [], nextUpdateDays: opts.crlDays }), PUBLIC_MODE);
      io.out(`CA certificate  ${files.certFile}`);
      io.out(`CA key          ${files.keyFile} (mode 0600: keep it private, never commit it)`);
      io.out(`CRL             ${crlFile} (re-sign before ${opts.crlDays} days: sealbus certs crl --ca ${opts.out})`);
    });
}

function registerIssue(certs: Command, io: CertsOutput): void {
  certs
    .command('issue')
    .description('issue a client certificate (EKU clientAuth), or with --server a server certificate (EKU serverAuth)')
    .requiredOption('--ca <dir>', 'folder made by "sealbus certs init"')
    .requiredOption('--name <name>', 'common name, also the file name NAME.crt / NAME.key')
    .requiredOption('--out <dir>', 'folder for the new files (never overwritten)')
    .option('--spiffe <uri>', 'SPIFFE ID to put in the URI SAN (then the principal name)')
    .option('--server', 'a server certificate; give its names with --host')
    .option('--host <host>', 'DNS name or IP address of the server (repeatable)', collect, [])
    .option('--client', 'with --server: allow client authentication too')
    .option('--days <n>', 'validity in days', parseDays, 365)
    .action(async (opts: { ca: string; name: string; out: string; spiffe?: string; server?: boolean; host: string[]; client?: boolean; days: number }, command: Command) => {
      if (opts.server === true && opts.host.length === 0) command.error('--server needs at least one --host');
      if (opts.server !== true && opts.host.length > 0) command.error('--host is for server certificates: add --server');
      if (opts.server !== true && opts.client === true) command.error('--client is implied without --server');
      const ca = await readCertificateFiles(opts.ca, CA_NAME);
      const issued = await issueCertificate({
        ca,
        commonName: opts.name,
        validDays: opts.days,
        ...(opts.spiffe !== undefined && { spiffeId: opts.spiffe }),
        ...(opts.server === true && { server: { hosts: opts.host } }),
        ...(opts.client === true && { client: true }),
      });
      const files = await writeCertificateFiles(opts.out, opts.name, issued);
      io.out(`certificate     ${files.certFile}`);
      io.out(`key             ${files.keyFile} (mode 0600)`);
      io.out(`serial          ${issued.serialNumber}`);
      io.out(`x5t#S256        ${issued.fingerprint256}`);
    });
}

function registerRevoke(certs: Command, io: CertsOutput): void {
  certs
    .command('revoke')
    .description('add a certificate to DIR/crl.pem (re-signed and replaced atomically; brokers reload it)')
    .requiredOption('--ca <dir>', 'folder made by "sealbus certs init"')
    .option('--cert <file>', 'the certificate to revoke')
    .option('--serial <hex>', 'or its serial number, when the file is lost', parseSerial)
    .option('--crl-days <n>', 'days until the CRL must be re-signed', parseDays, 30)
    .action(async (opts: { ca: string; cert?: string; serial?: string; crlDays: number }, command: Command) => {
      if ((opts.cert === undefined) === (opts.serial === undefined)) command.error('give exactly one of --cert or --serial');
      const ca = await readCertificateFiles(opts.ca, CA_NAME);
      const serial = opts.cert !== undefined ? await serialOfIssuedCertificate(opts.cert, ca) : (opts.serial ?? '');
      const revoked = await currentRevocations(opts.ca, ca);
      const already = revoked.some((entry) => entry.serialNumber === serial);
      if (!already) revoked.push({ serialNumber: serial });
      const crlFile = join(opts.ca, CRL_FILE);
      await replaceFile(crlFile, await createCrl({ ca, revoked, nextUpdateDays: opts.crlDays }), PUBLIC_MODE);
      io.out(`${already ? 'already revoked' : 'revoked'} serial ${serial}; ${crlFile} lists ${revoked.length} certificate(s)`);
    });
}

function registerCrl(certs: Command, io: CertsOutput): void {
  certs
    .command('crl')
    .description('re-sign DIR/crl.pem with a new nextUpdate, keeping its entries')
    .requiredOption('--ca <dir>', 'folder made by "sealbus certs init"')
    .option('--crl-days <n>', 'days until the CRL must be re-signed', parseDays, 30)
    .action(async (opts: { ca: string; crlDays: number }) => {
      const ca = await readCertificateFiles(opts.ca, CA_NAME);
      const revoked = await currentRevocations(opts.ca, ca);
      const crlFile = join(opts.ca, CRL_FILE);
      await replaceFile(crlFile, await createCrl({ ca, revoked, nextUpdateDays: opts.crlDays }), PUBLIC_MODE);
      io.out(`re-signed ${crlFile}: ${revoked.length} certificate(s), valid for ${opts.crlDays} days`);
    });
}

/** `sealbus certs init|issue|revoke|crl`: development certificates without openssl. */
export function register(program: Command, io: CertsOutput = stdout): void {
  const certs = program.command('certs').description('make development certificates: a CA, server and client certificates, CRLs');
  registerInit(certs, io);
  registerIssue(certs, io);
  registerRevoke(certs, io);
  registerCrl(certs, io);
}
