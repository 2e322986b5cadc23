/**
 * The schema registry: JSON Schemas per topic, for the value and optionally the key, versioned,
 * kept durably in the internal topic `__sealbus.schemas` and in memory for the produce path. A
 * schema's id is its position in that log (plus one): unique, never reused, the same on every
 * broker that shares the store.
 *
 * Who may do what:
 * - Register a version, change a topic's settings: `manage-schemas` on the topic.
 * - Read schemas and settings: whoever may `describe`, `produce` or `consume` the topic (a producer
 *   needs the current schema to stamp its records, a consumer the schema a record names).
 *
 * Registrations on one broker are serialized and checked against the log as it stands, so two
 * concurrent versions can never both pass against the same predecessor.
 */
import { SealbusError } from '../errors/index.js';
import { InternalTopic, SkipRecord, internalTopicConfig } from '../log/internal-topic.js';
import { assertTopicName, encodeRecords } from '../log/index.js';
import type { LogStore } from '../log/types.js';
import {
  checkCompatibility,
  checkSchemaDocument,
  decodeRegistryEntry,
  encodeRegistryEntry,
  REGISTRY_RECORD_MAX_BYTES,
  RegistryState,
  SCHEMAS_TOPIC,
  ValidatorCache,
  type CompatibilityReport,
  type JsonSchema,
  type RegisteredSchema,
  type SchemaSettings,
  type SchemaSubject,
  type Validator,
} from '../schema/index.js';
import { isDeepStrictEqual } from 'node:util';
import type { Action, Actor, Resource } from './access.js';
import { silentAuditTrail, type AuditTrail } from './audit-trail.js';

export interface SchemaRegistryOptions {
  readonly store: LogStore;
  /** The broker's authorization: throws SEALBUS_ERR_FORBIDDEN, records the decision. */
  readonly authorize: (actor: Actor, action: Action, resource: Resource) => void;
  readonly isAllowed: (actor: Actor, action: Action, resource: Resource) => boolean;
  readonly audit?: AuditTrail;
  readonly clock?: () => number;
  /** Malformed records (skipped), read failures (retried). Never fatal. */
  readonly onError?: (err: unknown) => void;
}

export interface RegisterResult {
  readonly schema: RegisteredSchema;
  /** False when the schema was already the latest version (nothing was written). */
  readonly created: boolean;
}

export interface TopicSchemas {
  readonly topic: string;
  readonly settings: SchemaSettings;
  readonly value: readonly RegisteredSchema[];
  readonly key: readonly RegisteredSchema[];
}

/** Schema comparisons one registration may make, across every version it is checked against. */
const COMPATIBILITY_WORK_LIMIT = 200_000;
const READ_ACTIONS: readonly Action[] = ['describe', 'produce', 'consume'];

export class SchemaRegistry {
  readonly #options: SchemaRegistryOptions;
  readonly #state = new RegistryState();
  readonly #validators = new ValidatorCache();
  readonly #log: InternalTopic;
  readonly #audit: AuditTrail;
  /** Registrations and settings changes, one at a time. */
  #writing: Promise<unknown> = Promise.resolve();

