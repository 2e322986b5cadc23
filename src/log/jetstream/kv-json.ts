import type { KvEntry } from '@nats-io/kv';
import { parseJson } from '../../json/safe-json.js';

/**
 * The JSON object a KV entry holds, read through the one bounded parser (src/json/safe-json.ts):
 * null for a deletion or purge, for bytes that are not JSON within the limits, and for anything but
 * an object. Nothing read from NATS is trusted; callers check each field they use.
 */
export function kvObject(entry: KvEntry | null): Record<string, unknown> | null {
  if (entry === null || entry.operation !== 'PUT') return null;
  let value: unknown;
  try {
    value = parseJson(Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength), 'a JetStream KV entry');
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
