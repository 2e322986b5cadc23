/**
 * The per-record part of validation at produce time, on one records section: each record must carry
 * the current schema id of each governed subject (value, key), and, on a plaintext topic, its bytes
 * must validate. One function, run by the broker's main thread for small batches and by the
 * validation threads (src/broker/validation-pool.ts) for large ones, so both give the same verdict
 * in the same order: records in order, and for each the value's id, the value, the key's id, the key.
 */
import { RecordSpans } from '../log/record-spans.js';
import type { EncodedRecords } from '../log/types.js';
import { MAX_SHAPE_RECORD_BYTES } from './fast-shape.js';
import { KEY_SCHEMA_ID_HEADER, SCHEMA_ID_HEADER, schemaIdAt } from './headers.js';
import type { SchemaSubject } from './registry-state.js';
import type { Validator } from './validator.js';

/** A subject the topic has a schema for, and that schema's id (the one every record must name). */
export interface GovernedSubject {
  readonly subject: SchemaSubject;
  readonly schemaId: number;
}

export interface InvalidRecord {
  readonly index: number;
  readonly subject: SchemaSubject;
  readonly schemaId: number;
  readonly pointer: string;
  readonly reason: string;
}

export type SectionVerdict =
  /** `invalid` is empty when every record matched; with `firstInvalidOnly`, it holds at most one. */
  | { readonly kind: 'checked'; readonly invalid: readonly InvalidRecord[] }
  /** A record without the current id (`given`: what it carried, at most 20 characters, or 'none'). */
  | { readonly kind: 'stale'; readonly record: number; readonly subject: SchemaSubject; readonly given: string; readonly current: number };

export interface SectionCheckOptions {
  /** Encrypted topics: ids are checked, values (sealed) are not. */
  readonly encrypted: boolean;
  /** `onInvalid: reject`: the first invalid record decides, nothing after it is looked at. */
  readonly firstInvalidOnly: boolean;
}

/** How much of a section is read as text at a time (below a core's share of cache). */
const TEXT_WINDOW = 64 * 1024;

const SUBJECT_HEADERS: Record<SchemaSubject, Uint8Array> = { value: Buffer.from(SCHEMA_ID_HEADER), key: Buffer.from(KEY_SCHEMA_ID_HEADER) };

/** One governed subject, looked up once per section rather than once per record. */
interface SubjectCheck {
  readonly subject: SchemaSubject;
  readonly schemaId: number;
  readonly header: Uint8Array;
  /** null on encrypted topics, whose values are sealed. */
  readonly validator: Validator | null;
}

export function checkSection(
  section: EncodedRecords,
  subjects: readonly GovernedSubject[],
  validatorOf: (schemaId: number) => Validator,
  options: SectionCheckOptions,
): SectionVerdict {
  const checks: SubjectCheck[] = subjects.map(({ subject, schemaId }) => ({ subject, schemaId, header: SUBJECT_HEADERS[subject], validator: options.encrypted ? null : validatorOf(schemaId) }));
  const records = new RecordSpans(section);
  const bytes = records.bytes;
  const invalid: InvalidRecord[] = [];
  // The section is read as latin1 a window at a time, so that a record with the schema's shape needs
  // neither a view nor a string of its own, and the text stays in the CPU's cache while it is read.
  let text = '';
  let base = 0;
  let limit = 0;
  while (records.next()) {
    for (const { subject, schemaId, header, validator } of checks) {
      const at = records.header(header);
      if (at < 0 || schemaIdAt(bytes, at, records.headerEnd) !== schemaId) {
        const given = at < 0 ? 'none' : bytes.toString('latin1', at, Math.min(records.headerEnd, at + 20));
        return { kind: 'stale', record: records.index, subject, given, current: schemaId };
      }
      if (validator === null) continue;
      const start = subject === 'value' ? records.valueStart : records.keyStart;
      const end = subject === 'value' ? records.valueEnd : records.keyEnd;
      const tried = validator.shaped && start >= 0 && end - start <= MAX_SHAPE_RECORD_BYTES;
      if (tried && (start < base || end > limit)) {
        base = start;
        limit = Math.min(bytes.length, Math.max(end, start + TEXT_WINDOW));
        text = bytes.toString('latin1', base, limit);
      }
      if (tried && validator.hasShapeAt(text, start - base, end - base)) continue;
      const recordBytes = subject === 'value' ? records.value() : records.key();
      const failure = tried ? validator.validateUnshaped(recordBytes) : validator.validateBytes(recordBytes);
      if (failure === null) continue;
      invalid.push({ index: records.index, subject, schemaId, ...failure });
      if (options.firstInvalidOnly) return { kind: 'checked', invalid };
      break; // one reason per record is enough to dead-letter it
    }
  }
  return { kind: 'checked', invalid };
}
