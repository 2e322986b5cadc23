import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Broker } from '../broker/index.js';
import type { TokenAdmin } from '../broker/token-admin.js';
import type { Policy } from '../policy/index.js';
import type { CertificateIdentity } from '../auth/index.js';
import { isSealbusError } from '../errors/index.js';
import { JSON_LIMITS, parseJson } from '../json/safe-json.js';
import { CLOSE_CODES } from '../protocol/index.js';
import type { SealbusConfig } from '../config/index.js';
import { clientPrincipal, type RequestAuthenticator } from './context.js';
import { installErrorHandling } from './errors.js';
import { installIntegerParamCheck } from './integer-params.js';
import { registerHealthRoutes, type Readiness } from './routes/health.js';
import { registerRecordRoutes } from './routes/records.js';
import { registerGroupRoutes } from './routes/groups.js';
import { registerPolicyRoutes } from './routes/policy.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerAuditRoutes, type AuditRouteDeps } from './routes/audit.js';
import { registerKeyRoutes, type KeyRouteDeps } from './routes/keys.js';
import { registerSchemaRoutes } from './routes/schemas.js';
import type { SchemaRegistry } from '../broker/schema-registry.js';
import { registerMetricsRoute, type BrokerMetrics } from './metrics.js';
import { registerTopicRoutes } from './routes/topics.js';
import { BrokerLimits, installHttpLimits, serverTimeouts } from './limits/index.js';
import { SessionRegistry } from './ws/registry.js';
import { registerWebSocketRoute } from './ws/route.js';

export interface AppDeps {
  readonly broker: Broker;
  readonly authenticator: RequestAuthenticator;
  readonly limits: SealbusConfig['limits'];
  readonly quotas: SealbusConfig['quotas'];
  readonly readiness: () => Readiness;
  /** The local issuer's public keys, served at /.well-known/jwks.json. */
  readonly jwks: () => { keys: readonly object[] };
  /** TLS server options (certificate, CA, CRL); absent only for `inject()` tests, which never listen. */
  readonly https?: HttpsOptions;
  readonly logLevel?: SealbusConfig['log']['level'];
  /** Where the log lines (pino JSON, one per line) go; standard output by default. */
  readonly logStream?: { write(line: string): void };
  readonly clock?: () => number;
  /** The policy in force, for the explain API; without it the policy routes are not served. */
  readonly policy?: () => Policy;
  /** Token administration (issue, revoke, keys, inspect); without it those routes are not served. */
  readonly tokens?: TokenAdmin;
  /** The audit log's query, export and keys routes; without it they are not served. */
  readonly audit?: AuditRouteDeps;
  /** The key directory's routes (end-to-end encryption); without it they are not served. */
  readonly keys?: Omit<KeyRouteDeps, 'broker'>;
  /** The schema registry; without it the schema routes are not served. */
  readonly schemas?: SchemaRegistry;
  /** Prometheus metrics at /metrics; without it the route is not served. */
  readonly metrics?: BrokerMetrics;
}

export interface SealbusApp {
  readonly app: FastifyInstance;
  readonly sessions: SessionRegistry;
  /** Quotas and connection limits, and their counters (`stats()`). */
  readonly limits: BrokerLimits;
}

/**
 * JSON bodies go through parseJson (depth, keys, integers beyond 2^53; src/json/safe-json.ts)
 * instead of fastify's parser; its errors are 400s with SEALBUS_ERR_JSON_INVALID or _LIMIT. The
 * body limit still bounds the size, and so strings: how long each field may be is the route
 * schema's business (a base64 record value is legitimately long). `__proto__` and `constructor`
 * keys stay own properties, as parseJson keeps them: the route schemas refuse them where the keys
 * are known, and where they are data (a record value, a header name) they are data.
 */
function installJsonBodyParser(app: FastifyInstance, maxBodyBytes: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) => {
    let parsed: unknown;
    try {
      // A few levels above the default: a body may wrap a schema that is itself at the schema depth limit.
      parsed = parseJson(body as Buffer, 'request body', { maxTotalBytes: maxBodyBytes, maxStringBytes: maxBodyBytes, maxDepth: JSON_LIMITS.maxDepth + 4 });
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    done(null, parsed);
  });
}

/**
 * Builds the broker's HTTP and WebSocket front door without listening. Every route authenticates
 * in `onRequest`, before the body is read: a certificate always, a token unless the route says
 * `auth: 'certificate'`. A WebSocket upgrade goes through the same hook, so a refused client gets
 * a 401 with a code instead of a session.
 */
