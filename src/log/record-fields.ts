/**
 * Small helpers for the fields of a records section (src/log/record-batch.ts), shared by its
 * encoder, its validation and RecordSpans, kept apart so that the per-record hot paths stay cheap:
 * header names encoded once, checked for UTF-8 without a native call when ASCII, and error texts
 * built only when there is an error.
 */
import { isUtf8 } from 'node:buffer';

/** Names kept encoded, at most; a name is kept if it is at most NAME_CACHE_CHARS long. */
const NAME_CACHE_LIMIT = 256;
const NAME_CACHE_CHARS = 64;
const encodedNames = new Map<string, Buffer>();

/**
 * A header name's UTF-8 bytes. The same few names (a schema id, a trace id) come with record after
 * record: they are encoded once, and copied from then on (a copy costs less than an encode).
 */
export function nameBytes(name: string): Buffer {
  let bytes = encodedNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (encodedNames.size < NAME_CACHE_LIMIT && name.length <= NAME_CACHE_CHARS) {
      // A memory of its own: a view of Buffer's shared pool would keep its whole 8 KiB alive.
      const kept = Buffer.allocUnsafeSlow(bytes.length);
      bytes.copy(kept);
      encodedNames.set(name, kept);
    }
  }
  return bytes;
}

/** A record's field in an error: its key, its value, or header `what`'s value (a number, so that reading a header builds no string). */
export function recordFieldName(what: 'key' | 'value' | number): string {
  return typeof what === 'number' ? `header ${what} value` : what;
}

/** Header names are short and nearly always ASCII: a loop over them costs less than a call into isUtf8. */
export function isUtf8Name(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(start, end));
  return true;
}
