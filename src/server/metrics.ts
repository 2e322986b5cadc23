/**
 * Prometheus metrics of a broker, served at `/metrics` (a trusted client certificate, no token,
 * like the health probes). One registry per broker, never prom-client's global one, so that
 * several brokers in one process (tests) do not mix their figures; the process metrics (CPU,
 * memory, event loop) come from one registry shared by the process. Every metric is listed in
 * docs/operations.md; the alert rules and the dashboard in ops/ use only these names.
 */
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { AuditMetrics, type AuditMetricsSource } from './metrics/audit.js';
import { BrokerStateMetrics } from './metrics/broker-state.js';
import { ConnectionMetrics } from './metrics/connections.js';
import { LatencyMetrics, registerRequestMetrics, type SessionMetrics } from './metrics/latency.js';
import { processRegistry } from './metrics/process.js';
import { SecurityMetrics } from './metrics/security.js';
import { TrafficMetrics } from './metrics/traffic.js';

export type { AuditMetricsSource } from './metrics/audit.js';
export type { SessionMetrics } from './metrics/latency.js';
export { registerRequestMetrics } from './metrics/latency.js';

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly audit = new AuditMetrics(this.registry);
  /** Records, bytes, errors, denials, auth failures: the audit trail's observer (both transports pass it). */
  readonly traffic = new TrafficMetrics(this.registry);
  readonly latency = new LatencyMetrics(this.registry);
  readonly connections = new ConnectionMetrics(this.registry);
  /** Log sizes, consumer lag, disk: read from the store when scraped. */
  readonly state = new BrokerStateMetrics(this.registry);
  /** Certificate expiry, policy in force and reloads, build. */
  readonly security = new SecurityMetrics(this.registry);
  /** What a WebSocket session reports: frame latency, acks, errors sent. */
  readonly sessions: SessionMetrics = this.latency.sessionMetrics(this.traffic);

  /** Events lost by the audit trail (broker-audit.ts counts them here). */
  get auditDropped(): AuditMetrics['dropped'] {
    return this.audit.dropped;
  }

  watchAudit(audit: AuditMetricsSource): void {
    this.audit.watch(audit);
  }

  /** The Prometheus text of this broker's metrics followed by the process metrics. */
  async text(): Promise<string> {
    const [own, shared] = await Promise.all([this.registry.metrics(), processRegistry().metrics()]);
    return own.endsWith('\n') ? own + shared : `${own}\n${shared}`;
  }

  /** Every metric family name served (tests check that the alert rules and dashboard use only these). */
  async names(): Promise<string[]> {
    const [own, shared] = await Promise.all([this.registry.getMetricsAsJSON(), processRegistry().getMetricsAsJSON()]);
    return [...own, ...shared].map((metric) => metric.name);
  }
}

export function registerMetricsRoute(app: FastifyInstance, metrics: BrokerMetrics): void {
  registerRequestMetrics(app, metrics.latency);
  app.get('/metrics', { config: { auth: 'certificate' as const } }, async (_request, reply) => {
    const text = await metrics.text();
    return reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store').send(text);
  });
}
