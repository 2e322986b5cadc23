import type { FastifyInstance } from 'fastify';
import type { IssueTokenRequest, RevokeRequest, TokenAdmin } from '../../broker/token-admin.js';
import { principalOf } from '../context.js';

const printable = { type: 'string', minLength: 1, maxLength: 512 } as const;
const thumbprint = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } as const;

const issueBody = {
  type: 'object',
  additionalProperties: false,
  required: ['sub'],
  properties: {
    sub: { type: 'string', minLength: 1, maxLength: 256 },
    ttlSec: { type: 'integer', minimum: 1 },
    groups: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } },
    scopes: { type: 'array', maxItems: 64, items: printable },
    bindThumbprint: thumbprint,
    bindCertificate: { type: 'string', minLength: 1, maxLength: 16_384 },
  },
} as const;

const revokeBody = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['jti'],
      properties: { jti: printable, issuer: printable, reason: { type: 'string', maxLength: 256 } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['sub'],
      properties: {
        sub: { type: 'string', minLength: 1, maxLength: 256 },
        before: { type: 'integer', minimum: 0 },
        reason: { type: 'string', maxLength: 256 },
      },
    },
  ],
} as const;

const rotateBody = {
  type: 'object',
  additionalProperties: false,
  properties: { overlapSec: { type: 'integer', minimum: 0, maximum: 31_622_400 } },
} as const;

const inspectBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 16_384 }, thumbprint },
} as const;

/**
 * Token administration: `POST /v1/admin/tokens` (issue, `issue-token` on the cluster, within the
 * requester's own rights and life), `POST /v1/admin/tokens/revoke` and `GET /v1/admin/revocations`
 * (`issue-token`), `GET /v1/admin/keys` and `POST /v1/admin/keys/rotate` (`manage-keys`), and
 * `POST /v1/tokens/inspect` (any authenticated principal). Answers holding a token are never cached.
 */
export function registerTokenRoutes(app: FastifyInstance, tokens: TokenAdmin): void {
  app.post<{ Body: IssueTokenRequest }>('/v1/admin/tokens', { schema: { body: issueBody } }, async (request, reply) => {
    const issued = await tokens.issue(principalOf(request), request.body);
    void reply.code(201).header('cache-control', 'no-store');
    return issued;
  });

  app.post<{ Body: RevokeRequest }>('/v1/admin/tokens/revoke', { schema: { body: revokeBody } }, async (request) => {
    return tokens.revoke(principalOf(request), request.body);
  });

  app.get('/v1/admin/revocations', async (request) => ({ revocations: tokens.listRevocations(principalOf(request)) }));

  app.get('/v1/admin/keys', async (request) => tokens.listKeys(principalOf(request)));

  app.post<{ Body: { overlapSec?: number } | null }>('/v1/admin/keys/rotate', { schema: { body: rotateBody } }, async (request) => {
    return tokens.rotateKeys(principalOf(request), request.body?.overlapSec);
  });

  app.post<{ Body: { token: string; thumbprint?: string } }>('/v1/tokens/inspect', { schema: { body: inspectBody } }, async (request, reply) => {
    principalOf(request);
    void reply.header('cache-control', 'no-store');
    return tokens.inspect(request.body.token, request.body.thumbprint);
  });
}
