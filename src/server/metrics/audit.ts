/**
 * The audit log's health, read from the log when scraped (docs/audit.md): whether it can be
 * written, failed writes, events lost, throughput and backlog.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the audit metrics read when scraped. */
export interface AuditMetricsSource {
  stats(): { readonly written: number; readonly failedWrites: number; readonly checkpoints: number; readonly pending: number; readonly available: boolean };
}

export class AuditMetrics {
  /** Events lost: written in the background or in open mode, and refused by the log. Alert on any rise. */
  readonly dropped: Counter;
  #source: AuditMetricsSource | null = null;

  constructor(registry: Registry) {
    const registers = [registry];
    this.dropped = new Counter({
      name: 'sealbus_audit_dropped_events_total',
      help: 'Audit events that could not be written (open fail mode, or background events while the log was failing). Alert on any rise.',
      registers,
    });
    const stats = (): ReturnType<AuditMetricsSource['stats']> | null => this.#source?.stats() ?? null;
    new Gauge({
      name: 'sealbus_audit_available',
      help: '1 while the audit log can be written; 0 while it cannot (closed fail mode refuses audited operations). Alert on 0.',
      registers,
      collect() {
        this.set(stats()?.available === true ? 1 : 0);
      },
    });
    // Counters whose value is the log's own tally, read when scraped.
    const tally = (name: string, help: string, read: (source: ReturnType<AuditMetricsSource['stats']>) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const current = stats();
          this.reset();
          this.inc(current === null ? 0 : read(current));
        },
      });
    };
    tally('sealbus_audit_write_failures_total', 'Writes of the audit log that failed (each refused the events of its group). Alert on any rise.', (s) => s.failedWrites);
    tally('sealbus_audit_events_written_total', 'Audit events written since the broker started.', (s) => s.written);
    tally('sealbus_audit_checkpoints_written_total', 'Signed audit checkpoints written since the broker started.', (s) => s.checkpoints);
    new Gauge({
      name: 'sealbus_audit_pending_events',
      help: 'Audit events waiting to be written. A backlog that keeps growing means the log cannot keep up with the broker.',
      registers,
      collect() {
        this.set(stats()?.pending ?? 0);
      },
    });
  }

  watch(source: AuditMetricsSource): void {
    this.#source = source;
  }
}
