import type { FastifyInstance } from 'fastify';
import type { Broker, ResetTarget } from '../../broker/index.js';
import { principalOf } from '../context.js';

const groupParams = {
  type: 'object',
  additionalProperties: false,
  required: ['group'],
  properties: { group: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

const resetBody = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: {
    to: {
      oneOf: [
        { type: 'string', enum: ['earliest', 'latest'] },
        {
          type: 'object',
          additionalProperties: false,
          required: ['timestamp'],
          properties: { timestamp: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
        },
      ],
    },
    topics: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 256 } },
  },
} as const;

interface ResetBody {
  readonly to: 'earliest' | 'latest' | { readonly timestamp: number };
  readonly topics?: string[];
}

/** Consumer-group administration: list, describe (members, assignment, lag), reset offsets, delete. */
export function registerGroupRoutes(app: FastifyInstance, broker: Broker): void {
  app.get('/v1/groups', async (request) => ({ groups: await broker.groups.list(principalOf(request)) }));

  app.get<{ Params: { group: string } }>('/v1/groups/:group', { schema: { params: groupParams } }, async (request) =>
    broker.groups.describe(principalOf(request), request.params.group),
  );

  app.post<{ Params: { group: string }; Body: ResetBody }>(
    '/v1/groups/:group/reset',
    { schema: { params: groupParams, body: resetBody } },
    async (request) => {
      const { to, topics } = request.body;
      const target: ResetTarget = typeof to === 'string' ? { kind: to } : { kind: 'timestamp', timestamp: to.timestamp };
      const offsets = await broker.groups.reset(principalOf(request), request.params.group, target, topics);
      return { group: request.params.group, offsets };
    },
  );

  app.delete<{ Params: { group: string } }>('/v1/groups/:group', { schema: { params: groupParams } }, async (request, reply) => {
    await broker.groups.delete(principalOf(request), request.params.group);
    return reply.status(204).send();
  });
}
