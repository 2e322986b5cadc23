/**
 * The audit log of a running broker: the signing key, the writer on the internal topic, the trail
 * that decides what is recorded, and the alert metrics. Started before the broker serves anything
 * and closed after it stops, so `broker.start` is the first event of a run and `broker.stop` the
 * last, followed by a checkpoint that signs the whole run.
 */
import { AUDIT_TOPIC, AuditLog, AuditSigner, BrokerLease, auditTopicFor } from '../audit/index.js';
import { AuditTrail } from '../broker/audit-trail.js';
import type { SealbusConfig } from '../config/index.js';
import type { LogStore } from '../log/index.js';
import type { BrokerMetrics } from './metrics.js';
import type { AuditRouteDeps } from './routes/audit.js';

export interface BrokerAudit {
  readonly log: AuditLog;
  readonly trail: AuditTrail;
  readonly signer: AuditSigner;
  /** `sealbus://<brokerId>`: the source of every event and checkpoint. */
  readonly source: string;
  /** On a shared store, this broker's hold on its id (one writer per chain); null on the file store. */
  readonly lease: BrokerLease | null;
  /** What the audit routes need besides the broker. */
  routes(): Omit<AuditRouteDeps, 'broker'>;
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
  /** Lease records that could not be read or written (never fatal by themselves). */
  readonly onLeaseError?: (err: unknown) => void;
}

export async function openBrokerAudit(options: BrokerAuditOptions): Promise<BrokerAudit> {
  const { config, store, metrics, clock } = options;
  const settings = config.audit;
  const source = `sealbus://${settings.brokerId}`;
  const signer = await AuditSigner.loadOrCreate(settings.keyDir, { now: () => new Date(clock()) });
  // A shared store holds one chain per broker, and each chain has one writer: the broker holding
  // its id. The file store has one broker (its directory lock) and keeps `__sealbus.audit`.
  const shared = config.store.kind === 'jetstream';
  const topic = shared ? auditTopicFor(settings.brokerId) : AUDIT_TOPIC;
  const lease = shared
    ? await BrokerLease.acquire({ store, brokerId: settings.brokerId, auditKey: signer.publicJwk(), clock, report: (err) => options.onLeaseError?.(err) })
    : null;
  let log: AuditLog;
  try {
    log = await openLog();
  } catch (err) {
    await lease?.close();
    throw err;
  }
  function openLog(): Promise<AuditLog> {
    return AuditLog.open({
      store,
      signer,
      source,
      topic,
      ...(lease !== null && { beforeWrite: () => lease.assertHeld() }),
      clock,
      checkpointEvents: settings.checkpointEvents,
      checkpointIntervalMs: settings.checkpointIntervalMs,
      retentionMs: settings.retentionMs,
      retentionBytes: settings.retentionBytes,
      segmentBytes: settings.segmentBytes,
      maxPendingEvents: settings.maxPendingEvents,
      onAvailabilityChange: options.onAvailabilityChange,
    });
  }
  metrics.watchAudit(log);
  const trail = new AuditTrail({
    sink: log,
    failMode: settings.failMode,
    dataAccess: settings.dataAccess,
    onDropped: () => metrics.auditDropped.inc(),
    observer: metrics.traffic,
  });
  let closed = false;
  return {
    log,
    trail,
    signer,
    source,
    lease,
    routes: () => ({
      store,
      source,
      brokerId: settings.brokerId,
      topic,
      publicKeys: () => [signer.publicJwk()],
      keyOf: (brokerId) => lease?.keyOf(brokerId) ?? null,
    }),
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
      await lease?.close();
    },
  };
}
