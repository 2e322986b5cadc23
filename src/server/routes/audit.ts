import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { type AuditFilter, exportAuditLog, queryAuditLog } from '../../audit/audit-reader.js';
import { AUDIT_TOPIC, auditPartitionState, auditTopicFor, listAuditChains } from '../../audit/audit-topic.js';
import type { AuditPublicJwk } from '../../audit/checkpoint.js';
import type { Broker } from '../../broker/index.js';
import { SealbusError } from '../../errors/index.js';
import type { LogStore } from '../../log/index.js';
import { principalOf } from '../context.js';

export interface AuditRouteDeps {
  /** Authorizes `read-audit` on the cluster; its limits cap the long poll. */
  readonly broker: Broker;
  /** The store the audit topic lives in. */
  readonly store: LogStore;
  /** `sealbus://<brokerId>`. */
  readonly source: string;
  /** The broker's audit public key(s). */
  readonly publicKeys: () => readonly AuditPublicJwk[];
  /** This broker's `audit.brokerId` and the topic of its chain (default `__sealbus.audit`). */
  readonly brokerId?: string;
  readonly topic?: string;
  /** On a shared store: the audit key another broker published with its lease (docs/cluster.md). */
  readonly keyOf?: (brokerId: string) => AuditPublicJwk | null;
}

/** The longest long poll a query may ask for, whatever the broker's own limit. */
export const MAX_AUDIT_WAIT_MS = 30_000;

const text = { type: 'string', minLength: 1, maxLength: 1024 } as const;
/** An RFC 3339 time or milliseconds since the epoch; parsed (and range-checked) by `timeOf`. */
const time = {
  type: 'string',
  maxLength: 64,
  pattern: '^(\\d{1,16}|\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2}))$',
} as const;

/** `audit.brokerId`'s pattern: whose chain to read; default this broker's. */
const broker = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;

const queryString = {
  type: 'object',
  additionalProperties: false,
  properties: {
    broker,
    principal: text,
    topic: text,
    action: text,
    decision: { type: 'string', enum: ['allow', 'deny'] },
    type: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9._-]+$' },
    since: time,
    until: time,
    from: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    waitMs: { type: 'integer', minimum: 0, maximum: MAX_AUDIT_WAIT_MS },
  },
} as const;

const exportQueryString = { type: 'object', additionalProperties: false, properties: { broker, since: time } } as const;
const keysQueryString = { type: 'object', additionalProperties: false, properties: { broker } } as const;

interface AuditQueryString {
  broker?: string;
  principal?: string;
  topic?: string;
  action?: string;
  decision?: 'allow' | 'deny';
  type?: string;
  since?: string;
  until?: string;
  from?: number;
  limit?: number;
  waitMs?: number;
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

/** Names the bad query parameter, including an unknown one (which Ajv's message leaves out). */
function queryError(errors: FastifySchemaValidationError[]): Error {
  const first = errors[0];
  if (first === undefined) return invalid('invalid query string');
  const unknown = (first.params as { additionalProperty?: unknown }).additionalProperty;
  if (first.keyword === 'additionalProperties' && typeof unknown === 'string') return invalid(`unknown query parameter "${unknown.slice(0, 64)}"`);
  const name = first.instancePath.replace(/^\//, '') || 'query string';
  if (first.keyword === 'pattern') {
    return invalid(`query parameter ${name} ${name === 'since' || name === 'until' ? 'is not an RFC 3339 time or milliseconds since the epoch' : 'has characters other than letters, digits, ".", "_" and "-"'}`);
  }
  return invalid(`query parameter ${name} ${first.message ?? 'is invalid'}`);
}

function timeOf(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > 8.64e15) throw invalid(`query parameter ${name} is not a valid time (RFC 3339 or milliseconds since the epoch)`);
  return ms;
}

function filterOf(query: AuditQueryString): AuditFilter {
  const since = timeOf(query.since, 'since');
  const until = timeOf(query.until, 'until');
  return {
    ...(query.principal !== undefined && { principal: query.principal }),
    ...(query.topic !== undefined && { topic: query.topic }),
    ...(query.action !== undefined && { action: query.action }),
    ...(query.decision !== undefined && { decision: query.decision }),
    ...(query.type !== undefined && { type: query.type }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
  };
}

/** Aborted when the client goes away, so a long poll or an export stops reading for nobody. */
function abortOnClose(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  request.raw.once('close', stop);
  reply.raw.once('close', stop);
  return abort.signal;
}

/**
 * The topic of `broker`'s chain: this broker's own when it is absent or names this broker, else
 * `__sealbus.audit.<broker>`, which must exist (SEALBUS_ERR_TOPIC_NOT_FOUND).
 */
async function chainTopic(deps: AuditRouteDeps, broker: string | undefined): Promise<string> {
  if (broker === undefined || broker === deps.brokerId) return deps.topic ?? AUDIT_TOPIC;
  let topic: string;
  try {
    topic = auditTopicFor(broker);
  } catch {
    throw invalid('query parameter broker cannot name an audit chain');
  }
  if ((await auditPartitionState(deps.store, topic)) === null) throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic });
  return topic;
}

