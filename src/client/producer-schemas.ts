/**
 * The producer's side of the schema registry: every record of a topic with a schema carries the id
 * of the topic's current schema (`sealbus-schema`, and `sealbus-key-schema` when the key has one),
 * which the broker requires. The ids come with the topic's metadata, asked again when the broker
 * says they are stale (a new version was registered). On encrypted topics, where the broker cannot read the
 * values, each value (and key) is validated here, before it is sealed.
 */
import { SealbusError } from '../errors/index.js';
import type { RecordHeader, RecordInput } from '../log/record-batch.js';
import { KEY_SCHEMA_ID_HEADER, SCHEMA_ID_HEADER, ValidatorCache, type SchemaSubject, type Validator } from '../schema/index.js';
import type { SchemaInfo } from './admin-schemas.js';

interface CurrentSchema {
  readonly id: number;
  readonly header: RecordHeader;
  /** Fetched only for encrypted topics, which validate in the client. */
  validator: Validator | null;
}

type TopicStamp = Readonly<Record<SchemaSubject, CurrentSchema | null>>;

/** The schema ids a METADATA answer gives. */
export interface SchemaIds {
  readonly valueSchemaId?: number;
  readonly keySchemaId?: number;
}

const HEADERS: Record<SchemaSubject, string> = { value: SCHEMA_ID_HEADER, key: KEY_SCHEMA_ID_HEADER };
const SUBJECTS: readonly SchemaSubject[] = ['value', 'key'];
const MAX_TOPICS = 10_000;

export class ProducerSchemas {
  readonly #byId: (id: number) => Promise<SchemaInfo>;
  readonly #topics = new Map<string, TopicStamp>();
  readonly #validators = new ValidatorCache(100);

  /** `byId` fetches a schema (encrypted topics only); without it, nothing is validated here. */
  constructor(byId: ((id: number) => Promise<SchemaInfo>) | null) {
    this.#byId = byId ?? (() => Promise.reject(new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'producer options', key: 'connection', reason: 'is needed to fetch schemas' })));
  }

  /** Takes the topic's current schema ids from a METADATA answer (validators of unchanged ids are kept). */
  learn(topic: string, ids: SchemaIds): void {
    const known = this.#topics.get(topic);
    const current = (subject: SchemaSubject, id: number | undefined): CurrentSchema | null => {
      if (id === undefined) return null;
      const before = known?.[subject];
      if (before?.id === id) return before;
      return { id, header: { name: HEADERS[subject], value: Buffer.from(String(id)) }, validator: null };
    };
    if (this.#topics.size >= MAX_TOPICS && known === undefined) this.#topics.clear();
    this.#topics.set(topic, { value: current('value', ids.valueSchemaId), key: current('key', ids.keySchemaId) });
  }

  /** Fetches and compiles the current schemas of `topic`, to validate before sealing. */
  async prepareValidators(topic: string): Promise<void> {
    const stamp = this.#topics.get(topic);
    if (stamp === undefined) return;
    for (const subject of ['value', 'key'] as const) {
      const current = stamp[subject];
      if (current === null || current.validator !== null) continue;
      const info = await this.#byId(current.id);
      current.validator = this.#validators.get(current.id, () => info.schema);
    }
  }

  /**
   * The records with the topic's schema ids in their headers (replacing any they carried). With
   * `validate`, each value (and key) is checked first: throws SEALBUS_ERR_SCHEMA_VALIDATION naming
   * the record and the field.
   */
  stamp(topic: string, records: readonly RecordInput[], validate: boolean): readonly RecordInput[] {
    const stamp = this.#topics.get(topic);
    if (stamp === undefined || (stamp.value === null && stamp.key === null)) return records;
    return records.map((record, index) => {
      // Most records carry no header of their own: no filtering pass then (this runs for every record).
      const own = record.headers;
      const headers = own === undefined || own.length === 0 ? [] : own.filter((header) => header.name !== SCHEMA_ID_HEADER && header.name !== KEY_SCHEMA_ID_HEADER);
      for (const subject of SUBJECTS) {
        const current = stamp[subject];
        if (current === null) continue;
        if (validate && current.validator !== null) {
          const failure = current.validator.validateBytes(subject === 'value' ? record.value : (record.key ?? null));
          if (failure !== null) {
            throw new SealbusError(
              'SEALBUS_ERR_SCHEMA_VALIDATION',
              { record: index, schemaId: current.id, subject, topic, pointer: failure.pointer, reason: failure.reason },
              { details: { record: index, schemaId: current.id, subject, pointer: failure.pointer, reason: failure.reason } },
            );
          }
        }
        headers.push(current.header);
      }
      return record.key === undefined ? { value: record.value, headers } : { key: record.key, value: record.value, headers };
    });
  }
}
