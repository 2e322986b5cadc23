/**
 * Connections and sessions: open TLS connections (counted from the server's own events, so
 * refused and unauthenticated clients count too), handshakes that failed, and live WebSocket
 * sessions (read from the session registry when scraped).
 */
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The server events counted: `secureConnection` gives a socket that emits `close` once. */
type TlsServer = Pick<EventEmitter, 'on'>;

export class ConnectionMetrics {
  readonly #open: Gauge;
  readonly #opened: Counter;
  readonly #handshakeFailures: Counter;
  #sessions: () => number = () => 0;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#open = new Gauge({
      name: 'sealbus_connections',
      help: 'Open TLS connections (HTTP keep-alive and WebSocket). Compare with limits.maxSessions and the file-descriptor limit.',
      registers,
    });
    this.#opened = new Counter({
      name: 'sealbus_connections_total',
      help: 'TLS connections accepted (handshake completed) since the broker started.',
      registers,
    });
    this.#handshakeFailures = new Counter({
      name: 'sealbus_tls_handshake_failures_total',
      help: 'TLS handshakes that failed (bad protocol version or cipher, untrusted server certificate at the client, scanners). A rise after a certificate rotation means clients do not trust the new one.',
      registers,
    });
    const sessions = (): number => this.#sessions();
    new Gauge({
      name: 'sealbus_sessions',
      help: 'Live WebSocket sessions (authenticated, speaking sealbus.v1). Refused above limits.maxSessions.',
      registers,
      collect() {
        this.set(sessions());
      },
    });
  }

  watchServer(server: TlsServer): void {
    server.on('secureConnection', (socket: EventEmitter) => {
      this.#opened.inc();
      this.#open.inc();
      socket.once('close', () => this.#open.dec());
    });
    server.on('tlsClientError', () => this.#handshakeFailures.inc());
  }

  watchSessions(count: () => number): void {
    this.#sessions = count;
  }
}
