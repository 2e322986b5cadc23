import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/index.js';
import type { SealbusConfig } from '../../config/index.js';
import { decodeRecords } from '../../log/index.js';
import { principalOf } from '../context.js';
import { partitionParams, topicParams } from './params.js';
import { produceRecordSchema, recordFromJson, recordToJson, type JsonRecordIn } from './record-json.js';

/**
 * HTTP produce and fetch. Produce answers once every record is durable; fetch long-polls up to
 * `waitMs` when nothing is there yet. The WebSocket protocol is the fast path; these are for
 * scripts and tools.
 */
export function registerRecordRoutes(app: FastifyInstance, broker: Broker, limits: SealbusConfig['limits']): void {
  app.post<{ Params: { topic: string }; Body: { records: JsonRecordIn[] } }>(
    '/v1/topics/:topic/records',
    {
      schema: {
        params: topicParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['records'],
          properties: { records: { type: 'array', minItems: 1, maxItems: limits.maxRecordsPerBatch, items: produceRecordSchema } },
        },
      },
    },
    async (request) => {
      const records = request.body.records.map(recordFromJson);
      const placed = await broker.produceRecords(principalOf(request), request.params.topic, records);
      return { records: placed };
    },
  );

  app.get<{
    Params: { topic: string; partition: number };
    Querystring: { offset: number; maxRecords?: number; maxBytes?: number; waitMs?: number };
  }>(
    '/v1/topics/:topic/partitions/:partition/records',
    {
      schema: {
        params: partitionParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['offset'],
          properties: {
            offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            maxRecords: { type: 'integer', minimum: 1, maximum: 10_000 },
            maxBytes: { type: 'integer', minimum: 1, maximum: limits.fetchMaxBytes },
            waitMs: { type: 'integer', minimum: 0, maximum: limits.longPollMaxMs },
          },
        },
      },
    },
    async (request) => {
      const { topic, partition } = request.params;
      const { offset, maxRecords = 500, maxBytes, waitMs } = request.query;
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      const result = await broker.fetch(principalOf(request), topic, partition, offset, {
        maxRecords,
        signal: abort.signal,
        ...(maxBytes !== undefined && { maxBytes }),
        ...(waitMs !== undefined && { waitMs }),
      });
      const records: Record<string, unknown>[] = [];
      let nextOffset = offset;
      outer: for (const batch of result.batches) {
        for (const record of decodeRecords(batch)) {
          if (record.offset < offset) continue;
          if (records.length >= maxRecords) break outer;
          records.push(recordToJson(topic, partition, record));
          nextOffset = record.offset + 1;
        }
      }
      return { records, nextOffset, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset };
    },
  );

  app.get<{ Params: { topic: string; partition: number }; Querystring: { timestamp: number } }>(
    '/v1/topics/:topic/partitions/:partition/offsets',
    {
      schema: {
        params: partitionParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['timestamp'],
          properties: { timestamp: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
        },
      },
    },
    async (request) => {
      const { topic, partition } = request.params;
      return { offset: await broker.offsetForTimestamp(principalOf(request), topic, partition, request.query.timestamp) };
    },
  );
}
