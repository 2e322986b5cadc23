import type { FastifyInstance } from 'fastify';
import type { SchemaRegistry } from '../../broker/schema-registry.js';
import { COMPATIBILITY_MODES, SCHEMA_SUBJECTS, type RegisteredSchema, type SchemaSettings, type SchemaSubject } from '../../schema/index.js';
import { principalOf } from '../context.js';
import { topicParams } from './params.js';

/**
 * The schema registry's API (docs/schemas.md): register and check versions, read them by topic or
 * by id, and set a topic's compatibility mode and what happens to invalid records. Authorization
 * is the registry's own (manage-schemas to change; describe, produce or consume to read).
 */
const subject = { type: 'string', enum: SCHEMA_SUBJECTS } as const;

const schemaBody = {
  type: 'object',
  additionalProperties: false,
  required: ['schema'],
  properties: { schema: {}, subject },
} as const;

const settingsBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    compatibility: { type: 'string', enum: COMPATIBILITY_MODES },
    onInvalid: { type: 'string', enum: ['reject', 'dead-letter'] },
    deadLetterTopic: { type: ['string', 'null'], minLength: 1, maxLength: 256 },
  },
} as const;

const versionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['topic', 'subject', 'version'],
  properties: {
    topic: topicParams.properties.topic,
    subject,
    version: { type: 'string', pattern: '^(latest|[1-9][0-9]{0,5})$' },
  },
} as const;

const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
} as const;

/** A version without its schema (for lists). */
function summary(registered: RegisteredSchema): Record<string, unknown> {
  return { id: registered.id, version: registered.version, registeredBy: registered.registeredBy, registeredAt: new Date(registered.registeredAt).toISOString() };
}

function full(registered: RegisteredSchema): Record<string, unknown> {
  return { topic: registered.topic, subject: registered.subject, ...summary(registered), schema: registered.schema };
}

export function registerSchemaRoutes(app: FastifyInstance, registry: SchemaRegistry): void {
  app.post<{ Params: { topic: string }; Body: { schema: unknown; subject?: SchemaSubject } }>(
    '/v1/topics/:topic/schemas',
    { schema: { params: topicParams, body: schemaBody } },
    async (request, reply) => {
      const { schema, created } = await registry.register(principalOf(request), request.params.topic, request.body.subject ?? 'value', request.body.schema);
      reply.code(created ? 201 : 200);
      return { ...full(schema), created };
    },
  );

  app.post<{ Params: { topic: string }; Body: { schema: unknown; subject?: SchemaSubject } }>(
    '/v1/topics/:topic/schemas/check',
    { schema: { params: topicParams, body: schemaBody } },
    async (request) => registry.check(principalOf(request), request.params.topic, request.body.subject ?? 'value', request.body.schema),
  );

  app.get<{ Params: { topic: string } }>('/v1/topics/:topic/schemas', { schema: { params: topicParams } }, async (request) => {
    const found = await registry.list(principalOf(request), request.params.topic);
    return { topic: found.topic, settings: found.settings, value: found.value.map(summary), key: found.key.map(summary) };
  });

  app.get<{ Params: { topic: string; subject: SchemaSubject; version: string } }>(
    '/v1/topics/:topic/schemas/:subject/versions/:version',
    { schema: { params: versionParams } },
    async (request) => {
      const { topic, subject: which, version } = request.params;
      return full(await registry.version(principalOf(request), topic, which, version === 'latest' ? 'latest' : Number(version)));
    },
  );

  app.put<{ Params: { topic: string }; Body: Partial<SchemaSettings> }>(
    '/v1/topics/:topic/schemas/settings',
    { schema: { params: topicParams, body: settingsBody } },
    async (request) => ({ topic: request.params.topic, settings: await registry.updateSettings(principalOf(request), request.params.topic, request.body) }),
  );

  app.get<{ Params: { id: number } }>('/v1/schemas/:id', { schema: { params: idParams } }, async (request) => full(await registry.byId(principalOf(request), request.params.id)));
}
