/**
 * Connection limits, enforced as early and as cheaply as each can be:
 *
 * - in total: the listener's own `maxConnections`, so Node closes the connection before it becomes
 *   a socket object, let alone a TLS handshake;
 * - per source address: at the TCP `connection` event, before the first byte of TLS is read; the
 *   socket is destroyed (there is nobody yet to send an error code to). IPv6 addresses count per
 *   /64 prefix, the block one subscriber gets, so that an attacker cannot spread over its own block;
 * - per principal: at authentication, the first time a connection authenticates, with
 *   SEALBUS_ERR_LIMIT_PRINCIPAL_CONNECTIONS. A connection counts against its first principal only.
 *
 * Every counter is decremented on the socket's `close`, whichever way it ends.
 */
import type { Server, Socket } from 'node:net';
import { SealbusError } from '../../errors/index.js';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerPrincipal: number;
}

export interface ConnectionStats {
  /** Connections open now (counted at the TCP level). */
  readonly open: number;
  /** Source addresses (IPv6: /64 prefixes) with at least one connection open. */
  readonly sourceAddresses: number;
  /** Principals with at least one authenticated connection open, and those connections. */
  readonly principals: number;
  readonly authenticated: number;
  /** Connections refused: past the total, past the per-address limit, past the per-principal limit. */
  readonly refused: { readonly total: number; readonly perIp: number; readonly perPrincipal: number };
}

export type ConnectionRefusal = 'total' | 'perIp' | 'perPrincipal';

export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #perIp = new Map<string, number>();
  readonly #perPrincipal = new Map<string, number>();
  readonly #counted = new WeakSet<object>();
  readonly #refused = { total: 0, perIp: 0, perPrincipal: 0 };
  #open = 0;
  #authenticated = 0;
  /** Called on every refusal (metrics). */
  onRefused: (kind: ConnectionRefusal) => void = () => {};

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
  }

  /** Enforces the total and per-address limits on a listener (before it listens). */
  attach(server: Server): void {
    server.maxConnections = this.#limits.maxConnections;
    server.on('drop', () => this.#refuse('total'));
    server.on('connection', (socket: Socket) => this.#onConnection(socket));
  }

  /**
   * Counts an authenticated connection against its principal: null when admitted (or already
   * counted), else the refusal. `socket` is the request's socket, counted once.
   */
  admitPrincipal(socket: Socket, principal: string): SealbusError | null {
    if (this.#counted.has(socket) || socket.destroyed) return null;
    const count = this.#perPrincipal.get(principal) ?? 0;
    if (count >= this.#limits.maxConnectionsPerPrincipal) {
      this.#refuse('perPrincipal');
      return new SealbusError('SEALBUS_ERR_LIMIT_PRINCIPAL_CONNECTIONS', { limit: this.#limits.maxConnectionsPerPrincipal });
    }
    this.#counted.add(socket);
    this.#perPrincipal.set(principal, count + 1);
    this.#authenticated++;
    socket.once('close', () => {
      this.#authenticated--;
      decrement(this.#perPrincipal, principal);
    });
    return null;
  }

  stats(): ConnectionStats {
    return {
      open: this.#open,
      sourceAddresses: this.#perIp.size,
      principals: this.#perPrincipal.size,
      authenticated: this.#authenticated,
      refused: { ...this.#refused },
    };
  }

  #onConnection(socket: Socket): void {
    const address = socket.remoteAddress;
    if (address === undefined) {
      // Already gone: nothing to count, nothing to serve.
      socket.destroy();
      return;
    }
    const key = addressKey(address);
    const count = this.#perIp.get(key) ?? 0;
    if (count >= this.#limits.maxConnectionsPerIp) {
      this.#refuse('perIp');
      socket.destroy();
      return;
    }
    this.#perIp.set(key, count + 1);
    this.#open++;
    socket.once('close', () => {
      this.#open--;
      decrement(this.#perIp, key);
    });
  }

  #refuse(kind: ConnectionRefusal): void {
    this.#refused[kind]++;
    this.onRefused(kind);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = counts.get(key) ?? 0;
  if (count <= 1) counts.delete(key);
  else counts.set(key, count - 1);
}

/**
 * The key a source address is counted under: an IPv4 address as it is (also when IPv4-mapped),
 * an IPv6 address by its /64 prefix.
 */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  const bare = address.split('%')[0]!;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${all
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
