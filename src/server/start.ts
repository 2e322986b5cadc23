import type { FastifyInstance } from 'fastify';
import { LocalIssuer, identifyClient, loadTlsMaterial, type IdentityMapping, type TlsServerMaterial } from '../auth/index.js';
import { RevocationList } from '../auth/revocation-list.js';
import { Broker, PolicyAuthorizer, type Authorizer } from '../broker/index.js';
import { RevocationLog } from '../broker/revocation-log.js';
import { SchemaGuard } from '../broker/schema-guard.js';
import { validationPool } from '../broker/validation-pool.js';
import { SchemaRegistry } from '../broker/schema-registry.js';
import { auditText } from '../broker/audit-event-data.js';
import { TokenAdmin } from '../broker/token-admin.js';
import type { SealbusConfig } from '../config/index.js';
import { FileLogStore, JetStreamLogStore, type LogStore, type RecoveryReport, type TopicConfig } from '../log/index.js';
import type { LogFileSystem } from '../log/file/fs-seam.js';
import { PolicyEngine, coverageOfAll, loadPolicyDir, watchPolicyDir } from '../policy/index.js';
import { CLOSE_CODES } from '../protocol/index.js';
import { buildApp } from './app.js';
import { openBrokerAudit, type BrokerAudit } from './broker-audit.js';
import { clusterRouting, startClusterAppends, startClusterGroups } from './cluster-groups.js';
import type { ClusterAppends } from '../broker/cluster/index.js';
import type { ClusterGroups } from '../broker/groups/cluster/index.js';
import { openEndToEnd, type EndToEnd } from './end-to-end.js';
import { BrokerMetrics } from './metrics.js';
import type { BrokerLimits } from './limits/index.js';
import { createRequestAuthenticator, rejectionCode, watchKeyring } from './request-auth.js';

export interface RunningBroker {
  /** `https://host:port` as it listens (the real port when 0 was asked). */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly store: LogStore;
  readonly issuer: LocalIssuer;
  readonly recovery: RecoveryReport;
  /** The policy in force (replaced atomically on reload). */
  readonly policy: PolicyEngine;
  /** Token administration: issue, revoke, rotate keys (the API's service). */
  readonly tokens: TokenAdmin;
  /** The audit log: its writer, trail and signing key. */
  readonly audit: BrokerAudit;
  readonly metrics: BrokerMetrics;
  /** Quotas and connection limits: `stats()` counts refusals, open connections, throttled deliveries. */
  readonly limits: BrokerLimits;
  /** On a shared store: consumer groups across brokers (routing, forwarding); null on a single broker. */
  readonly groupCluster?: ClusterGroups | null;
  /** On a shared store: one writer per partition (appends forwarded to the partition's owner); null on a single broker. */
  readonly appendCluster?: ClusterAppends | null;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly clock?: () => number;
  /** Replaces the policy engine (tests of the transport only). */
  readonly authorizer?: Authorizer;
  /** The store's file-system seam (tests inject disk failures through it). */
  readonly fileSystem?: LogFileSystem;
  /** Where the log lines go instead of standard output (tests read them). */
  readonly logStream?: { write(line: string): void };
}

/**
 * Starts a broker from a validated configuration: opens (and recovers) the store, loads the TLS
 * material and the token issuer, and listens on HTTPS. This is the one way a broker starts:
 * `sealbus serve`, `sealbus dev` and the tests all come through here.
 */
