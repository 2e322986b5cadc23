import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/index.js';
import type { CreateTopicInput } from '../../broker/broker.js';
import type { TopicDescription } from '../../log/index.js';
import { principalOf } from '../context.js';
import { topicParams } from './params.js';

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256 },
    partitions: { type: 'integer', minimum: 1, maximum: 4096 },
    retentionMs: { type: ['integer', 'null'], minimum: 1 },
    retentionBytes: { type: ['integer', 'null'], minimum: 1 },
    maxRecordBytes: { type: 'integer', minimum: 1 },
    segmentBytes: { type: 'integer', minimum: 1 },
    encryption: { enum: ['none', 'required'] },
    recipients: { type: 'array', minItems: 1, maxItems: 256, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 256 } },
  },
} as const;

/** The JSON form of a topic is its description as the store gives it: settings and each partition's offsets. */
export function topicJson(topic: TopicDescription): TopicDescription {
  return topic;
}

export function registerTopicRoutes(app: FastifyInstance, broker: Broker): void {
  app.get('/v1/topics', async (request) => {
    const topics = await broker.listTopics(principalOf(request));
    return { topics: topics.map(topicJson) };
  });

  app.post<{ Body: CreateTopicInput }>(
    '/v1/topics',
    { schema: { body: createBody } },
    async (request, reply) => {
      const created = await broker.createTopic(principalOf(request), request.body);
      return reply.status(201).send(topicJson(created));
    },
  );

  app.get<{ Params: { topic: string } }>('/v1/topics/:topic', { schema: { params: topicParams } }, async (request) => {
    return topicJson(await broker.describeTopic(principalOf(request), request.params.topic));
  });

  app.delete<{ Params: { topic: string } }>('/v1/topics/:topic', { schema: { params: topicParams } }, async (request, reply) => {
    await broker.deleteTopic(principalOf(request), request.params.topic);
    return reply.status(204).send();
  });
}
