/**
 * Prometheus metrics of a broker, served at `/metrics` (a trusted client certificate, no token,
 * like the health probes). One registry per broker, never prom-client's global one, so that
 * several brokers in one process (tests) do not mix their figures.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';

/** What the audit metrics read when scraped. */
export interface AuditMetricsSource {
  stats(): { readonly written: number; readonly failedWrites: number; readonly checkpoints: number; readonly pending: number; readonly available: boolean };
}

export class BrokerMetrics {
  readonly registry = new Registry();
  /** Events lost: written in the background or in open mode, and refused by the log. Alert on any rise. */
  readonly auditDropped: Counter;
  #audit: AuditMetricsSource | null = null;

  constructor() {
    const registers = [this.registry];
    this.auditDropped = new Counter({
      name: 'sealbus_audit_dropped_events_total',
      help: 'Audit events that could not be written (open fail mode, or background events while the log was failing).',
      registers,
    });
    const source = (): AuditMetricsSource | null => this.#audit;
    new Gauge({
      name: 'sealbus_audit_available',
      help: '1 while the audit log can be written; 0 while it cannot (closed fail mode refuses audited operations). Alert on 0.',
      registers,
      collect() {
        const audit = source();
        this.set(audit === null ? 0 : audit.stats().available ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sealbus_audit_write_failures_total',
      help: 'Writes of the audit log that failed (each refused the events of its group). Alert on any rise.',
      registers,
      collect() {
        this.set(source()?.stats().failedWrites ?? 0);
      },
    });
    new Gauge({
      name: 'sealbus_audit_events_written_total',
      help: 'Audit events written since the broker started.',
      registers,
      collect() {
        this.set(source()?.stats().written ?? 0);
      },
    });
    new Gauge({
      name: 'sealbus_audit_checkpoints_written_total',
      help: 'Signed audit checkpoints written since the broker started.',
      registers,
      collect() {
        this.set(source()?.stats().checkpoints ?? 0);
      },
    });
    new Gauge({
      name: 'sealbus_audit_pending_events',
      help: 'Audit events waiting to be written.',
      registers,
      collect() {
        this.set(source()?.stats().pending ?? 0);
      },
    });
  }

  watchAudit(audit: AuditMetricsSource): void {
    this.#audit = audit;
  }
}

export function registerMetricsRoute(app: FastifyInstance, metrics: BrokerMetrics): void {
  app.get('/metrics', { config: { auth: 'certificate' as const } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store').send(text);
  });
}
