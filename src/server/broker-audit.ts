/**
 * The audit log of a running broker: the signing key, the writer on the internal topic, the trail
 * that decides what is recorded, and the alert metrics. Started before the broker serves anything
 * and closed after it stops, so `broker.start` is the first event of a run and `broker.stop` the
 * last, followed by a checkpoint that signs the whole run.
 */
import { AuditLog, AuditSigner } from '../audit/index.js';
import { AuditTrail } from '../broker/audit-trail.js';
import type { SealbusConfig } from '../config/index.js';
import type { LogStore } from '../log/index.js';
import type { BrokerMetrics } from './metrics.js';

export interface BrokerAudit {
  readonly log: AuditLog;
  readonly trail: AuditTrail;
  readonly signer: AuditSigner;
  /** `sealbus://<brokerId>`: the source of every event and checkpoint. */
  readonly source: string;
  /** Writes the open session tallies and `broker.stop`, then the final checkpoint. Never throws. */
  close(): Promise<void>;
}

export interface BrokerAuditOptions {
  readonly config: SealbusConfig;
  readonly store: LogStore;
  readonly metrics: BrokerMetrics;
  readonly clock: () => number;
  readonly onAvailabilityChange: (available: boolean, reason: string | null) => void;
  readonly onCloseError: (err: unknown) => void;
}

export async function openBrokerAudit(options: BrokerAuditOptions): Promise<BrokerAudit> {
  const { config, store, metrics, clock } = options;
  const settings = config.audit;
  const source = `sealbus://${settings.brokerId}`;
  const signer = await AuditSigner.loadOrCreate(settings.keyDir, { now: () => new Date(clock()) });
  const log = await AuditLog.open({
    store,
    signer,
    source,
    clock,
    checkpointEvents: settings.checkpointEvents,
    checkpointIntervalMs: settings.checkpointIntervalMs,
    retentionMs: settings.retentionMs,
    retentionBytes: settings.retentionBytes,
    segmentBytes: settings.segmentBytes,
    maxPendingEvents: settings.maxPendingEvents,
    onAvailabilityChange: options.onAvailabilityChange,
  });
  metrics.watchAudit(log);
  const trail = new AuditTrail({
    sink: log,
    failMode: settings.failMode,
    dataAccess: settings.dataAccess,
    onDropped: () => metrics.auditDropped.inc(),
  });
  let closed = false;
  return {
    log,
    trail,
    signer,
    source,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        trail.endAllSessions();
        await log.append({ type: 'sealbus.broker.stop', data: { brokerId: settings.brokerId } });
      } catch (err) {
        options.onCloseError(err);
      }
      try {
        await log.close();
      } catch (err) {
        options.onCloseError(err);
      }
    },
  };
}
