/**
 * The consumer's side of the schema registry. The broker validated every plaintext record before
 * storing it; the values of encrypted topics it could not read, so after opening them the consumer
 * checks each against the schema its `sealbus-schema` header names (fetched by id once, compiled
 * once). Markers that the broker left in place of dead-lettered records are passed over.
 */
import { SealbusError } from '../errors/index.js';
import type { LogRecord } from '../log/record-batch.js';
import { DEAD_LETTER_HEADER, KEY_SCHEMA_ID_HEADER, SCHEMA_ID_HEADER, ValidatorCache, schemaIdOf, type SchemaSubject, type Validator } from '../schema/index.js';
import type { SchemaInfo } from './admin-schemas.js';
import type { ConsumerDecryption, OpenedRecords } from './consumer-decryption.js';

/** Whether the broker left this record in place of one it sent to a dead-letter topic. */
export function isDeadLetterMarker(record: LogRecord): boolean {
  return record.value === null && record.headers.some((header) => header.name === DEAD_LETTER_HEADER);
}

/**
 * Opens a stored batch (verify, decrypt), then, since the broker could not read its values, checks
 * each against the schema it names; a failure is the batch's error, for the undecryptable policy.
 */
export async function openChecked(decryption: ConsumerDecryption, schemas: ConsumerSchemas | null, topic: string, records: readonly LogRecord[]): Promise<OpenedRecords> {
  const opened = await decryption.open(topic, records);
  if (opened.error !== null || opened.producer === null || schemas === null) return opened;
  const invalid = await schemas.check(topic, opened.records);
  return invalid === null ? opened : Object.assign({}, opened, { error: invalid });
}

const SUBJECTS: readonly [SchemaSubject, string][] = [
  ['value', SCHEMA_ID_HEADER],
  ['key', KEY_SCHEMA_ID_HEADER],
];

export class ConsumerSchemas {
  readonly #byId: (id: number) => Promise<SchemaInfo>;
  readonly #validators = new ValidatorCache(100);
  readonly #schemas = new Map<number, Promise<SchemaInfo>>();

  constructor(byId: (id: number) => Promise<SchemaInfo>) {
    this.#byId = byId;
  }

  /**
   * Checks opened records of `topic` against the schemas their headers name; the first failure is
   * returned as SEALBUS_ERR_SCHEMA_VALIDATION (naming the record's offset and the field). Records
   * without a schema header are not checked. Lookups failing for other reasons throw (retried).
   */
  async check(topic: string, records: readonly LogRecord[]): Promise<SealbusError | null> {
    for (const record of records) {
      for (const [subject, name] of SUBJECTS) {
        const id = schemaIdOf(record.headers.find((header) => header.name === name)?.value);
        if (id === null) continue;
        const validator = await this.#validator(id);
        const failure = validator.validateBytes(subject === 'value' ? record.value : record.key);
        if (failure !== null) {
          return new SealbusError(
            'SEALBUS_ERR_SCHEMA_VALIDATION',
            { record: `at offset ${record.offset}`, schemaId: id, subject, topic, pointer: failure.pointer, reason: failure.reason },
            { details: { offset: record.offset, schemaId: id, subject, pointer: failure.pointer, reason: failure.reason } },
          );
        }
      }
    }
    return null;
  }

  async #validator(id: number): Promise<Validator> {
    let info = this.#schemas.get(id);
    if (info === undefined) {
      if (this.#schemas.size >= 1000) this.#schemas.clear();
      info = this.#byId(id);
      this.#schemas.set(id, info);
      info.catch(() => this.#schemas.delete(id));
    }
    const found = await info;
    return this.#validators.get(id, () => found.schema);
  }
}
