/**
 * The broker's defences against a client that would take it down by volume: quotas per principal,
 * connection limits, timeouts against slow clients, and bounded buffers for slow consumers
 * (docs/operations.md, "Limits and quotas"). One instance per app; `stats()` is what the metrics
 * read, and `onRefused` sees every refusal as it happens.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import type { SealbusConfig } from '../../config/types.js';
import { ConnectionGuard, type ConnectionRefusal, type ConnectionStats } from './connection-guard.js';
import { QuotaBook, type QuotaName, type QuotaStats } from './quotas.js';
import { WebSocketWatch, type WebSocketStats } from './web-socket-watch.js';

export { ConnectionGuard, addressKey, type ConnectionRefusal, type ConnectionStats } from './connection-guard.js';
export { DeliveryGate, type DeliveryGateOptions } from './delivery-gate.js';
export { installHttpLimits } from './http-limits.js';
export { QuotaBook, type QuotaName, type QuotaStats } from './quotas.js';
export { TokenBucket } from './token-bucket.js';
export { WebSocketWatch, type WebSocketStats } from './web-socket-watch.js';

/** Descriptors the broker needs besides its connections: segment files, indexes, the audit log, watchers. */
const RESERVED_DESCRIPTORS = 256;

export interface LimitsStats {
  readonly connections: ConnectionStats;
  readonly quotas: QuotaStats;
  readonly webSockets: WebSocketStats;
}

export type Refusal = { readonly kind: 'quota'; readonly quota: QuotaName } | { readonly kind: 'connection'; readonly limit: ConnectionRefusal };

/** The limits of one broker: a QuotaBook, a ConnectionGuard and a WebSocketWatch, wired together. */
export class BrokerLimits {
  readonly settings: SealbusConfig['limits'];
  readonly quotas: QuotaBook;
  readonly connections: ConnectionGuard;
  readonly webSockets: WebSocketWatch;

  constructor(limits: SealbusConfig['limits'], quotas: SealbusConfig['quotas'], clock: () => number) {
    this.settings = limits;
    this.quotas = new QuotaBook(quotas, clock);
    this.connections = new ConnectionGuard(limits);
    // Idle principals' buckets are swept on the same timer as the pings: no timer of their own.
    this.webSockets = new WebSocketWatch(limits.webSocketPingIntervalMs, () => this.quotas.sweep());
  }

  /**
   * Enforces the connection limits on the listener, and warns when the process may not open as
   * many files as `maxConnections` asks (each connection is a file descriptor).
   */
  attach(server: Server, log: { warn(obj: object, msg: string): void }): void {
    this.connections.attach(server);
    const descriptors = fileDescriptorLimit();
    if (descriptors !== null && descriptors < this.settings.maxConnections + RESERVED_DESCRIPTORS) {
      log.warn(
        { maxConnections: this.settings.maxConnections, fileDescriptorLimit: descriptors },
        'limits.maxConnections is above what the file-descriptor limit (ulimit -n) allows; raise the limit or lower the setting',
      );
    }
  }

  /** Sees every refusal (metrics); replaces the previous listener. */
  set onRefused(listener: (refusal: Refusal) => void) {
    this.quotas.onRefused = (quota) => listener({ kind: 'quota', quota });
    this.connections.onRefused = (limit) => listener({ kind: 'connection', limit });
  }

  stats(): LimitsStats {
    return { connections: this.connections.stats(), quotas: this.quotas.stats(), webSockets: this.webSockets.stats() };
  }

  close(): void {
    this.webSockets.close();
  }
}

/**
 * The TLS and HTTP server options that cut slow clients off: the TLS handshake, the request
 * headers (slowloris) and the whole request (a body trickled byte by byte). Node checks the last
 * two on a timer; it runs often enough that a timeout is not overshot by more than a quarter.
 */
export function serverTimeouts(limits: SealbusConfig['limits']): {
  handshakeTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    handshakeTimeout: limits.handshakeTimeoutMs,
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(headersTimeout / 4))),
  };
}

/** The soft limit on open files of this process (Linux: /proc/self/limits), or null when unknown. */
export function fileDescriptorLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === undefined) return null;
    return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft) || null;
  } catch {
    return null;
  }
}
