import { createHash } from 'node:crypto';
import { SealbusError } from '../errors/index.js';
import {
  assertTopicName,
  encodeRecords,
  type AppendRequest,
  type AppendResult,
  type EncodedRecords,
  type LogStore,
  type PartitionState,
  type PlacedBatch,
  type ProducerStamp,
  type ReadResult,
  type TopicConfigInput,
  type TopicDescription,
} from '../log/index.js';
import { RecordRouter, checkBatchLimits, withHeaders, type ProduceRecord } from './produce-routing.js';

export type { ProduceRecord } from './produce-routing.js';
import type { StartPosition } from '../protocol/index.js';
import { checkAppendRequest } from '../log/append-checks.js';
import { describeResource, type AccessContext, type Action, type Actor, type Authorizer, type Decision, type Resource } from './access.js';
import type { EnvelopeGuard } from './envelope-guard.js';
import type { DeadLettered, SchemaGuard } from './schema-guard.js';
import { encryptionAttributes, topicEncryption } from './topic-encryption.js';
import { silentAuditTrail, type AuditTrail } from './audit-trail.js';
import { ConsumerGroups } from './consumer-groups.js';
import { Subscription, type SubscriptionOptions } from './subscription.js';
import type { BrokerLimits, BrokerOptions, CreateTopicInput } from './broker-options.js';

export type { BrokerLimits, BrokerOptions, CreateTopicInput } from './broker-options.js';

/** Where a record produced through the HTTP API went; `deadLetter` when it did not match its schema. */
export interface PlacedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly deadLetter?: DeadLettered;
}

/** Where a subscription starts: the protocol's own type, so the transport passes it through unchanged. */
export type { StartPosition } from '../protocol/index.js';

/**
 * The broker service: topics, produce, fetch and subscriptions, with one authorization decision per
 * request or batch. It knows nothing of HTTP or WebSocket; `src/server` adapts transports onto it.
 * Authorization comes before existence checks, so a client cannot learn which topics exist by
 * probing names it may not see.
 */
export class Broker {
  readonly store: LogStore;
  readonly limits: BrokerLimits;
  readonly #authorizer: Authorizer;
  readonly #topicDefaults: Partial<TopicConfigInput>;
  readonly #router = new RecordRouter();
  /** Consumer groups: join, heartbeat, commit, describe, reset, each behind its authorization. */
  readonly groups: ConsumerGroups;
  readonly audit: AuditTrail;
  readonly #envelopes: EnvelopeGuard | null;
  readonly #schemas: SchemaGuard | null;

  constructor(options: BrokerOptions) {
    this.#envelopes = options.envelopes ?? null;
    this.#schemas = options.schemas ?? null;
    this.store = options.store;
    this.limits = options.limits;
    this.#authorizer = options.authorizer;
    this.#topicDefaults = options.topicDefaults ?? {};
    this.audit = options.audit ?? silentAuditTrail();
    this.groups = new ConsumerGroups(
      Object.assign({}, options.groups, { store: options.store }),
      (actor, action, resource) => this.authorize(actor, action, resource),
      (actor, action, resource) => this.isAllowed(actor, action, resource),
      this.audit,
    );
  }

  /** Stops the broker's timers (group heartbeats); the store is closed by its owner. */
  close(): void {
    this.groups.coordinator.close();
    this.#schemas?.close();
  }

  /** Whether `actor` may do `action` on `resource`, for filtering lists (never throws). */
  isAllowed(actor: Actor, action: Action, resource: Resource): boolean {
    return this.#authorizer.authorize(actor, action, resource).allowed;
  }

  /**
   * Throws SEALBUS_ERR_FORBIDDEN unless `actor` may do `action` on `resource`; returns the decision
   * (its rule goes into data-access events). Every decision is handed to the audit trail.
   */
  authorize(actor: Actor, action: Action, resource: Resource, context?: AccessContext): Decision {
    const decision = this.#authorizer.authorize(actor, action, resource, context);
    this.audit.decision(actor, action, resource, decision);
    if (!decision.allowed) {
      throw new SealbusError(
        'SEALBUS_ERR_FORBIDDEN',
        { principal: actor.name, action, resource: describeResource(resource) },
        { details: { action, rule: decision.rule } },
      );
    }
    return decision;
  }

