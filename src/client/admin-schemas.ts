/**
 * The schema registry API of the SDK: register and check versions, read them by topic or by id,
 * and change a topic's schema settings (docs/schemas.md).
 */
import { SealbusError } from '../errors/index.js';
import type { CompatibilityReport, JsonSchema, SchemaSettings, SchemaSubject } from '../schema/index.js';
import type { HttpClient } from './https-client.js';

export type { CompatibilityMode, CompatibilityProblem, CompatibilityReport, InvalidRecordAction, JsonSchema, SchemaSettings, SchemaSubject } from '../schema/index.js';

/** One version of a topic's schema, as listed. */
export interface SchemaVersionInfo {
  readonly id: number;
  readonly version: number;
  readonly registeredBy: string;
  /** RFC 3339. */
  readonly registeredAt: string;
}

/** One version with its schema. */
export interface SchemaInfo extends SchemaVersionInfo {
  readonly topic: string;
  readonly subject: SchemaSubject;
  readonly schema: JsonSchema;
}

export interface TopicSchemaList {
  readonly topic: string;
  readonly settings: SchemaSettings;
  /** Oldest first; the last is current. */
  readonly value: readonly SchemaVersionInfo[];
  readonly key: readonly SchemaVersionInfo[];
}

const path = (topic: string, rest = ''): string => `/v1/topics/${encodeURIComponent(topic)}/schemas${rest}`;

function schemaInfo(body: unknown): SchemaInfo {
  const info = body as Partial<SchemaInfo> | null;
  if (info === null || typeof info !== 'object' || typeof info.id !== 'number' || typeof info.topic !== 'string' || info.schema === undefined) {
    throw new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: 'client: unexpected schema answer' });
  }
  return info as SchemaInfo;
}

/** Registers `schema` as the next version (`created: false` when it already is the latest). */
export async function registerSchema(http: HttpClient, topic: string, schema: JsonSchema, subject: SchemaSubject = 'value'): Promise<SchemaInfo & { created: boolean }> {
  const { body } = await http.request('POST', path(topic), { schema, subject });
  return { ...schemaInfo(body), created: (body as { created?: unknown }).created === true };
}

/** The compatibility report of `schema` as the next version; nothing is written. */
export async function checkSchema(http: HttpClient, topic: string, schema: JsonSchema, subject: SchemaSubject = 'value'): Promise<CompatibilityReport> {
  const { body } = await http.request('POST', path(topic, '/check'), { schema, subject });
  return body as CompatibilityReport;
}

export async function listSchemas(http: HttpClient, topic: string): Promise<TopicSchemaList> {
  const { body } = await http.request('GET', path(topic));
  return body as TopicSchemaList;
}

export async function schemaVersion(http: HttpClient, topic: string, version: number | 'latest' = 'latest', subject: SchemaSubject = 'value'): Promise<SchemaInfo> {
  const { body } = await http.request('GET', path(topic, `/${subject}/versions/${version}`));
  return schemaInfo(body);
}

export async function schemaById(http: HttpClient, id: number): Promise<SchemaInfo> {
  const { body } = await http.request('GET', `/v1/schemas/${id}`);
  return schemaInfo(body);
}

export async function updateSchemaSettings(http: HttpClient, topic: string, changes: Partial<SchemaSettings>): Promise<SchemaSettings> {
  const { body } = await http.request('PUT', path(topic, '/settings'), changes);
  return (body as { settings: SchemaSettings }).settings;
}
