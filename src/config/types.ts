/** The validated, defaulted and frozen configuration. Mirrors `configSchema`. */
export interface SealbusConfig {
  readonly source: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly tls: {
    readonly cert: string;
    readonly key: string;
    readonly ca: string;
    readonly crl?: string;
    readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
    readonly watch: boolean;
  };
  readonly auth: {
    readonly audience: string;
    readonly allowCertificateOnly: boolean;
    readonly identity: { readonly from: 'cn' | 'dn' };
    readonly clockToleranceSec: number;
    readonly maxTokenAgeSec: number;
    readonly algorithms: readonly string[];
    readonly localIssuer: { readonly issuer: string; readonly keyDir?: string; readonly requireBinding: boolean; readonly rotationOverlapSec: number };
    readonly tokens: { readonly defaultTtlSec: number; readonly maxTtlSec: number; readonly maxRevocations: number };
    readonly issuers: readonly {
      readonly issuer: string;
      readonly jwksUrl: string;
      readonly requireBinding: boolean;
      readonly typ?: string;
      readonly groupsClaim: string;
    }[];
  };
  readonly policy: { readonly dir: string; readonly watch: boolean; readonly cacheSize: number };
  readonly store:
    | {
        readonly kind: 'file';
        readonly dir: string;
        readonly retentionCheckMs: number;
        /** Small appends made durable by one fdatasync of the store's WAL (docs/log-format.md); absent: true. */
        readonly writeAheadLog?: boolean;
      }
    | {
        readonly kind: 'jetstream';
        /** The broker's own folder (signing keys by default); the log itself is in JetStream. */
        readonly dir: string;
        readonly retentionCheckMs: number;
        readonly servers: readonly string[];
        readonly tls: { readonly ca: string; readonly cert?: string; readonly key?: string };
        readonly credentialsFile?: string;
        readonly tokenFile?: string;
        readonly user?: string;
        readonly passwordFile?: string;
        readonly replicas?: 1 | 3;
        readonly streamPrefix?: string;
      };
  readonly topicDefaults: {
    readonly partitions: number;
    readonly retentionMs: number | null;
    readonly retentionBytes: number | null;
    readonly maxRecordBytes: number;
    readonly segmentBytes: number;
    readonly fsync: 'always' | 'interval';
    readonly fsyncIntervalMs: number;
  };
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxFrameBytes: number;
    readonly maxRecordsPerBatch: number;
    readonly maxInFlightPerSession: number;
    readonly maxSubscriptionsPerSession: number;
    readonly maxGroupsPerSession: number;
    readonly maxSessions: number;
    readonly longPollMaxMs: number;
    readonly fetchMaxBytes: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
    readonly maxConnectionsPerPrincipal: number;
    readonly handshakeTimeoutMs: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly webSocketPingIntervalMs: number;
    readonly socketHighWaterBytes: number;
  };
  readonly quotas: {
    readonly default: QuotaSettings;
    /** Overrides by principal name; a key left out takes its value from `default`. */
    readonly principals: Readonly<Record<string, QuotaSettings>>;
    readonly maxTrackedPrincipals: number;
  };
  /** Validation threads of the schema guard (docs/schemas.md): null for the default, 0 for none. */
  readonly schemaValidation: { readonly threads: number | null };
  readonly audit: {
    /** The broker's name in its audit events (`source: sealbus://<brokerId>`); defaults to the host name. */
    readonly brokerId: string;
    readonly keyDir: string;
    readonly failMode: 'closed' | 'open';
    readonly dataAccess: 'batch' | 'session' | 'none';
    readonly checkpointEvents: number;
    readonly checkpointIntervalMs: number;
    readonly retentionMs: number | null;
    readonly retentionBytes: number | null;
    readonly segmentBytes: number;
    readonly maxPendingEvents: number;
  };
  readonly log: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

/** One principal's quotas: rates per second and bursts; null is no limit, a burst left out is one second of its rate. */
export interface QuotaSettings {
  readonly produceBytesPerSecond?: number | null;
  readonly produceBurstBytes?: number | null;
  readonly consumeBytesPerSecond?: number | null;
  readonly consumeBurstBytes?: number | null;
  readonly requestsPerSecond?: number | null;
  readonly requestBurst?: number | null;
}
