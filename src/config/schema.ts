/**
 * The configuration file schema (`sealbus serve --config sealbus.yaml`). Every key is documented
 * in docs/configuration.md; a test keeps the two in step. Unknown keys are errors, so a typo never
 * silently leaves a setting at its default.
 */
const positiveInt = { type: 'integer', minimum: 1 } as const;
const path = { type: 'string', minLength: 1, maxLength: 4096 } as const;
/** A quota's rate or burst: a positive integer, or null for no limit. */
const quotaRate = { type: ['integer', 'null'], minimum: 1 } as const;

export const configSchema = {
  $id: 'https://sealbus.dev/schemas/config.json',
  type: 'object',
  additionalProperties: false,
  required: ['tls', 'auth', 'store'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8443 },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key', 'ca'],
      properties: {
        cert: path,
        key: path,
        ca: path,
        crl: path,
        minVersion: { enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
        watch: { type: 'boolean', default: true },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        audience: { type: 'string', minLength: 1, maxLength: 256, default: 'sealbus' },
        allowCertificateOnly: { type: 'boolean', default: false },
        identity: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            from: { enum: ['cn', 'dn'], default: 'cn' },
          },
        },
        clockToleranceSec: { type: 'integer', minimum: 0, maximum: 300, default: 30 },
        maxTokenAgeSec: { type: 'integer', minimum: 60, default: 2_592_000 },
        algorithms: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { enum: ['EdDSA', 'ES256', 'ES384', 'PS256', 'RS256'] },
          default: ['EdDSA', 'ES256'],
        },
        localIssuer: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            issuer: { type: 'string', minLength: 1, maxLength: 512, default: 'sealbus-local' },
            keyDir: path,
            requireBinding: { type: 'boolean', default: true },
            rotationOverlapSec: { type: 'integer', minimum: 0, maximum: 31_622_400, default: 86_400 },
          },
        },
        tokens: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            defaultTtlSec: { type: 'integer', minimum: 60, maximum: 31_622_400, default: 3600 },
            maxTtlSec: { type: 'integer', minimum: 60, maximum: 31_622_400, default: 86_400 },
            maxRevocations: { type: 'integer', minimum: 100, maximum: 10_000_000, default: 1_000_000 },
          },
        },
        issuers: {
          type: 'array',
          maxItems: 32,
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['issuer', 'jwksUrl'],
            properties: {
              issuer: { type: 'string', minLength: 1, maxLength: 512 },
              jwksUrl: { type: 'string', pattern: '^https://', maxLength: 2048 },
              requireBinding: { type: 'boolean', default: false },
              typ: { type: 'string', minLength: 1, maxLength: 128 },
              groupsClaim: { type: 'string', minLength: 1, maxLength: 128, default: 'groups' },
            },
          },
        },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dir: { type: 'string', minLength: 1, maxLength: 4096, default: 'policies' },
        watch: { type: 'boolean', default: true },
        cacheSize: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 10_000 },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: {
        kind: { enum: ['file', 'jetstream'], default: 'file' },
        dir: path,
        retentionCheckMs: { ...positiveInt, default: 60_000 },
        // kind: file only (no default here: it would reach a jetstream store too); true when absent.
        writeAheadLog: { type: 'boolean' },
        // kind: jetstream only (docs/cluster.md). Server URLs carry no credentials; secrets are files.
        servers: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', pattern: '^(nats|tls)://[^@\\s/]+$', maxLength: 512 } },
        tls: { type: 'object', additionalProperties: false, required: ['ca'], properties: { ca: path, cert: path, key: path }, dependentRequired: { cert: ['key'], key: ['cert'] } },
        credentialsFile: path,
        tokenFile: path,
        user: { type: 'string', minLength: 1, maxLength: 256 },
        passwordFile: path,
        replicas: { enum: [1, 3] },
        streamPrefix: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
      },
      if: { properties: { kind: { const: 'jetstream' } }, required: ['kind'] },
      then: { properties: { servers: true, tls: true, writeAheadLog: false }, required: ['servers', 'tls'] },
      else: { properties: { servers: false, tls: false, credentialsFile: false, tokenFile: false, user: false, passwordFile: false, replicas: false, streamPrefix: false } },
    },
    topicDefaults: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        partitions: { ...positiveInt, maximum: 4096, default: 1 },
        retentionMs: { type: ['integer', 'null'], minimum: 1, default: null },
        retentionBytes: { type: ['integer', 'null'], minimum: 1, default: null },
        maxRecordBytes: { ...positiveInt, maximum: 8_388_608, default: 1_048_576 },
        segmentBytes: { type: 'integer', minimum: 1_048_576, default: 134_217_728 },
        fsync: { enum: ['always', 'interval'], default: 'always' },
        fsyncIntervalMs: { ...positiveInt, maximum: 60_000, default: 1000 },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBodyBytes: { ...positiveInt, default: 16_777_216 },
        maxFrameBytes: { ...positiveInt, maximum: 67_108_864, default: 8_388_608 },
        maxRecordsPerBatch: { ...positiveInt, maximum: 100_000, default: 10_000 },
        maxInFlightPerSession: { ...positiveInt, maximum: 65_536, default: 1024 },
        maxSubscriptionsPerSession: { ...positiveInt, maximum: 4096, default: 256 },
        maxGroupsPerSession: { ...positiveInt, maximum: 1024, default: 16 },
        maxSessions: { ...positiveInt, default: 10_000 },
        longPollMaxMs: { ...positiveInt, maximum: 300_000, default: 30_000 },
        fetchMaxBytes: { ...positiveInt, default: 4_194_304 },
        // Connections and timeouts (docs/operations.md, "Limits and quotas").
        maxConnections: { ...positiveInt, default: 16_384 },
        maxConnectionsPerIp: { ...positiveInt, default: 4096 },
        maxConnectionsPerPrincipal: { ...positiveInt, default: 4096 },
        handshakeTimeoutMs: { ...positiveInt, maximum: 300_000, default: 10_000 },
        headersTimeoutMs: { ...positiveInt, maximum: 300_000, default: 20_000 },
        requestTimeoutMs: { ...positiveInt, maximum: 3_600_000, default: 60_000 },
        idleTimeoutMs: { ...positiveInt, maximum: 3_600_000, default: 65_000 },
        webSocketPingIntervalMs: { ...positiveInt, maximum: 3_600_000, default: 30_000 },
        socketHighWaterBytes: { type: 'integer', minimum: 65_536, maximum: 268_435_456, default: 4_194_304 },
      },
    },
    quotas: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        default: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            produceBytesPerSecond: { ...quotaRate, default: 268_435_456 },
            produceBurstBytes: quotaRate,
            consumeBytesPerSecond: { ...quotaRate, default: 536_870_912 },
            consumeBurstBytes: quotaRate,
            requestsPerSecond: { ...quotaRate, default: 10_000 },
            requestBurst: quotaRate,
          },
        },
        // Overrides by principal name; a key left out takes its value from `default`.
        principals: {
          type: 'object',
          default: {},
          maxProperties: 10_000,
          propertyNames: { minLength: 1, maxLength: 1024 },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            properties: {
              produceBytesPerSecond: quotaRate,
              produceBurstBytes: quotaRate,
              consumeBytesPerSecond: quotaRate,
              consumeBurstBytes: quotaRate,
              requestsPerSecond: quotaRate,
              requestBurst: quotaRate,
            },
          },
        },
        maxTrackedPrincipals: { type: 'integer', minimum: 16, maximum: 10_000_000, default: 100_000 },
      },
    },
    schemaValidation: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // null: one thread per core beyond the first, at most 4; 0: every batch on the main thread.
        threads: { type: ['integer', 'null'], minimum: 0, maximum: 16, default: null },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        brokerId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
        keyDir: path,
        failMode: { enum: ['closed', 'open'], default: 'closed' },
        dataAccess: { enum: ['batch', 'session', 'none'], default: 'batch' },
        checkpointEvents: { ...positiveInt, maximum: 1_000_000, default: 1000 },
        checkpointIntervalMs: { ...positiveInt, maximum: 3_600_000, default: 1000 },
        retentionMs: { type: ['integer', 'null'], minimum: 3_600_000, default: 31_536_000_000 },
        retentionBytes: { type: ['integer', 'null'], minimum: 1_048_576, default: null },
        segmentBytes: { type: 'integer', minimum: 1_048_576, default: 67_108_864 },
        maxPendingEvents: { ...positiveInt, maximum: 10_000_000, default: 100_000 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
      },
    },
  },
} as const;
