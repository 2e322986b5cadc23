/**
 * TLS material for the peers (NATS, Redis), made at run time with sealbus's own certificate
 * helpers: a CA, a server certificate for localhost and a client certificate, ECDSA P-256 as
 * `sealbus dev` makes for itself, so every system pays for the same kind of handshake and cipher.
 * The keys live in a temporary folder (mode 0600) removed at exit; none is ever committed.
 */
import { createCertificateAuthority, issueCertificate, writeCertificateFiles } from '../../src/auth/index.js';

export interface TlsFiles {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  const ca = await createCertificateAuthority({ commonName: 'sealbus compare CA' });
  const server = await issueCertificate({ ca, commonName: 'localhost', server: { hosts: ['localhost', '127.0.0.1'] }, extendedKeyUsage: 'server' });
  const client = await issueCertificate({ ca, commonName: 'bench-client', client: true, extendedKeyUsage: 'client' });
  const caFiles = await writeCertificateFiles(dir, 'ca', ca);
  const serverFiles = await writeCertificateFiles(dir, 'server', server);
  const clientFiles = await writeCertificateFiles(dir, 'client', client);
  return {
    ca: caFiles.certFile,
    serverCert: serverFiles.certFile,
    serverKey: serverFiles.keyFile,
    clientCert: clientFiles.certFile,
    clientKey: clientFiles.keyFile,
  };
}
