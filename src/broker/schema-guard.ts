/**
 * Schema validation on the produce path, once per batch, before anything is stored. On a topic
 * with a schema, every record must carry the id of the topic's current schema (a stale or missing
 * id is refused as retriable: the producer fetches the schema again), and on plaintext topics every
 * record is parsed as bounded JSON and checked against it. An encrypted batch is checked by its
 * producer before sealing (the broker cannot read it); the broker checks its envelope and its ids.
 *
 * A record that does not match either refuses the whole batch (the error names the first failing
 * record and the JSON pointer of the field) or, with `onInvalid: dead-letter`, goes to the topic's
 * dead-letter topic with the reason in its headers, leaving a marker in its place: the batch keeps
 * its size, so offsets, ordering and the idempotent producer's sequence numbers stay as sent.
 */
import { SealbusError } from '../errors/index.js';
import { decodeRecordSection, encodeRecords, type LogRecord, type RecordHeader, type RecordInput } from '../log/record-batch.js';
import type { EncodedRecords, LogStore } from '../log/types.js';
import {
  DEAD_LETTER_HEADER,
  DEAD_LETTER_POINTER_HEADER,
  DEAD_LETTER_PRODUCER_HEADER,
  DEAD_LETTER_REASON_HEADER,
  DEAD_LETTER_SOURCE_HEADER,
  KEY_SCHEMA_ID_HEADER,
  SCHEMA_ID_HEADER,
  schemaIdOf,
  type RegisteredSchema,
  type SchemaSubject,
} from '../schema/index.js';
import type { Actor } from './access.js';
import type { AuditTrail } from './audit-trail.js';
import type { SchemaRegistry } from './schema-registry.js';

/** A record of the batch that does not match its schema. */
export interface InvalidRecord {
  readonly index: number;
  readonly subject: SchemaSubject;
  readonly schemaId: number;
  readonly pointer: string;
  readonly reason: string;
}

/** Where a dead-lettered record went. */
export interface DeadLettered {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly pointer: string;
  readonly reason: string;
}

export interface CheckedBatch {
  /** What to store: the batch as sent, or with markers in place of dead-lettered records. */
  readonly records: EncodedRecords;
  /** By index in the batch; empty when every record matched. */
  readonly deadLettered: ReadonlyMap<number, DeadLettered>;
}

const NONE: ReadonlyMap<number, DeadLettered> = new Map();
const SUBJECT_HEADERS: Record<SchemaSubject, string> = { value: SCHEMA_ID_HEADER, key: KEY_SCHEMA_ID_HEADER };

function headerValue(record: LogRecord, name: string): Buffer | null | undefined {
  for (const header of record.headers) if (header.name === name) return header.value;
  return undefined;
}

export class SchemaGuard {
  constructor(
    readonly registry: SchemaRegistry,
    readonly store: LogStore,
    readonly audit: AuditTrail,
  ) {}

  /** The headers a record of `topic` must carry (for records the broker builds itself: the HTTP API). */
  stampFor(topic: string): RecordHeader[] {
    const stamp: RecordHeader[] = [];
    for (const subject of ['value', 'key'] as const) {
      const latest = this.registry.latest(topic, subject);
      if (latest !== null) stamp.push({ name: SUBJECT_HEADERS[subject], value: Buffer.from(String(latest.id)) });
    }
    return stamp;
  }