  constructor(options: SchemaRegistryOptions) {
    this.#options = options;
    this.#audit = options.audit ?? silentAuditTrail();
    const report = (err: unknown): void => options.onError?.(err);
    this.#log = new InternalTopic({
      store: options.store,
      topic: SCHEMAS_TOPIC,
      // Kept forever: every record ever stamped with an id must find its schema.
      config: internalTopicConfig({ segmentBytes: 8 * 1024 * 1024, maxRecordBytes: REGISTRY_RECORD_MAX_BYTES, maxBatchBytes: 2 * REGISTRY_RECORD_MAX_BYTES }),
      readMaxBytes: 2 * REGISTRY_RECORD_MAX_BYTES,
      report,
      apply: (record) => {
        try {
          this.#state.apply(record.offset + 1, decodeRegistryEntry(record.value));
        } catch (err) {
          throw new SkipRecord(err);
        }
      },
    });
  }

  /** Creates the topic if missing, replays it, then follows it. Fails (fail closed) when the store cannot be read. */
  async open(): Promise<void> {
    await this.#log.open();
    this.#log.follow();
  }

  close(): void {
    this.#log.close();
  }

  // --- the produce path ----------------------------------------------------------------------

  /** Whether any schema governs `topic`: one map lookup. */
  governs(topic: string): boolean {
    return this.#state.governs(topic);
  }

  latest(topic: string, subject: SchemaSubject): RegisteredSchema | null {
    return this.#state.latest(topic, subject);
  }

  settingsOf(topic: string): SchemaSettings {
    return this.#state.settings(topic);
  }

  /** The compiled validator of a registered schema (compiled once, cached). */
  validator(schema: RegisteredSchema): Validator {
    return this.#validators.get(schema.id, () => schema.schema);
  }

  // --- reading -------------------------------------------------------------------------------

  #authorizeRead(actor: Actor, topic: string): void {
    assertTopicName(topic);
    const resource = { kind: 'topic', name: topic } as const;
    const action = READ_ACTIONS.find((candidate) => this.#options.isAllowed(actor, candidate, resource)) ?? 'describe';
    this.#options.authorize(actor, action, resource);
  }

  async list(actor: Actor, topic: string): Promise<TopicSchemas> {
    this.#authorizeRead(actor, topic);
    await this.#log.sync();
    return { topic, settings: this.#state.settings(topic), value: this.#state.versions(topic, 'value'), key: this.#state.versions(topic, 'key') };
  }

  async version(actor: Actor, topic: string, subject: SchemaSubject, version: number | 'latest'): Promise<RegisteredSchema> {
    this.#authorizeRead(actor, topic);
    await this.#log.sync();
    const versions = this.#state.versions(topic, subject);
    const found = version === 'latest' ? versions.at(-1) : versions[version - 1];
    if (found === undefined) throw new SealbusError('SEALBUS_ERR_SCHEMA_NOT_FOUND', { what: `version ${version} of the ${subject} schema of topic ${topic}` });
    return found;
  }

  /** A schema by id; authorized on the topic it belongs to. An unknown id and a forbidden one look alike to the caller only if it may see neither. */
  async byId(actor: Actor, id: number): Promise<RegisteredSchema> {
    let found = this.#state.byId(id);
    if (found === null) {
      await this.#log.sync();
      found = this.#state.byId(id);
    }
    if (found === null) throw new SealbusError('SEALBUS_ERR_SCHEMA_NOT_FOUND', { what: `with id ${id}` });
    this.#authorizeRead(actor, found.topic);
    return found;
  }

  // --- writing -------------------------------------------------------------------------------

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writing.then(work, work);
    this.#writing = run.catch(() => undefined);
    return run;
  }

  #authorizeManage(actor: Actor, topic: string): void {
    assertTopicName(topic);
    this.#options.authorize(actor, 'manage-schemas', { kind: 'topic', name: topic });
    if (topic.startsWith('__')) throw new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic });
    this.#options.store.topicConfig(topic); // throws SEALBUS_ERR_TOPIC_NOT_FOUND
  }

  /** The compatibility report of `schema` as the next version of `subject`, written nowhere. */
  async check(actor: Actor, topic: string, subject: SchemaSubject, schema: unknown): Promise<CompatibilityReport> {
    this.#authorizeManage(actor, topic);
    checkSchemaDocument(schema);
    await this.#log.sync();
    return this.#report(topic, subject, schema as JsonSchema);
  }

  #report(topic: string, subject: SchemaSubject, schema: JsonSchema): CompatibilityReport {
    const existing = this.#state.versions(topic, subject).map((registered) => ({ version: registered.version, schema: registered.schema }));
    // The check runs on the broker's event loop: its work is bounded (about a second at most here).
    return checkCompatibility(this.#state.settings(topic).compatibility, schema, existing, { maxTotalComparisons: COMPATIBILITY_WORK_LIMIT });
  }

  /**
   * Registers `schema` as the next version of `subject` of `topic`, after checking it against the
   * topic's compatibility mode. Registering the latest version again writes nothing. Throws
   * SEALBUS_ERR_SCHEMA_INVALID or SEALBUS_ERR_SCHEMA_INCOMPATIBLE (with the problems in details).
   */
  register(actor: Actor, topic: string, subject: SchemaSubject, schema: unknown): Promise<RegisterResult> {
    this.#authorizeManage(actor, topic);
    const { validator } = checkSchemaDocument(schema);
    return this.#serial(async () => {
      await this.#log.sync();
      const latest = this.#state.latest(topic, subject);
      if (latest !== null && isDeepStrictEqual(latest.schema, schema)) return { schema: latest, created: false };
      this.#state.assertRoom(topic, subject);
      const report = this.#report(topic, subject, schema as JsonSchema);
      if (!report.compatible) {
        const first = report.problems[0]!;
        throw new SealbusError(
          'SEALBUS_ERR_SCHEMA_INCOMPATIBLE',
          { mode: report.mode, version: first.version, subject, topic, reason: `${first.pointer || '/'} ${first.reason}` },
          { details: { mode: report.mode, problems: report.problems.slice(0, 50) } },
        );
      }
      this.#audit.assertAvailable();
      const entry = { type: 'schema', topic, subject, schema: schema as JsonSchema, by: actor.name, at: this.#now() } as const;
      const appended = await this.#log.append(encodeRecords([{ key: Buffer.from(topic, 'utf8'), value: encodeRegistryEntry(entry) }]));
      const registered = this.#state.byId(appended.baseOffset + 1);
      if (registered === null) throw new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: 'schema registration' });
      this.#validators.put(registered.id, validator);
      await this.#audit.admin('sealbus.admin.schema.register', actor, { kind: 'topic', name: topic }, { action: 'manage-schemas', subject, version: registered.version, schemaId: registered.id });
      return { schema: registered, created: true };
    });
  }

  /** Changes a topic's compatibility mode and what happens to invalid records. */
  updateSettings(actor: Actor, topic: string, changes: Partial<SchemaSettings>): Promise<SchemaSettings> {
    this.#authorizeManage(actor, topic);
    return this.#serial(async () => {
      await this.#log.sync();
      // Switching back to reject drops the dead-letter topic unless it is given again.
      const dropped = changes.onInvalid === 'reject' && changes.deadLetterTopic === undefined ? { deadLetterTopic: null } : {};
      const next: SchemaSettings = { ...this.#state.settings(topic), ...changes, ...dropped };
      this.#checkDeadLetter(actor, topic, next);
      this.#audit.assertAvailable();
      const entry = { type: 'settings', topic, ...next, by: actor.name, at: this.#now() } as const;
      await this.#log.append(encodeRecords([{ key: Buffer.from(topic, 'utf8'), value: encodeRegistryEntry(entry) }]));
      await this.#audit.admin('sealbus.admin.schema.settings', actor, { kind: 'topic', name: topic }, {
        action: 'manage-schemas',
        compatibility: next.compatibility,
        onInvalid: next.onInvalid,
        deadLetterTopic: next.deadLetterTopic,
      });
      return this.#state.settings(topic);
    });
  }

  /**
   * A dead-letter topic must exist, be another ordinary topic, and be one the person setting it up
   * may produce to: a setting cannot become a way to write where one may not.
   */
  #checkDeadLetter(actor: Actor, topic: string, settings: SchemaSettings): void {
    const invalid = (reason: string): SealbusError => new SealbusError('SEALBUS_ERR_SCHEMA_SETTINGS_INVALID', { topic, reason }, { details: { reason } });
    if (settings.onInvalid === 'reject') {
      if (settings.deadLetterTopic !== null) throw invalid('a dead-letter topic applies only with onInvalid "dead-letter"');
      return;
    }
    const target = settings.deadLetterTopic;
    if (target === null) throw invalid('onInvalid "dead-letter" needs a deadLetterTopic');
    assertTopicName(target);
    if (target === topic) throw invalid('a topic cannot be its own dead-letter topic');
    if (target.startsWith('__')) throw invalid(`${target} is an internal topic`);
    this.#options.authorize(actor, 'produce', { kind: 'topic', name: target });
    try {
      this.#options.store.topicConfig(target);
    } catch {
      throw invalid(`the dead-letter topic ${target} does not exist; create it first`);
    }
  }

  #now(): number {
    return (this.#options.clock ?? Date.now)();
  }
}
