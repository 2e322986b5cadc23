/**
 * Record headers of schema-governed topics. Every record of such a topic carries the id of the
 * schema it was checked against (the SDK and the HTTP API stamp it); a record the broker sent to a
 * dead-letter topic leaves a marker in its place that says where it went.
 */

/** The id (decimal) of the value schema a record was checked against. */
export const SCHEMA_ID_HEADER = 'sealbus-schema';
/** The id (decimal) of the key schema, on topics whose keys have one. */
export const KEY_SCHEMA_ID_HEADER = 'sealbus-key-schema';
/** On a marker left in the topic: `<dead-letter topic>/<partition>/<offset>` of the record. */
export const DEAD_LETTER_HEADER = 'sealbus-dead-letter';
/** On a dead-lettered record: where it was produced to, and why it was refused. */
export const DEAD_LETTER_SOURCE_HEADER = 'sealbus-dead-letter-source';
export const DEAD_LETTER_REASON_HEADER = 'sealbus-dead-letter-reason';
export const DEAD_LETTER_POINTER_HEADER = 'sealbus-dead-letter-pointer';
export const DEAD_LETTER_PRODUCER_HEADER = 'sealbus-dead-letter-producer';

/** The schema id a header value names, or null when it names none (absent, not a decimal id). */
export function schemaIdOf(value: Buffer | null | undefined): number | null {
  return value === null || value === undefined ? null : schemaIdAt(value, 0, value.length);
}

/** schemaIdOf for the header value at `bytes[start, end)`, read in place. */
export function schemaIdAt(bytes: Uint8Array, start: number, end: number): number | null {
  if (end - start < 1 || end - start > 15 || bytes[start] === 0x30) return null;
  let id = 0;
  for (let at = start; at < end; at++) {
    const byte = bytes[at]!;
    if (byte < 0x30 || byte > 0x39) return null;
    id = id * 10 + (byte - 0x30);
  }
  return id;
}
