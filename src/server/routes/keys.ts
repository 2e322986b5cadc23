import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/index.js';
import type { KeyDirectory, KeyRegistrationRequest, RegisteredSubject } from '../../broker/key-directory.js';
import { topicEncryption } from '../../broker/topic-encryption.js';
import { SealbusError } from '../../errors/index.js';
import { topicNameProblem } from '../../log/topic-name.js';
import { principalOf } from '../context.js';
import { topicParams } from './params.js';

export interface KeyRouteDeps {
  readonly directory: KeyDirectory;
  readonly broker: Pick<Broker, 'authorize' | 'store'>;
  /**
   * The topic's explicit recipients, or null when the policy alone decides. Default: the
   * `recipients` of the topic's encryption settings (src/broker/topic-encryption.ts).
   */
  readonly explicitRecipients?: (topic: string) => readonly string[] | null | Promise<readonly string[] | null>;
  /** Whether the policy lets `principal`, as it registered (`subject`), consume `topic`. */
  readonly isAllowedToConsume: (principal: string, subject: RegisteredSubject, topic: string) => boolean;
  /** The version of the policy in force: recipients are cached per topic while it stays the same. */
  readonly policyVersion?: () => string;
  /** The broker's clock, for the registration context; default Date.now. */
  readonly clock?: () => number;
}

const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 10_000;
const base64urlKey = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } as const;

const registerBody = {
  type: 'object',
  additionalProperties: false,
  required: ['encryptionKey', 'signingKey', 'time', 'proof'],
  properties: {
    encryptionKey: base64urlKey,
    signingKey: base64urlKey,
    time: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    proof: { type: 'string', pattern: '^[A-Za-z0-9_-]{86}$' },
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    principal: { type: 'string', minLength: 1, maxLength: 256 },
    from: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT },
  },
} as const;

const keyParams = {
  type: 'object',
  additionalProperties: false,
  required: ['keyId'],
  properties: { keyId: base64urlKey },
} as const;

const revokeBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

/**
 * The key directory (src/broker/key-directory.ts), for end-to-end encryption (docs/envelope.md):
 *
 * - `GET /v1/keys/registration`: who the broker knows the caller as and its clock, what a
 *   registration statement must name (a client need not know how authentication maps its name).
 * - `POST /v1/keys`: register the caller's own keys (201; 200 when they were registered already).
 *   Any authenticated principal may: the keys are bound to the principal that proves it holds
 *   the signing key, and registering grants no right.
 * - `GET /v1/keys[?principal=P&from=N&limit=N]`, `GET /v1/keys/{keyId}`: any authenticated principal; public keys
 *   are public, and consumers need them to verify signers.
 * - `POST /v1/keys/{keyId}/revoke`: one's own key, or any with `manage-keys` on the cluster.
 * - `GET /v1/topics/{topic}/recipients`: whether the topic requires encryption and the keys to seal
 *   its batches to; needs `produce` on the topic (only a producer seals, and the list says who may
 *   read the topic).
 */
export function registerKeyRoutes(app: FastifyInstance, deps: KeyRouteDeps): void {
  const { directory } = deps;
  const clock = deps.clock ?? Date.now;

  app.get('/v1/keys/registration', async (request, reply) => {
    const actor = principalOf(request);
    void reply.header('cache-control', 'no-store');
    return { principal: actor.name, time: clock() };
  });

  app.post<{ Body: KeyRegistrationRequest }>('/v1/keys', { schema: { body: registerBody } }, async (request, reply) => {
    const { created, ...registered } = await directory.register(principalOf(request), request.body);
    void reply.code(created ? 201 : 200);
    return registered;
  });

  app.get<{ Querystring: { principal?: string; from?: number; limit?: number } }>('/v1/keys', { schema: { querystring: listQuery } }, async (request) => {
    principalOf(request);
    const { principal, from = 0, limit = DEFAULT_LIST_LIMIT } = request.query;
    const all = directory.list(principal === undefined ? {} : { principal });
    // Pages of the list in its (stable) order: `next` is the `from` of the next page, null at the end.
    return { keys: all.slice(from, from + limit), next: from + limit < all.length ? from + limit : null };
  });

  app.get<{ Params: { keyId: string } }>('/v1/keys/:keyId', { schema: { params: keyParams } }, async (request) => {
    principalOf(request);
    const key = directory.key(request.params.keyId);
    if (key === null) throw new SealbusError('SEALBUS_ERR_KEY_NOT_FOUND', { keyId: request.params.keyId }, { details: { keyId: request.params.keyId } });
    return key;
  });

  app.post<{ Params: { keyId: string }; Body: { reason?: string } | null }>(
    '/v1/keys/:keyId/revoke',
    {
      schema: { params: keyParams, body: revokeBody },
      // The body is optional (a reason): a bare POST revokes without one.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request) => directory.revoke(principalOf(request), request.params.keyId, request.body?.reason),
  );

  app.get<{ Params: { topic: string } }>('/v1/topics/:topic/recipients', { schema: { params: topicParams } }, async (request) => {
    const actor = principalOf(request);
    const topic = request.params.topic;
    const problem = topicNameProblem(topic);
    if (problem !== null) throw new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason: problem }, { details: { reason: problem } });
    // Recipients serve to produce sealed batches: judged as an encrypted produce.
    deps.broker.authorize(actor, 'produce', { kind: 'topic', name: topic }, { encrypted: true });
    // SEALBUS_ERR_TOPIC_NOT_FOUND for a topic that does not exist (asked only once authorized).
    const settings = topicEncryption(deps.broker.store.topicConfig(topic));
    const explicit = deps.explicitRecipients === undefined ? settings.recipients : await deps.explicitRecipients(topic);
    // Read together, synchronously: the version is the one the recipients were chosen in.
    const version = directory.version;
    const policyVersion = deps.policyVersion?.();
    const recipients = directory.recipients(topic, {
      isAllowedToConsume: (principal, subject) => deps.isAllowedToConsume(principal, subject, topic),
      explicit,
      ...(policyVersion !== undefined && { policyVersion }),
    });
    return { topic, encryption: settings.mode, recipients, version };
  });
}
