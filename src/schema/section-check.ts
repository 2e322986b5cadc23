/**
 * The per-record part of validation at produce time, on one records section: each record must carry
 * the current schema id of each governed subject (value, key), and, on a plaintext topic, its bytes
 * must validate. One function, run by the broker's main thread for small batches and by the
 * validation threads (src/broker/validation-pool.ts) for large ones, so both give the same verdict
 * in the same order: records in order, and for each the value's id, the value, the key's id, the key.
 */
import { decodeRecordSection, type LogRecord } from '../log/record-batch.js';
import type { EncodedRecords } from '../log/types.js';
import { KEY_SCHEMA_ID_HEADER, SCHEMA_ID_HEADER, schemaIdOf } from './headers.js';
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

const SUBJECT_HEADERS: Record<SchemaSubject, string> = { value: SCHEMA_ID_HEADER, key: KEY_SCHEMA_ID_HEADER };

function headerValue(record: LogRecord, name: string): Buffer | null | undefined {
  for (const header of record.headers) if (header.name === name) return header.value;
  return undefined;
}

export function checkSection(
  section: EncodedRecords,
  subjects: readonly GovernedSubject[],
  validatorOf: (schemaId: number) => Validator,
  options: SectionCheckOptions,
): SectionVerdict {
  const records = decodeRecordSection(section);
  const invalid: InvalidRecord[] = [];
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    for (const { subject, schemaId } of subjects) {
      const given = headerValue(record, SUBJECT_HEADERS[subject]);
      if (schemaIdOf(given) !== schemaId) {
        return { kind: 'stale', record: index, subject, given: given == null ? 'none' : given.toString('latin1').slice(0, 20), current: schemaId };
      }
      if (options.encrypted) continue;
      const failure = validatorOf(schemaId).validateBytes(subject === 'value' ? record.value : record.key);
      if (failure === null) continue;
      invalid.push({ index, subject, schemaId, ...failure });
      if (options.firstInvalidOnly) return { kind: 'checked', invalid };
      break; // one reason per record is enough to dead-letter it
    }
  }
  return { kind: 'checked', invalid };
}
