import { SealbusError } from '../../errors/index.js';
import { parseJson } from '../../json/safe-json.js';
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

/**
 * A stored value marked JSON, parsed within the limits, or null when it does not parse safely: it
 * came through the WebSocket path, which does not parse values, and may be anything. Its strings
 * are bounded by the record's size alone, as on the way in.
 */
function storedJson(value: Buffer): { parsed: unknown } | null {
  try {
    return { parsed: parseJson(value, 'stored record value', { maxTotalBytes: value.length, maxStringBytes: value.length }) };
  } catch {
    return null;
  }
}

export function recordToJson(topic: string, partition: number, record: LogRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { topic, partition, offset: record.offset, timestamp: record.timestamp };
  if (record.key === null) out.key = null;
  else if (isUtf8(record.key)) out.key = record.key.toString('utf8');
  else out.keyBase64 = record.key.toString('base64');
  const markedJson = record.headers.some((h) => h.name === CONTENT_TYPE_HEADER && h.value !== null && h.value.equals(JSON_TYPE_BYTES));
  const json = markedJson && record.value !== null ? storedJson(record.value) : null;
  // A value marked JSON that does not parse safely is given back as base64, with its content-type
  // header, rather than failing the whole fetch or handing out rounded numbers.
  const isJson = markedJson && (record.value === null || json !== null);
  if (record.value === null) out.value = null;
  else if (json !== null) out.value = json.parsed;
  else out.valueBase64 = record.value.toString('base64');
  // fromEntries defines own properties: a header named __proto__ stays a header.
  out.headers = Object.fromEntries(
    record.headers
      .filter((header) => !(isJson && header.name === CONTENT_TYPE_HEADER))
      .map((header) => [header.name, header.value === null ? '' : header.value.toString('utf8')]),
  );
  return out;
}
