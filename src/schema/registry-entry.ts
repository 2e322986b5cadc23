/**
 * The registry's log records: one JSON object per record of `__sealbus.schemas`, versioned (`v`).
 * Read back from disk, each is checked field by field before it is applied.
 */
import { SealbusError } from '../errors/index.js';
import { isCompatibilityMode, SCHEMA_SUBJECTS, type RegistryEntry, type SchemaSubject } from './registry-state.js';
import { SCHEMA_LIMITS, type JsonSchema } from './schema-document.js';
import { parseJson } from './safe-json.js';

export const SCHEMAS_TOPIC = '__sealbus.schemas';
const ENTRY_VERSION = 1;
/** A schema at its limit plus the entry's own fields. */
export const REGISTRY_RECORD_MAX_BYTES = SCHEMA_LIMITS.maxBytes + 4096;

export function encodeRegistryEntry(entry: RegistryEntry): Buffer {
  return Buffer.from(JSON.stringify({ v: ENTRY_VERSION, ...entry }), 'utf8');
}

function malformed(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_SCHEMA_INVALID', { reason: `registry record: ${reason}` });
}

function text(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value === '' || value.length > 1024) throw malformed(`${field} is not a string`);
  return value;
}

function time(record: Record<string, unknown>): number {
  const at = record['at'];
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) throw malformed('at is not a time');
  return at;
}

/** Throws SEALBUS_ERR_SCHEMA_INVALID for a record this version cannot apply. */
export function decodeRegistryEntry(value: Buffer | null): RegistryEntry {
  if (value === null) throw malformed('no value');
  if (value.length > REGISTRY_RECORD_MAX_BYTES) throw malformed(`${value.length} bytes`);
  const parsed = parseJson(value, 'schema registry record', { maxDepth: SCHEMA_LIMITS.maxDepth + 2 });
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('not an object');
  const record = parsed as Record<string, unknown>;
  if (record['v'] !== ENTRY_VERSION) throw malformed(`version ${String(record['v'])} is not known`);
  const topic = text(record, 'topic');
  const by = text(record, 'by');
  const at = time(record);
  if (record['type'] === 'schema') {
    const subject = record['subject'];
    if (!(SCHEMA_SUBJECTS as readonly unknown[]).includes(subject)) throw malformed('subject is not value or key');
    const schema = record['schema'];
    if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) throw malformed('schema is not a schema');
    return { type: 'schema', topic, subject: subject as SchemaSubject, schema: schema as JsonSchema, by, at };
  }
  if (record['type'] === 'settings') {
    const { compatibility, onInvalid, deadLetterTopic } = record;
    if (!isCompatibilityMode(compatibility)) throw malformed('compatibility is not a mode');
    if (onInvalid !== 'reject' && onInvalid !== 'dead-letter') throw malformed('onInvalid is not reject or dead-letter');
    if (deadLetterTopic !== null && typeof deadLetterTopic !== 'string') throw malformed('deadLetterTopic is not a topic');
    if (onInvalid === 'dead-letter' && deadLetterTopic === null) throw malformed('dead-letter without a topic');
    return { type: 'settings', topic, compatibility, onInvalid, deadLetterTopic, by, at };
  }
  throw malformed(`type ${JSON.stringify(String(record['type']).slice(0, 40))} is not known`);
}