export async function startBroker(config: SealbusConfig, options: StartOptions = {}): Promise<RunningBroker> {
  const clock = options.clock ?? Date.now;
  const defaults = config.topicDefaults;
  const metrics = new BrokerMetrics();
  const storeDefaults: Partial<TopicConfig> = {
    partitions: defaults.partitions,
    retentionMs: defaults.retentionMs,
    retentionBytes: defaults.retentionBytes,
    maxRecordBytes: defaults.maxRecordBytes,
    segmentBytes: defaults.segmentBytes,
    fsync: defaults.fsync === 'always' ? { mode: 'always' } : { mode: 'interval', intervalMs: defaults.fsyncIntervalMs },
  };
  // The cluster store: every setting of the `store` block but kind and dir goes to it (docs/cluster.md).
  const store: LogStore =
    config.store.kind === 'jetstream'
      ? new JetStreamLogStore({ ...config.store, clock, defaults: storeDefaults })
      : new FileLogStore({
          dir: config.store.dir,
          onFsync: metrics.latency.observeFsync,
          clock,
          ...(options.fileSystem !== undefined && { fs: options.fileSystem }),
          retentionCheckMs: config.store.retentionCheckMs,
          wal: config.store.writeAheadLog ?? true,
          defaults: storeDefaults,
        });
  // A policy set that does not load stops the start: the operator sees the file and line now,
  // rather than a broker that denies everything for a reason nobody reads.
  const policy = new PolicyEngine(await loadPolicyDir(config.policy.dir), { cacheSize: config.policy.cacheSize });
  metrics.security.watchPolicy(() => policy.policy, clock());
  metrics.state.watchStore(store, config.store.dir);
  const recovery = await store.open();
  let material: TlsServerMaterial | undefined;
  let app: FastifyInstance | undefined;
  let stopWatching = (): void => {};
  let stopPolicyWatch = async (): Promise<void> => {};
  let stopKeyWatch = (): void => {};
  let revocationLog: RevocationLog | undefined;
  let audit: BrokerAudit | undefined;
  let endToEnd: EndToEnd | undefined;
  let schemas: SchemaRegistry | undefined;
  let groupCluster: ClusterGroups | null = null;
  let appendCluster: ClusterAppends | null = null;
  try {
    material = await loadTlsMaterial({
      certFile: config.tls.cert,
      keyFile: config.tls.key,
      caFile: config.tls.ca,
      minVersion: config.tls.minVersion,
      ...(config.tls.crl !== undefined && { crlFile: config.tls.crl }),
    });
    const issuer = await LocalIssuer.loadOrCreate(config.auth.localIssuer.keyDir!, {
      issuer: config.auth.localIssuer.issuer,
      now: clock,
    });
    audit = await openBrokerAudit({
      config,
      store,
      metrics,
      clock,
      onAvailabilityChange: (available, reason) => {
        if (available) app?.log.info('audit log writable again');
        else app?.log.error({ reason }, 'audit log cannot be written');
      },
      onCloseError: (err) => app?.log.error({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'audit log not closed cleanly'),
      onLeaseError: (err) => app?.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'broker lease (__sealbus.brokers)'),
    });
    const trail = audit.trail;
    const revocations = new RevocationList({ maxEntries: config.auth.tokens.maxRevocations });
    // One mapping object for the server's life: identifyClient caches per connection by its identity.
    const mapping: IdentityMapping = { from: config.auth.identity.from };
    const { authenticator, verifier } = createRequestAuthenticator(config, material, mapping, issuer, revocations, clock);
    const policyAuthorizer = new PolicyAuthorizer(policy);
    endToEnd = await openEndToEnd({
      store,
      policy,
      audit: trail,
      clock,
      authorize: (actor, action, resource) => broker.authorize(actor, action, resource),
      onError: (err) => app?.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'key directory'),
    });
    schemas = new SchemaRegistry({
      store,
      authorize: (actor, action, resource) => broker.authorize(actor, action, resource),
      isAllowed: (actor, action, resource) => broker.isAllowed(actor, action, resource),
      audit: trail,
      clock,
      onError: (err) => app?.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'schema registry'),
    });
    await schemas.open();
    // On a shared store, one routing for groups and appends; the Broker appends through the partition's owner.
    const routing = clusterRouting(store, audit.lease);
    const routed = startClusterAppends(store, routing, (err) =>
      app?.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'appends across brokers'),
    );
    appendCluster = routed?.appends ?? null;
    const broker: Broker = new Broker({
      store: routed?.store ?? store,
      topicDefaults: { partitions: defaults.partitions },
      authorizer: options.authorizer ?? policyAuthorizer,
      audit: trail,
      envelopes: endToEnd.guard,
      schemas: new SchemaGuard(schemas, store, trail, validationPool(config.schemaValidation.threads)),
      limits: {
        maxRecordsPerBatch: config.limits.maxRecordsPerBatch,
        maxBatchBytes: config.limits.maxFrameBytes,
        fetchMaxBytes: config.limits.fetchMaxBytes,
        longPollMaxMs: config.limits.longPollMaxMs,
      },
    });
    groupCluster = startClusterGroups(store, routing, audit.lease?.instance ?? '', broker, (err) =>
      app?.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'consumer groups across brokers'),
    );
    // Set once the app exists: ends the live sessions whose token is no longer accepted.
    let sweepSessions = (): void => {};
    const toleranceMs = config.auth.clockToleranceSec * 1000;
    revocationLog = new RevocationLog({
      store,
      list: revocations,
      clock,
      // A revocation outlives every token it can name (iat is required, maxTokenAge bounds it), plus a day.
      retentionMs: config.auth.maxTokenAgeSec * 1000 + toleranceMs + 86_400_000,
      onAdded: () => sweepSessions(),
      onError: (err) => app?.log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'revocation log'),
    });
    await revocationLog.open();
    const tokens = new TokenAdmin({
      issuer,
      revocations: { revoke: (entry) => revocationLog!.revoke(entry), entries: () => revocations.entries() },
      authorize: (actor, action, resource) => broker.authorize(actor, action, resource),
      coverage: (actor, scopes) => coverageOfAll(policy.policy, policyAuthorizer.subjectOf(actor), scopes),
      verify: (token, certificate) => verifier.verify(token, certificate),
      settings: {
        audience: config.auth.audience,
        defaultTtlSec: config.auth.tokens.defaultTtlSec,
        maxTtlSec: config.auth.tokens.maxTtlSec,
        maxTokenAgeSec: config.auth.maxTokenAgeSec,
        clockToleranceSec: config.auth.clockToleranceSec,
        requireBinding: config.auth.localIssuer.requireBinding,
        rotationOverlapSec: config.auth.localIssuer.rotationOverlapSec,
      },
      clock,
      onKeysChanged: () => sweepSessions(),
      audit: trail,
    });
    const built = await buildApp({
      broker,
      authenticator,
      limits: config.limits,
      quotas: config.quotas,
      https: material.serverOptions(),
      jwks: () => issuer.jwks(),
      policy: () => policy.policy,
      tokens,
      metrics,
      keys: endToEnd.routes,
      schemas,
      audit: { broker, ...audit.routes() },
      readiness: () => {
        const writable = audit!.log.available;
        // Closed fail mode refuses audited operations while the log cannot be written: not ready.
        const ready = writable || config.audit.failMode === 'open';
        return { ready, checks: { store: 'open', config: config.source, policy: policy.policy.version, audit: writable ? 'writable' : 'failing' } };
      },
      logLevel: config.log.level,
      ...(options.logStream !== undefined && { logStream: options.logStream }),
      clock,
    });
    app = built.app;
    const tls = material;
    metrics.security.watchCertificates({ serverCertificate: () => tls.serverOptions().cert, trustAnchors: () => tls.trustState().anchors });
    metrics.connections.watchServer(app.server);
    metrics.connections.watchSessions(() => built.sessions.size);
    const server = app.server as unknown as { setSecureContext(options: object): void };
    if (config.tls.watch) {
      stopWatching = tls.watch(
        () => {
          server.setSecureContext(tls.serverOptions());
          // Live sessions are judged by the new CA bundle and CRL: a revoked or no longer trusted
          // certificate loses its session now, not at its next reconnect.
          const closed = built.sessions.closeEach((session) => rejectionCode(() => identifyClient(session.tlsSocket, tls, mapping)), CLOSE_CODES.AUTHENTICATION);
          app?.log.info({ closedSessions: closed }, 'TLS material reloaded');
        },
        (err) => app?.log.warn({ code: (err as { code?: string }).code }, 'new TLS material refused; the previous one stays in use'),
      );
    }
    const log = app.log;
    sweepSessions = () => {
      const closed = built.sessions.closeEach(
        (session) => (session.principal.token === null ? null : rejectionCode(() => verifier.recheck(session.principal.token!))),
        CLOSE_CODES.AUTHENTICATION,
      );
      if (closed > 0) log.info({ closedSessions: closed }, 'sessions closed: their token was revoked or its key retired');
    };
    stopKeyWatch = watchKeyring(issuer, sweepSessions, (err) => log.warn({ code: (err as { code?: string }).code, reason: (err as Error).message }, 'issuer keyring not reloaded'));
    if (policy.policy.rules.length === 0) {
      log.warn({ dir: config.policy.dir }, 'no policy rules are in force: every request is denied (see docs/policies.md)');
    }
    if (config.policy.watch) {
      const watcher = watchPolicyDir(config.policy.dir, {
        onLoad: (next) => {
          policy.replace(next);
          metrics.security.policyReloaded('applied', clock());
          // Rights withdrawn by the new policy end now on live sessions, not at their next request.
          built.sessions.revalidateAll();
          log.info({ version: next.version, rules: next.rules.length }, 'policy reloaded');
          trail.note({ type: 'sealbus.policy.reload', data: { outcome: 'applied', version: next.version, rules: next.rules.length } });
        },
        onError: (err) => {
          log.warn({ code: err.code, reason: err.message }, 'policy files refused; the policy in force stays');
          metrics.security.policyReloaded('refused', clock());
          trail.note({ type: 'sealbus.policy.reload', data: { outcome: 'refused', code: err.code, reason: auditText(err.message), version: policy.policy.version } });
        },
      }, { initialVersion: policy.policy.version });
      stopPolicyWatch = () => watcher.close();
    }
    await app.listen({ host: config.listen.host, port: config.listen.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    const running = app;
    // The first event of the run; in closed mode a broker that cannot record it does not serve.
    await trail.record({
      type: 'sealbus.broker.start',
      data: { brokerId: config.audit.brokerId, url: `https://${host}:${port}`, policyVersion: policy.policy.version, recoveryProblems: recovery.problems.length },
    });
    const brokerAudit = audit;
    const e2e = endToEnd;
    const registry = schemas;
    return {
      url: `https://${host}:${port}`,
      port,
      app: running,
      store,
      issuer,
      recovery,
      policy,
      tokens,
      audit: brokerAudit,
      metrics,
      limits: built.limits,
      groupCluster,
      appendCluster,
      close: async () => {
        stopKeyWatch();
        revocationLog?.close();
        stopWatching();
        await stopPolicyWatch();
        await running.close();
        groupCluster?.close();
        appendCluster?.close();
        broker.close();
        e2e.directory.close();
        registry.close();
        await brokerAudit.close();
        await store.close();
      },
    };
  } catch (err) {
    stopKeyWatch();
    revocationLog?.close();
    stopWatching();
    await stopPolicyWatch();
    await app?.close();
    groupCluster?.close();
    appendCluster?.close();
    endToEnd?.directory.close();
    schemas?.close();
    await audit?.close();
    await store.close();
    throw err;
  }
}