  #topic(actor: Actor, action: Action, name: string, context?: AccessContext): Decision {
    assertTopicName(name);
    return this.authorize(actor, action, { kind: 'topic', name }, context);
  }

  async createTopic(actor: Actor, input: CreateTopicInput): Promise<TopicDescription> {
    this.#topic(actor, 'create', input.name);
    this.audit.assertAvailable();
    const config: TopicConfigInput = Object.assign({}, this.#topicDefaults, {
      partitions: input.partitions ?? this.#topicDefaults.partitions ?? 1,
      ...(input.retentionMs !== undefined && { retentionMs: input.retentionMs }),
      ...(input.retentionBytes !== undefined && { retentionBytes: input.retentionBytes }),
      ...(input.maxRecordBytes !== undefined && { maxRecordBytes: input.maxRecordBytes }),
      ...(input.segmentBytes !== undefined && { segmentBytes: input.segmentBytes }),
      attributes: encryptionAttributes(input.encryption, input.recipients),
    });
    const created = await this.store.createTopic(input.name, config);
    this.groups.coordinator.topicChanged(input.name);
    await this.audit.admin('sealbus.admin.topic.create', actor, { kind: 'topic', name: input.name }, { action: 'create', partitions: created.config.partitions });
    return created;
  }

  /** Lists only the topics the actor may describe. */
  async listTopics(actor: Actor): Promise<TopicDescription[]> {
    const topics = await this.store.listTopics();
    // Internal topics (`__`, e.g. the revocation log) are the broker's own: never listed, never reachable.
    return topics.filter((t) => !t.name.startsWith('__') && this.isAllowed(actor, 'describe', { kind: 'topic', name: t.name }));
  }

  async describeTopic(actor: Actor, name: string): Promise<TopicDescription> {
    this.#topic(actor, 'describe', name);
    return this.store.describeTopic(name);
  }

  async deleteTopic(actor: Actor, name: string): Promise<void> {
    this.#topic(actor, 'delete', name);
    this.audit.assertAvailable();
    await this.store.deleteTopic(name);
    this.groups.coordinator.topicChanged(name);
    await this.audit.admin('sealbus.admin.topic.delete', actor, { kind: 'topic', name }, { action: 'delete' });
  }

  /**
   * What a producer needs to route and stamp records: the partition count, the record size limit,
   * and the ids of the topic's current schemas (every record must carry them).
   */
  metadata(actor: Actor, name: string): { partitions: number; maxRecordBytes: number; valueSchemaId?: number; keySchemaId?: number } {
    this.#topic(actor, 'describe', name);
    const config = this.store.topicConfig(name);
    const value = this.#schemas?.registry.latest(name, 'value') ?? null;
    const key = this.#schemas?.registry.latest(name, 'key') ?? null;
    return { partitions: config.partitions, maxRecordBytes: config.maxRecordBytes, ...(value !== null && { valueSchemaId: value.id }), ...(key !== null && { keySchemaId: key.id }) };
  }

  /**
   * A producer id is no right in itself: every batch it stamps is authorized on its topic. Any
   * authenticated principal may get one; a name is scoped to the principal.
   */
  async initProducer(actor: Actor, name: string | null): Promise<{ producerId: number; epoch: number }> {
    if (name === null || name === '') return this.store.initProducer(null);
    // Names are scoped by principal so that nobody can fence another principal's producer. The key is
    // a hash of the (principal, name) pair: unambiguous whatever characters either holds, and of a
    // fixed length the store accepts.
    const scoped = createHash('sha256').update(JSON.stringify([actor.name, name])).digest('base64url');
    return this.store.initProducer(`p:${scoped}`);
  }

  /** Appends one batch (as sent over WebSocket); resolves once it is durable. */
  async produceBatch(
    actor: Actor,
    topic: string,
    partition: number,
    records: EncodedRecords,
    producer?: ProducerStamp,
  ): Promise<AppendResult> {
    // The policy may depend on whether the batch is encrypted: judged on what the batch claims,
    // then again if the full check finds otherwise.
    const claimed = this.#envelopes?.claimsEnvelope(records) ?? false;
    let { rule } = this.#topic(actor, 'produce', topic, { encrypted: claimed });
    checkBatchLimits(records, this.limits);
    const encrypted = this.#checkEnvelope(actor, topic, records, claimed);
    if (encrypted !== claimed) ({ rule } = this.#topic(actor, 'produce', topic, { encrypted }));
    this.audit.assertAvailable();
    const checked = this.#schemas === null ? records : (await this.#schemas.check(actor, topic, partition, records, encrypted)).records;
    return this.#appendAudited(actor, { topic, partition, rule }, producer === undefined ? { records: checked } : { records: checked, producer });
  }

  /**
   * Appends a batch and records its data event; resolves once both are durable (or, as the trail's
   * mode says, the append alone). When the reply waits for the event (fail-closed, one event per
   * batch), the event is started as soon as the store has placed the batch (AppendRequest.onPlaced),
   * so that its fsync overlaps the log's instead of following it. A store that does not place
   * batches early (JetStream), and a retry of a stored batch (never placed), take the sequential
   * path: the event after the append. Failures: an append that fails after placement fails the
   * produce with the store's error (the event, if written, records an unacknowledged attempt); an
   * event that fails fails the produce with SEALBUS_ERR_AUDIT_UNAVAILABLE, the batch being stored,
   * as on the sequential path.
   */
  async #appendAudited(actor: Actor, where: { readonly topic: string; readonly partition: number; readonly rule: string }, request: AppendRequest): Promise<AppendResult> {
    const bytes = request.records.bytes.length;
    if (!this.audit.awaitsEachProduce(actor)) {
      const result = await this.store.append(where.topic, where.partition, request);
      await this.audit.produced(actor, where, result, bytes);
      return result;
    }
    let event = null as Promise<void> | null;
    const onPlaced = (placed: PlacedBatch): void => {
      if (event === null) event = this.audit.beginProduced(actor, where, placed, bytes);
    };
    // Not `{ ...request, onPlaced }`: such an object outlives young-generation collections (see actorData).
    const placing: AppendRequest = request.producer === undefined ? { records: request.records, onPlaced } : { records: request.records, producer: request.producer, onPlaced };
    const result = await this.store.append(where.topic, where.partition, placing);
    await this.audit.produced(actor, where, result, bytes, event);
    return result;
  }

  /**
   * Whether the batch is a valid envelope for `topic`; throws what the envelope guard throws.
   * `claimed`: what claimsEnvelope said of it (one walk over its headers per batch, not two).
   */
  #checkEnvelope(actor: Actor, topic: string, records: EncodedRecords, claimed: boolean): boolean {
    const config = this.store.topicConfig(topic);
    const settings = topicEncryption(config);
    if (this.#envelopes === null) {
      if (settings.mode === 'required') throw new SealbusError('SEALBUS_ERR_ENVELOPE_REQUIRED', { topic });
      return false;
    }
    if (settings.mode === 'none' && !claimed) return false;
    // The same checks the store makes, before the guard decodes anything.
    checkAppendRequest(topic, config, { records });
    return this.#envelopes.check(actor, topic, records, settings);
  }

  /**
   * Appends records produced through the HTTP API: routed by explicit partition, else by key
   * (murmur2, as Kafka), else round-robin; one batch per partition, appended concurrently.
   * Returns each record's partition and offset, in the order given.
   */
  async produceRecords(actor: Actor, topic: string, records: readonly ProduceRecord[]): Promise<PlacedRecord[]> {
    // JSON records carry no binary envelope: what comes this way is plaintext.
    const { rule } = this.#topic(actor, 'produce', topic, { encrypted: false });
    if (topicEncryption(this.store.topicConfig(topic)).mode === 'required') throw new SealbusError('SEALBUS_ERR_ENVELOPE_REQUIRED', { topic });
    this.audit.assertAvailable();
    // Records the broker builds carry the current schema ids as the SDK's do (unless they name one).
    const stamped = withHeaders(records, this.#schemas?.stampFor(topic) ?? []);
    const groups = this.#router.group(topic, stamped, this.store.topicConfig(topic).partitions);
    const placed = new Array<PlacedRecord>(records.length);
    await Promise.all(
      [...groups].map(async ([partition, group]) => {
        let encoded = encodeRecords(group.records);
        checkBatchLimits(encoded, this.limits);
        let deadLettered: ReadonlyMap<number, DeadLettered> | undefined;
        if (this.#schemas !== null) ({ records: encoded, deadLettered } = await this.#schemas.check(actor, topic, partition, encoded, false));
        const result = await this.#appendAudited(actor, { topic, partition, rule }, { records: encoded });
        group.indexes.forEach((index, i) => {
          const letter = deadLettered?.get(i);
          placed[index] = { partition, offset: result.baseOffset + i, ...(letter !== undefined && { deadLetter: letter }) };
        });
      }),
    );
    return placed;
  }

  /**
   * Reads from an offset; when nothing is there yet, waits up to `waitMs` (capped by the long-poll
   * limit) for data to arrive, without polling.
   */
  async fetch(
    actor: Actor,
    topic: string,
    partition: number,
    offset: number,
    options: { maxBytes?: number; maxRecords?: number; waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<ReadResult> {
    let { rule } = this.#topic(actor, 'consume', topic);
    this.audit.assertAvailable();
    const readOptions = {
      maxBytes: Math.min(options.maxBytes ?? this.limits.fetchMaxBytes, this.limits.fetchMaxBytes),
      ...(options.maxRecords !== undefined && { maxRecords: options.maxRecords }),
    };
    const first = await this.store.read(topic, partition, offset, readOptions);
    const waitMs = Math.min(options.waitMs ?? 0, this.limits.longPollMaxMs);
    if (first.batches.length > 0 || waitMs <= 0) {
      await this.audit.consumed(actor, { topic, partition, rule }, first.batches);
      return first;
    }
    const timeout = AbortSignal.timeout(waitMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    try {
      await this.store.waitForData(topic, partition, offset, signal);
    } catch (err) {
      if (!signal.aborted) throw err;
      return first;
    }
    // The wait may have lasted: a right withdrawn meanwhile (a policy reload) holds for what it returns.
    ({ rule } = this.#topic(actor, 'consume', topic));
    const result = await this.store.read(topic, partition, offset, readOptions);
    await this.audit.consumed(actor, { topic, partition, rule }, result.batches);
    return result;
  }

  async offsetForTimestamp(actor: Actor, topic: string, partition: number, timestamp: number): Promise<number> {
    this.#topic(actor, 'consume', topic);
    return this.store.offsetForTimestamp(topic, partition, timestamp);
  }

  /** Turns a start position into an offset. */
  async resolveStart(topic: string, partition: number, start: StartPosition): Promise<number> {
    switch (start.kind) {
      case 'offset':
        return start.offset;
      case 'timestamp':
        return this.store.offsetForTimestamp(topic, partition, start.timestamp);
      case 'earliest':
      case 'latest': {
        const state = await this.#partitionState(topic, partition);
        return start.kind === 'earliest' ? state.logStartOffset : state.highWatermark;
      }
    }
  }

  async #partitionState(topic: string, partition: number): Promise<PartitionState> {
    const description = await this.store.describeTopic(topic);
    const state = description.partitions[partition];
    if (state === undefined) {
      throw new SealbusError('SEALBUS_ERR_PARTITION_NOT_FOUND', { topic, partition, partitions: description.partitions.length });
    }
    return state;
  }

  /**
   * Prepares pushing a partition to a consumer (call `start()` on the result once the client knows
   * the subscription). Authorization is checked here and by `gate` before each push.
   */
  async subscribe(
    actor: Actor,
    options: Omit<SubscriptionOptions, 'store' | 'offset' | 'maxReadBytes'> & { start: StartPosition },
  ): Promise<{ subscription: Subscription; startOffset: number; highWatermark: number }> {
    const { rule } = this.#topic(actor, 'consume', options.topic);
    this.audit.assertAvailable();
    const startOffset = await this.resolveStart(options.topic, options.partition, options.start);
    const state = await this.#partitionState(options.topic, options.partition);
    if (startOffset < state.logStartOffset || startOffset > state.highWatermark) {
      throw new SealbusError('SEALBUS_ERR_OFFSET_OUT_OF_RANGE', {
        offset: startOffset,
        topic: options.topic,
        partition: options.partition,
        logStartOffset: state.logStartOffset,
        highWatermark: state.highWatermark,
      });
    }
    const { deliver, topic, partition } = options;
    const subscription = new Subscription(
      Object.assign({}, options, {
        // What is pushed is recorded first: in closed mode nothing reaches the consumer unrecorded.
        deliver: async (batches: readonly Buffer[], highWatermark: number) => {
          await this.audit.consumed(actor, { topic, partition, rule }, batches);
          await deliver(batches, highWatermark);
        },
        store: this.store,
        offset: startOffset,
        maxReadBytes: this.limits.fetchMaxBytes,
      }),
    );
    return { subscription, startOffset, highWatermark: state.highWatermark };
  }
}