/**
 * The audit log API: `GET /v1/audit` (query with filters, paging and long poll),
 * `GET /v1/audit/export` (every record as JSON lines, streamed) and `GET /v1/audit/keys` (the
 * public keys that verify its checkpoints). Each needs `read-audit` on the cluster, checked before
 * the query string is even validated: a principal without it learns nothing, not even which
 * parameters exist. Answers are never cached.
 */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    deps.broker.authorize(principalOf(request), 'read-audit', { kind: 'cluster' });
    void reply.header('cache-control', 'no-store');
  };

  app.get<{ Querystring: AuditQueryString }>(
    '/v1/audit',
    { schema: { querystring: queryString }, schemaErrorFormatter: queryError, preValidation: authorize },
    async (request, reply) => {
      const { query } = request;
      const filter = filterOf(query);
      const waitMs = query.waitMs === undefined ? undefined : Math.min(query.waitMs, deps.broker.limits.longPollMaxMs);
      const page = await queryAuditLog(deps.store, {
        topic: await chainTopic(deps, query.broker),
        filter,
        signal: abortOnClose(request, reply),
        ...(query.from !== undefined && { fromOffset: query.from }),
        ...(query.limit !== undefined && { limit: query.limit }),
        ...(waitMs !== undefined && { waitMs }),
      });
      return { events: page.events, next: page.nextOffset, highWatermark: page.highWatermark };
    },
  );

  app.get<{ Querystring: { broker?: string; since?: string } }>(
    '/v1/audit/export',
    { schema: { querystring: exportQueryString }, schemaErrorFormatter: queryError, preValidation: authorize },
    async (request, reply) => {
      const since = timeOf(request.query.since, 'since');
      const topic = await chainTopic(deps, request.query.broker);
      const records = exportAuditLog(deps.store, { topic, signal: abortOnClose(request, reply), ...(since !== undefined && { since }) });
      async function* lines(): AsyncGenerator<string> {
        for await (const record of records) yield `${record}\n`;
      }
      return reply.header('content-type', 'application/x-ndjson; charset=utf-8').send(Readable.from(lines(), { objectMode: false }));
    },
  );

  app.get<{ Querystring: { broker?: string } }>(
    '/v1/audit/keys',
    { schema: { querystring: keysQueryString }, schemaErrorFormatter: queryError, preValidation: authorize },
    async (request) => {
      const other = request.query.broker;
      if (other === undefined || other === deps.brokerId) return { source: deps.source, keys: deps.publicKeys() };
      // What the other broker published in the shared store: as trustworthy as the store (docs/audit.md).
      const key = deps.keyOf?.(other) ?? null;
      return { source: `sealbus://${other}`, keys: key === null ? [] : [key] };
    },
  );

  // Every chain in the store: one per broker on a shared store (docs/cluster.md).
  app.get('/v1/audit/chains', { preValidation: authorize }, async () => {
    const own = deps.topic ?? AUDIT_TOPIC;
    const chains = (await listAuditChains(deps.store)).map((chain) => {
      const brokerId = chain.brokerId ?? (chain.topic === own ? (deps.brokerId ?? null) : null);
      return { broker: brokerId, topic: chain.topic, source: brokerId === null ? null : `sealbus://${brokerId}`, self: chain.topic === own, logStartOffset: chain.logStartOffset, highWatermark: chain.highWatermark };
    });
    return { chains };
  });
}
