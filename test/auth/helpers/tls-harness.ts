import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { isSealbusError } from '../../../src/errors/index.js';
import { identifyClient, type CertificateIdentity, type IdentityMapping, type TlsServerMaterial } from '../../../src/auth/index.js';

export interface Connection {
  /** The broker's end, as identifyClient sees it. */
  readonly serverSocket: TLSSocket;
  readonly clientSocket: TLSSocket;
}

export interface TlsHarness {
  connect(credentials?: { certPem: string; keyPem: string } | null, options?: tls.ConnectionOptions): Promise<Connection>;
  /** What a new secure context would be after a reload (what the lead's server does in watch()). */
  refreshSecureContext(): void;
  close(): Promise<void>;
}

/** The exact code identifyClient throws, or the principal when it accepts. */
export function outcome(connection: Connection, material: TlsServerMaterial, mapping?: IdentityMapping): string {
  try {
    const identity: CertificateIdentity = identifyClient(connection.serverSocket, material, mapping);
    return `ok:${identity.principal}`;
  } catch (err) {
    if (isSealbusError(err)) return err.code;
    throw err;
  }
}

/** A real TLS server with the material's options on 127.0.0.1, port 0. */
export async function startTlsHarness(material: TlsServerMaterial, serverCaPem: string): Promise<TlsHarness> {
  const server = tls.createServer(material.serverOptions());
  const sockets = new Set<TLSSocket>();
  const waiting = new Map<number, (socket: TLSSocket) => void>();
  const arrived = new Map<number, TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const port = socket.remotePort ?? -1;
    const resolve = waiting.get(port);
    if (resolve === undefined) arrived.set(port, socket);
    else resolve(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const serverSide = (clientPort: number): Promise<TLSSocket> => {
    const early = arrived.get(clientPort);
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve) => waiting.set(clientPort, resolve));
  };

  return {
    async connect(credentials, options = {}) {
      const clientSocket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: serverCaPem,
        ...(credentials != null && { cert: credentials.certPem, key: credentials.keyPem }),
        ...options,
      });
      sockets.add(clientSocket);
      await once(clientSocket, 'secureConnect');
      const serverSocket = await serverSide(clientSocket.localPort ?? -1);
      return { serverSocket, clientSocket };
    },
    refreshSecureContext() {
      server.setSecureContext(material.serverOptions());
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
