import { SealbusError } from '../../errors/index.js';
import type { ProduceRecord } from '../../broker/index.js';
import type { LogRecord, RecordHeader } from '../../log/index.js';

/**
 * The JSON form of records on the HTTP API. Values are JSON (`value`, stored as UTF-8 JSON with a
 * `content-type: application/json` header) or binary (`valueBase64`); keys are UTF-8 strings
 * (`key`) or binary (`keyBase64`). On the way out, a value is given back in the form it came in.
 */
export const CONTENT_TYPE_HEADER = 'content-type';
export const JSON_CONTENT_TYPE = 'application/json';
const JSON_TYPE_BYTES = Buffer.from(JSON_CONTENT_TYPE);

export interface JsonRecordIn {
  key?: string | null;
  keyBase64?: string;
  value?: unknown;
  valueBase64?: string;
  headers?: Record<string, string>;
  partition?: number;
}

export const produceRecordSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    key: { type: ['string', 'null'], maxLength: 65_536 },
    keyBase64: { type: 'string', maxLength: 87_384, pattern: '^[A-Za-z0-9+/]*={0,2}$' },
    value: {},
    valueBase64: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' },
    headers: {
      type: 'object',
      maxProperties: 64,
      propertyNames: { minLength: 1, maxLength: 256 },
      additionalProperties: { type: 'string', maxLength: 65_536 },
    },
    partition: { type: 'integer', minimum: 0, maximum: 4095 },
  },
} as const;

function invalid(index: number, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `records[${index}]: ${reason}` });
}

export function recordFromJson(input: JsonRecordIn, index: number): ProduceRecord {
  if (input.key !== undefined && input.keyBase64 !== undefined) throw invalid(index, 'give key or keyBase64, not both');
  if (input.value !== undefined && input.valueBase64 !== undefined) throw invalid(index, 'give value or valueBase64, not both');
  const headers: RecordHeader[] = Object.entries(input.headers ?? {}).map(([name, value]) => ({ name, value: Buffer.from(value, 'utf8') }));
  let value: Buffer | null = null;
  if (input.value !== undefined) {
    if (headers.some((h) => h.name === CONTENT_TYPE_HEADER)) throw invalid(index, `a JSON value sets the ${CONTENT_TYPE_HEADER} header itself`);
    value = Buffer.from(JSON.stringify(input.value), 'utf8');
    headers.push({ name: CONTENT_TYPE_HEADER, value: JSON_TYPE_BYTES });
  } else if (input.valueBase64 !== undefined) {
    value = Buffer.from(input.valueBase64, 'base64');
  }
  let key: Buffer | null = null;
  if (typeof input.key === 'string') key = Buffer.from(input.key, 'utf8');
  else if (input.keyBase64 !== undefined) key = Buffer.from(input.keyBase64, 'base64');
  return { key, value, headers, ...(input.partition !== undefined && { partition: input.partition }) };
}

function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

export function recordToJson(topic: string, partition: number, record: LogRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { topic, partition, offset: record.offset, timestamp: record.timestamp };
  if (record.key === null) out.key = null;
  else if (isUtf8(record.key)) out.key = record.key.toString('utf8');
  else out.keyBase64 = record.key.toString('base64');
  const isJson = record.headers.some((h) => h.name === CONTENT_TYPE_HEADER && h.value !== null && h.value.equals(JSON_TYPE_BYTES));
  if (record.value === null) out.value = null;
  else if (isJson) out.value = JSON.parse(record.value.toString('utf8'));
  else out.valueBase64 = record.value.toString('base64');
  const headers: Record<string, string> = {};
  for (const header of record.headers) {
    if (isJson && header.name === CONTENT_TYPE_HEADER) continue;
    headers[header.name] = header.value === null ? '' : header.value.toString('utf8');
  }
  out.headers = headers;
  return out;
}
