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
  readonly store: { readonly kind: 'file'; readonly dir: string; readonly retentionCheckMs: number };
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
  };
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
