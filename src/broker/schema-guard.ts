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
  type RegisteredSchema,
  type SchemaSubject,
} from '../schema/index.js';
import { checkSection, type InvalidRecord, type SectionCheckOptions, type SectionVerdict } from '../schema/section-check.js';
import type { Actor } from './access.js';
import { OffloadPace, type ValidationPool } from './validation-pool.js';
import type { AuditTrail } from './audit-trail.js';
import type { SchemaRegistry } from './schema-registry.js';

/** A record of the batch that does not match its schema. */
export type { InvalidRecord };

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

export class SchemaGuard {
  /** Per partition, the check answered last: the next one answers after it. */
  readonly #tails = new Map<string, Promise<void>>();
  constructor(
    readonly registry: SchemaRegistry,
    readonly store: LogStore,
    readonly audit: AuditTrail,
    /** Threads for large batches; null checks every batch on the calling thread. */
    readonly pool: ValidationPool | null = null,
    /** When a large batch is worth a hop to a thread. */
    readonly pace: OffloadPace = new OffloadPace(),
  ) {}

  /** Ends the validation threads (they are unref'ed while idle: nothing waits on them). */
  close(): void {
    void this.pool?.close();
  }

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
  check(actor: Actor, topic: string, partition: number, records: EncodedRecords, encrypted: boolean): Promise<CheckedBatch> {
    if (!this.registry.governs(topic)) return Promise.resolve({ records, deadLettered: NONE });
    // Batches of a partition are checked side by side (in threads) but answered in the order they
    // came: the broker appends each once its check resolves, and an idempotent producer's batches
    // must reach the log in their sequence.
    const key = `${partition}:${topic}`;
    const previous = this.#tails.get(key);
    const work = this.#check(actor, topic, partition, records, encrypted);
    work.catch(() => {}); // handled through `done`, maybe only once the previous check answered
    const done = previous === undefined ? work : previous.then(() => work);
    const tail = done.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return done;
  }

  async #check(actor: Actor, topic: string, partition: number, records: EncodedRecords, encrypted: boolean): Promise<CheckedBatch> {
    const settings = this.registry.settingsOf(topic);
    const schemas = (['value', 'key'] as const).map((subject) => this.registry.latest(topic, subject)).filter((schema) => schema !== null);
    const options = { encrypted, firstInvalidOnly: settings.onInvalid === 'reject' };
    const verdict = await this.#verdict(topic, records, schemas, options);
    if (verdict.kind === 'stale') {
      const { record, subject, given, current } = verdict;
      throw new SealbusError('SEALBUS_ERR_SCHEMA_STALE', { record, subject, given, topic, current }, { details: { record, subject, current } });
    }
    if (verdict.invalid.length === 0) return { records, deadLettered: NONE };
    if (options.firstInvalidOnly) throw validationError(topic, verdict.invalid[0]!);
    return this.#deadLetter(actor, topic, partition, decodeRecordSection(records), verdict.invalid, settings.deadLetterTopic!);
  }

  /**
   * A plaintext batch whose check would hold this thread up (OffloadPace) goes to a validation
   * thread when one is ready; the rest, and anything a thread fails on, is checked here.
   */
  async #verdict(topic: string, records: EncodedRecords, schemas: readonly RegisteredSchema[], options: SectionCheckOptions): Promise<SectionVerdict> {
    const subjects = schemas.map((schema) => ({ subject: schema.subject, schemaId: schema.id }));
    const size = records.bytes.length;
    if (this.pool !== null && !options.encrypted && this.pace.offload(topic, size)) {
      const running = this.pool.run({ section: records, subjects: schemas.map((schema) => ({ subject: schema.subject, schemaId: schema.id, schema: schema.schema })), options });
      if (running !== null) {
        try {
          return await running;
        } catch {
          // The thread died or failed: the verdict is still owed, and this thread can give it.
        }
      }
    }
    const byId = new Map(schemas.map((schema) => [schema.id, schema]));
    const started = performance.now();
    const verdict = checkSection(records, subjects, (id) => this.registry.validator(byId.get(id)!), options);
    if (this.pool !== null && !options.encrypted) this.pace.measured(topic, size, (performance.now() - started) * 1000);
    return verdict;
  }

  async #deadLetter(actor: Actor, topic: string, partition: number, decoded: LogRecord[], invalid: readonly InvalidRecord[], target: string): Promise<CheckedBatch> {
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