export async function buildApp(deps: AppDeps): Promise<SealbusApp> {
  const app = Fastify({
    ...(deps.https !== undefined && { https: { ...deps.https, ...serverTimeouts(deps.limits) } }),
    bodyLimit: deps.limits.maxBodyBytes,
    // Slow clients (slowloris) cannot hold a connection open forever; a long poll is not idleness.
    connectionTimeout: Math.max(deps.limits.idleTimeoutMs, deps.limits.longPollMaxMs + 5000),
    requestTimeout: deps.limits.requestTimeoutMs,
    keepAliveTimeout: deps.limits.idleTimeoutMs,
    return503OnClosing: true,
    // Unknown properties are errors, never silently dropped: a client must learn that its field
    // was not understood. Types are coerced only where HTTP has no types (query strings, params).
    ajv: { customOptions: { removeAdditional: false, useDefaults: false, allErrors: false, coerceTypes: 'array' } },
    logger: {
      level: deps.logLevel ?? 'info',
      ...(deps.logStream !== undefined && { stream: deps.logStream }),
      // Credentials never reach the log, whatever a route or plugin decides to log.
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.key'], censor: '[redacted]' },
    },
    logController: new LogController({ disableRequestLogging: true }),
    // The broker names each request itself (a client's own x-request-id is not trusted): the id is
    // the `reqId` of its log lines, the `x-request-id` of its answer and the `requestId` of its audit events.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
  }) as unknown as FastifyInstance;
  const clock = deps.clock ?? Date.now;
  const sessions = new SessionRegistry(deps.limits.maxSessions);
  const limits = new BrokerLimits(deps.limits, deps.quotas, clock);
  limits.attach(app.server, app.log);

  app.decorateRequest('certificate', null);
  app.decorateRequest('principal', null);
  installErrorHandling(app, deps.limits, (code) => deps.metrics?.traffic.errorAnswered('http', code));
  installJsonBodyParser(app, deps.limits.maxBodyBytes);
  installIntegerParamCheck(app);

  const audit = deps.broker.audit;
  const connections = new WeakMap<Socket, string>();
  /** The id of the connection a request came on (audit correlates requests with it); its end ends the audit session. */
  const connectionId = (socket: Socket): string => {
    let id = connections.get(socket);
    if (id === undefined) {
      id = randomBytes(12).toString('base64url');
      connections.set(socket, id);
      const ended = id;
      socket.once('close', () => audit.endSession(ended));
    }
    return id;
  };

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const socket = request.raw.socket;
    const sessionId = connectionId(socket);
    const sourceIp = socket.remoteAddress ?? null;
    let certificate: CertificateIdentity | null = null;
    try {
      certificate = deps.authenticator.identify(socket as TLSSocket);
      request.certificate = certificate;
      if (request.routeOptions.config.auth === 'certificate') return;
      request.principal = clientPrincipal(await deps.authenticator.authenticate(certificate, request.headers.authorization), { sourceIp, sessionId, requestId: request.id });
    } catch (err) {
      audit.authFailure({ certificate, sourceIp, sessionId, requestId: request.id }, isSealbusError(err) ? err.code : 'SEALBUS_ERR_INTERNAL');
      throw err;
    }
    audit.authSuccess(request.principal);
    // Fail closed: nothing the audit log must record is served while it cannot be written.
    audit.assertAvailable();
  });
  installHttpLimits(app, limits);

  // One structured line per answered request (pino, redacted): server errors at error, the rest at
  // debug. Refusals (401, 403, 429) are counted in the metrics and recorded in the audit log; logging
  // each at info would let a flood of bad requests flood the log as well.
  app.addHook('onResponse', async (request, reply) => {
    const level = reply.statusCode >= 500 ? 'error' : 'debug';
    request.log[level](
      { method: request.method, route: request.routeOptions.url ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, principal: request.principal?.name ?? null },
      'request answered',
    );
  });

  // A refused WebSocket upgrade leaves a raw socket that no HTTP parser owns any more: end it once
  // the refusal is written, so a client cannot hold it (and the broker's shutdown) open.
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 101 && request.headers.upgrade !== undefined) request.raw.socket.end();
  });

  await app.register(websocket, {
    options: { maxPayload: deps.limits.maxFrameBytes, perMessageDeflate: false },
  });
  registerHealthRoutes(app, { readiness: deps.readiness, jwks: deps.jwks });
  registerTopicRoutes(app, deps.broker);
  registerGroupRoutes(app, deps.broker);
  if (deps.policy !== undefined) registerPolicyRoutes(app, deps.broker, deps.policy);
  if (deps.tokens !== undefined) registerTokenRoutes(app, deps.tokens);
  if (deps.audit !== undefined) registerAuditRoutes(app, deps.audit);
  if (deps.keys !== undefined) registerKeyRoutes(app, { ...deps.keys, broker: deps.broker });
  if (deps.schemas !== undefined) registerSchemaRoutes(app, deps.schemas);
  if (deps.metrics !== undefined) registerMetricsRoute(app, deps.metrics);
  registerRecordRoutes(app, deps.broker, deps.limits);
  registerWebSocketRoute(app, { broker: deps.broker, authenticator: deps.authenticator, limits: deps.limits, sessions, clock, metrics: deps.metrics?.sessions, brokerLimits: limits });
  app.addHook('preClose', async () => {
    limits.close();
    sessions.closeAll(CLOSE_CODES.SHUTTING_DOWN, 'SEALBUS_ERR_UNAVAILABLE');
  });
  return { app, sessions, limits };
}
