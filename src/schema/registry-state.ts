/**
 * The schema registry's state, rebuilt from its log: the schemas by id, each topic's versions per
 * subject (the value, and optionally the key), and each topic's settings. Pure: entries are applied
 * in log order, so every broker that applies the same log holds the same registry.
 */
import { SealbusError } from '../errors/index.js';
import { COMPATIBILITY_MODES, type CompatibilityMode } from './compatibility.js';
import type { JsonSchema } from './schema-document.js';

export type SchemaSubject = 'value' | 'key';
export const SCHEMA_SUBJECTS: readonly SchemaSubject[] = Object.freeze(['value', 'key'] as const);

/** What happens to a record that does not match its topic's schema. */
export type InvalidRecordAction = 'reject' | 'dead-letter';

export interface SchemaSettings {
  readonly compatibility: CompatibilityMode;
  readonly onInvalid: InvalidRecordAction;
  /** Where invalid records go with `onInvalid: dead-letter`. */
  readonly deadLetterTopic: string | null;
}

export const DEFAULT_SCHEMA_SETTINGS: SchemaSettings = Object.freeze({ compatibility: 'BACKWARD', onInvalid: 'reject', deadLetterTopic: null });

export interface RegisteredSchema {
  /** Unique across the registry, never reused. */
  readonly id: number;
  readonly topic: string;
  readonly subject: SchemaSubject;
  /** 1, 2, ... per topic and subject. */
  readonly version: number;
  readonly schema: JsonSchema;
  readonly registeredBy: string;
  /** ms since the epoch. */
  readonly registeredAt: number;
}

/** One record of the registry's log. */
export type RegistryEntry =
  | { readonly type: 'schema'; readonly topic: string; readonly subject: SchemaSubject; readonly schema: JsonSchema; readonly by: string; readonly at: number }
  | ({ readonly type: 'settings'; readonly topic: string; readonly by: string; readonly at: number } & SchemaSettings);

export const REGISTRY_LIMITS = Object.freeze({
  /** Versions of one subject of one topic. */
  maxVersions: 1000,
  /** Schemas in the whole registry (they are all held in memory). */
  maxSchemas: 100_000,
});

interface TopicSchemas {
  settings: SchemaSettings;
  readonly versions: Record<SchemaSubject, RegisteredSchema[]>;
}

export class RegistryState {
  readonly #byId = new Map<number, RegisteredSchema>();
  readonly #topics = new Map<string, TopicSchemas>();

  get size(): number {
    return this.#byId.size;
  }

  #topic(name: string): TopicSchemas {
    let found = this.#topics.get(name);
    if (found === undefined) this.#topics.set(name, (found = { settings: DEFAULT_SCHEMA_SETTINGS, versions: { value: [], key: [] } }));
    return found;
  }

  /**
   * Applies the entry stored at `id` (its offset in the log, plus one). A schema beyond the limits is
   * refused (thrown) and takes no version; registration checks the limits first, so only a log
   * written around the broker gets there.
   */
  apply(id: number, entry: RegistryEntry): void {
    const topic = this.#topic(entry.topic);
    if (entry.type === 'settings') {
      topic.settings = Object.freeze({ compatibility: entry.compatibility, onInvalid: entry.onInvalid, deadLetterTopic: entry.deadLetterTopic });
      return;
    }
    this.assertRoom(entry.topic, entry.subject);
    const versions = topic.versions[entry.subject];
    const registered: RegisteredSchema = Object.freeze({
      id,
      topic: entry.topic,
      subject: entry.subject,
      version: versions.length + 1,
      schema: entry.schema,
      registeredBy: entry.by,
      registeredAt: entry.at,
    });
    versions.push(registered);
    this.#byId.set(id, registered);
  }

  /** Throws SEALBUS_ERR_SCHEMA_INVALID when one more version of `subject` would pass a limit. */
  assertRoom(topic: string, subject: SchemaSubject): void {
    if (this.#byId.size >= REGISTRY_LIMITS.maxSchemas) {
      throw new SealbusError('SEALBUS_ERR_SCHEMA_INVALID', { reason: `the registry holds ${REGISTRY_LIMITS.maxSchemas} schemas, its limit` });
    }
    if ((this.#topics.get(topic)?.versions[subject].length ?? 0) >= REGISTRY_LIMITS.maxVersions) {
      throw new SealbusError('SEALBUS_ERR_SCHEMA_INVALID', { reason: `the ${subject} schema of topic ${topic} has ${REGISTRY_LIMITS.maxVersions} versions, its limit` });
    }
  }

  byId(id: number): RegisteredSchema | null {
    return this.#byId.get(id) ?? null;
  }

  /** Oldest first. */
  versions(topic: string, subject: SchemaSubject): readonly RegisteredSchema[] {
    return this.#topics.get(topic)?.versions[subject] ?? [];
  }

  latest(topic: string, subject: SchemaSubject): RegisteredSchema | null {
    return this.versions(topic, subject).at(-1) ?? null;
  }

  settings(topic: string): SchemaSettings {
    return this.#topics.get(topic)?.settings ?? DEFAULT_SCHEMA_SETTINGS;
  }

  /** Whether any schema governs `topic` (the produce path's fast check). */
  governs(topic: string): boolean {
    const found = this.#topics.get(topic);
    return found !== undefined && (found.versions.value.length > 0 || found.versions.key.length > 0);
  }
}

export function isCompatibilityMode(value: unknown): value is CompatibilityMode {
  return typeof value === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(value);
}