  /**
   * Checks a batch bound for `topic`/`partition`. Throws SEALBUS_ERR_SCHEMA_STALE or
   * SEALBUS_ERR_SCHEMA_VALIDATION; with a dead-letter topic, sends invalid records there first.
   */
  async check(actor: Actor, topic: string, partition: number, records: EncodedRecords, encrypted: boolean): Promise<CheckedBatch> {
    if (!this.registry.governs(topic)) return { records, deadLettered: NONE };
    const current = { value: this.registry.latest(topic, 'value'), key: this.registry.latest(topic, 'key') };
    const decoded = decodeRecordSection(records);
    const invalid: InvalidRecord[] = [];
    const settings = this.registry.settingsOf(topic);
    decoded.forEach((record, index) => {
      for (const subject of ['value', 'key'] as const) {
        const schema = current[subject];
        if (schema === null) continue;
        this.#checkId(topic, record, index, subject, schema);
        if (encrypted) continue;
        const failure = this.registry.validator(schema).validateBytes(subject === 'value' ? record.value : record.key);
        if (failure === null) continue;
        const found = { index, subject, schemaId: schema.id, ...failure };
        if (settings.onInvalid === 'reject') throw validationError(topic, found);
        invalid.push(found);
        break;
      }
    });
    if (invalid.length === 0) return { records, deadLettered: NONE };
    return this.#deadLetter(actor, topic, partition, decoded, invalid, settings.deadLetterTopic!);
  }

  #checkId(topic: string, record: LogRecord, index: number, subject: SchemaSubject, schema: RegisteredSchema): void {
    const given = headerValue(record, SUBJECT_HEADERS[subject]);
    if (schemaIdOf(given) === schema.id) return;
    throw new SealbusError(
      'SEALBUS_ERR_SCHEMA_STALE',
      { record: index, subject, given: given == null ? 'none' : given.toString('latin1').slice(0, 20), topic, current: schema.id },
      { details: { record: index, subject, current: schema.id } },
    );
  }

  async #deadLetter(actor: Actor, topic: string, partition: number, decoded: LogRecord[], invalid: InvalidRecord[], target: string): Promise<CheckedBatch> {
    let partitions: number;
    try {
      partitions = this.store.topicConfig(target).partitions;
    } catch {
      // Nowhere to put them: refusing the batch loses nothing.
      throw validationError(topic, invalid[0]!, `; the dead-letter topic ${target} is missing`);
    }
    const dlqPartition = partition % partitions;
    const source = Buffer.from(`${topic}/${partition}`);
    const producer = Buffer.from(actor.name);
    const letters: RecordInput[] = invalid.map((found) => {
      const record = decoded[found.index]!;
      const headers: RecordHeader[] = [
        ...record.headers.filter((header) => !header.name.startsWith('sealbus-dead-letter')),
        { name: DEAD_LETTER_SOURCE_HEADER, value: source },
        { name: DEAD_LETTER_REASON_HEADER, value: Buffer.from(`${found.subject}: ${found.reason}`) },
        { name: DEAD_LETTER_POINTER_HEADER, value: Buffer.from(found.pointer) },
        { name: DEAD_LETTER_PRODUCER_HEADER, value: producer },
      ];
      return { key: record.key, value: record.value, headers };
    });
    const encoded = encodeRecords(letters);
    const appended = await this.store.append(target, dlqPartition, { records: encoded });
    await this.audit.produced(actor, { topic: target, partition: dlqPartition, rule: 'schema.dead-letter' }, appended, encoded.bytes.length);
    const deadLettered = new Map<number, DeadLettered>();
    invalid.forEach((found, i) => {
      deadLettered.set(found.index, { topic: target, partition: dlqPartition, offset: appended.baseOffset + i, pointer: found.pointer, reason: found.reason });
    });
    const kept: RecordInput[] = decoded.map((record, index) => {
      const letter = deadLettered.get(index);
      if (letter === undefined) return record;
      return { key: record.key, value: null, headers: [{ name: DEAD_LETTER_HEADER, value: Buffer.from(`${letter.topic}/${letter.partition}/${letter.offset}`) }] };
    });
    return { records: encodeRecords(kept), deadLettered };
  }
}

function validationError(topic: string, found: InvalidRecord, suffix = ''): SealbusError {
  return new SealbusError(
    'SEALBUS_ERR_SCHEMA_VALIDATION',
    { record: found.index, schemaId: found.schemaId, subject: found.subject, topic, pointer: found.pointer, reason: found.reason + suffix },
    { details: { record: found.index, schemaId: found.schemaId, subject: found.subject, pointer: found.pointer, reason: found.reason } },
  );
}
