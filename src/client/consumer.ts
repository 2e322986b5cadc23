import { SealbusError } from '../errors/index.js';
import { decodeRecords, type LogRecord } from '../log/record-batch.js';
import { topicNameProblem } from '../log/topic-name.js';
import { DEFAULT_RETRY, asSealbusError, retryDelay, type RetryOptions } from './backoff.js';

export type { Assignment, ConsumerOptions, StartAt } from './consumer-options.js';
import { ConsumerAssignment, type BufferedBatch } from './consumer-assignment.js';
import { clientKey } from './admin-keys.js';
import { ConsumerDecryption, type OpenedRecords } from './consumer-decryption.js';
import { ConsumerSchemas, isDeadLetterMarker, openChecked } from './consumer-schemas.js';
import { schemaById } from './admin-schemas.js';
import { toStartPosition, type Assignment, type ConsumerOptions, type StartAt } from './consumer-options.js';
import { GroupMember, type TopicPartition } from './group-member.js';
import { httpsClient } from './https-client.js';
import { toConsumedRecord, type ConsumedRecord } from './records.js';
import { SessionSource } from './session-source.js';
import { transportFor } from './websocket-transport.js';

interface Current {
  readonly batch: BufferedBatch;
  readonly records: readonly LogRecord[];
  index: number;
}

/**
 * Reads assigned topic partitions over one WebSocket, as an async iterable. Batches are checked
 * (`verifyBatch`) before any record is handed out; credit flows back as the application consumes,
 * so memory stays bounded however slow the loop is. A lost connection is resubscribed from the
 * next offset, without gaps or repeats. A non-retriable error ends the iteration by throwing it.
 *
 * @example
 * const consumer = new Consumer({ connection: connectionOptionsFromEnv() });
 * consumer.assign([{ topic: 'orders', partition: 0, start: 'earliest' }]);
 * for await (const record of consumer) console.log(record.offset, record.value?.toString());
 */
export class Consumer implements AsyncIterable<ConsumedRecord> {
  readonly #sessions: SessionSource;
  readonly #assignments = new Map<string, ConsumerAssignment>();
  readonly #queue: BufferedBatch[] = [];
  readonly #windowBytes: number;
  readonly #retry: RetryOptions;
  readonly #random: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  #current: Current | null = null;
  /** The record handed out last: it counts as processed once the loop asks for the next one. */
  #inHand: { assignment: ConsumerAssignment; offset: number } | null = null;
  #inHandWaiters: (() => void)[] = [];
  /** close() was called: nothing more is handed out. */
  #closing = false;
  readonly #member: GroupMember | null;
  readonly #resetTo: 'earliest' | 'latest';
  #waiters: (() => void)[] = [];
  #failure: SealbusError | null = null;
  #failureThrown = false;
  #closed = false;
  #closedPromise: Promise<SealbusError | null>;
  #resolveClosed!: (error: SealbusError | null) => void;
  readonly #decryption: ConsumerDecryption | null;
  /** Validates what was decrypted against the schema each record names (encrypted topics only). */
  #schemas: ConsumerSchemas | null = null;
  /** Sealed batches open side by side (in worker threads) but are queued in the order they came. */
  #opening: Promise<void> = Promise.resolve();

  constructor(options: ConsumerOptions) {
    const transport = options.transport ?? (options.connection === undefined ? null : transportFor(options.connection));
    if (transport === null) {
      throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'consumer options', key: 'connection', reason: 'or transport is required' });
    }
    this.#sessions = new SessionSource(transport, options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs });
    this.#windowBytes = options.windowBytes ?? 1024 * 1024;
    if (!Number.isInteger(this.#windowBytes) || this.#windowBytes < 1 || this.#windowBytes > 0xffff_ffff) {
      throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'consumer options', key: 'windowBytes', reason: 'must be an integer in [1, 2^32 - 1]' });
    }
    this.#retry = Object.assign({}, DEFAULT_RETRY, options.retry);
    this.#random = options.random ?? Math.random;
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#resetTo = options.resetTo ?? 'latest';
    this.#member = options.group === undefined ? null : this.#groupMember(options, options.group);
    this.#decryption = null;
    if (options.decryption !== undefined) {
      if (options.connection === undefined) {
        throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'consumer options', key: 'decryption', reason: 'needs connection (to look up signing keys)' });
      }
      const http = httpsClient(options.connection);
      this.#decryption = new ConsumerDecryption(options.decryption, (keyId) => clientKey(http, keyId));
      this.#schemas = new ConsumerSchemas((id) => schemaById(http, id));
    }
  }

  #groupMember(options: ConsumerOptions, group: string): GroupMember {
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    return new GroupMember(
      this.#sessions,
      {
        group,
        strategy: options.strategy ?? 'sticky',
        sessionTimeoutMs,
        rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? sessionTimeoutMs,
        resetTo: this.#resetTo,
        autoCommitIntervalMs: options.autoCommit === false ? null : (options.autoCommitIntervalMs ?? 5_000),
        listener: options.onRebalance ?? {},
        retry: this.#retry,
        random: this.#random,
      },
      {
        start: (topic, partition, from) => this.#assignOne(topic, partition, from === null ? this.#resetTo : { offset: from }),
        stop: async (topic, partition) => {
          const assignment = this.#assignments.get(`${partition}:${topic}`);
          if (assignment === undefined) return null;
          await this.unassign(topic, partition); // nothing more of it is handed out
          // The record the loop holds is finished before the partition moves on, so that two members
          // never process one partition at the same time (a stuck loop meets the rebalance timeout).
          if (this.#inHand?.assignment === assignment) await new Promise<void>((resolve) => this.#inHandWaiters.push(resolve));
          return assignment.processed;
        },
        offset: (topic, partition, kind) => {
          const assignment = this.#assignments.get(`${partition}:${topic}`);
          return (kind === 'processed' ? assignment?.processed : assignment?.position) ?? null;
        },
        fail: (error) => {
          this.#shutdown(error);
          void this.#sessions.close();
        },
      },
    );
  }

  /**
   * Joins the consumer group (`group` option) for these topics; records of the partitions the
   * broker assigns to this member arrive through the iteration.
   *
   * @example
   * const consumer = new Consumer({ connection: connectionOptionsFromEnv(), group: 'billing', resetTo: 'earliest' });
   * consumer.subscribe(['orders']);
   * for await (const record of consumer) await bill(record); // committed after processing
   */
  subscribe(topics: readonly string[]): void {
    if (this.#member === null) {
      throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'subscribe() needs the group option; use assign() without a group' });
    }
    if (this.#closed) throw new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'the consumer is closed' });
    if (topics.length === 0) throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'subscribe() needs at least one topic' });
    for (const topic of topics) {
      const problem = topicNameProblem(topic);
      if (problem !== null) throw new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason: problem });
    }
    this.#member.subscribe(topics);
  }

  /**
   * Commits, for the group, every record the iteration has handed out so far (call it after
   * processing them). Without `autoCommit`, this is the only commit besides rebalances.
   */
  async commit(): Promise<void> {
    if (this.#member === null) throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'commit() needs the group option' });
    this.#markProcessed();
    await this.#member.commit('position');
  }

  /** The partitions the group assigned to this consumer (empty without a group). */
  assignment(): TopicPartition[] {
    return this.#member?.assignment ?? [];
  }

  /** Starts reading these partitions (in the background; errors surface through the iteration). */
  assign(assignments: readonly Assignment[]): void {
    if (this.#closed) throw new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'the consumer is closed' });
    if (this.#member !== null) throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'a group consumer gets its partitions from the group: use subscribe()' });
    for (const { topic, partition } of assignments) {
      const problem = topicNameProblem(topic);
      if (problem !== null) throw new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason: problem });
      if (this.#assignments.has(`${partition}:${topic}`)) {
        throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `${topic}/${partition} is already assigned` });
      }
    }
    for (const { topic, partition, start } of assignments) this.#assignOne(topic, partition, start);
  }

  #assignOne(topic: string, partition: number, start: StartAt | undefined): void {
    if (this.#closed || this.#assignments.has(`${partition}:${topic}`)) return;
    const assignment = new ConsumerAssignment(topic, partition, toStartPosition(start), this.#windowBytes, {
      deliver: (batch) => this.#deliver(batch),
      ended: (ended, error) => this.#ended(ended, error),
    });
    this.#assignments.set(`${partition}:${topic}`, assignment);
    void this.#subscribe(assignment);
  }

  /** Stops reading a partition; records of it still buffered are dropped. */
  async unassign(topic: string, partition: number): Promise<void> {
    const assignment = this.#assignments.get(`${partition}:${topic}`);
    if (assignment === undefined) return;
    this.#assignments.delete(`${partition}:${topic}`);
    this.#queue.splice(0, this.#queue.length, ...this.#queue.filter((batch) => batch.assignment !== assignment));
    if (this.#current?.batch.assignment === assignment) this.#current = null;
    await assignment.unsubscribe();
  }

  /** The next offset the iteration yields for a partition, or null before its subscription starts. */
  position(topic: string, partition: number): number | null {
    return this.#assignments.get(`${partition}:${topic}`)?.position ?? null;
  }

  /** Records after the position that the broker holds (from the last high watermark seen). */
  lag(topic: string, partition: number): number | null {
    const assignment = this.#assignments.get(`${partition}:${topic}`);
    if (assignment === undefined || assignment.position === null) return null;
    return Math.max(0, assignment.highWatermark - assignment.position);
  }

  /** Resolves when the consumer is closed: with the error that closed it, or null after `close()`. */
  closed(): Promise<SealbusError | null> {
    return this.#closedPromise;
  }

  /**
   * Ends the iteration and the session: no record is handed out after this call. A group consumer
   * then lets the loop finish the record it holds, commits what it processed, and leaves the group,
   * so its partitions move on without being processed twice at once.
   */
  async close(): Promise<void> {
    await this.#close(false);
  }

  async #close(fromLoop: boolean): Promise<void> {
    this.#closing = true;
    this.#wake();
    // Leaving the loop (break, throw) abandons the record in hand: it was not necessarily processed.
    if (fromLoop) this.#inHand = null;
    if (this.#member !== null && this.#inHand !== null && !this.#closed) {
      await new Promise<void>((resolve) => this.#inHandWaiters.push(resolve));
    }
    await this.#member?.close();
    this.#shutdown(null);
    await this.#sessions.close();
  }

  /** Iterates the records of every assigned partition, each partition in offset order. */
  [Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    return {
      next: () => this.#next(),
      // Leaving a for-await loop (break, return, throw) closes the consumer.
      return: async () => {
        await this.#close(true);
        return { done: true, value: undefined };
      },
    };
  }

  #markProcessed(): void {
    if (this.#inHand === null) return;
    this.#inHand.assignment.processed = this.#inHand.offset + 1;
    this.#inHand = null;
    this.#releaseInHandWaiters();
  }

  #releaseInHandWaiters(): void {
    const waiters = this.#inHandWaiters;
    this.#inHandWaiters = [];
    for (const resolve of waiters) resolve();
  }

  async #next(): Promise<IteratorResult<ConsumedRecord>> {
    this.#markProcessed();
    for (;;) {
      if (this.#closing && this.#failure === null) return { done: true, value: undefined };
      const record = this.#take();
      if (record !== null) return { done: false, value: record };
      if (this.#failure !== null && !this.#failureThrown) {
        this.#failureThrown = true;
        throw this.#failure;
      }
      if (this.#closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The next record at or after its partition's position; finished batches return their credit. */
  #take(): ConsumedRecord | null {
    for (;;) {
      if (this.#current === null) {
        const batch = this.#queue.shift();
        if (batch === undefined) return null;
        this.#current = { batch, records: batch.opened?.records ?? decodeRecords(batch.bytes), index: 0 };
      }
      const current = this.#current;
      const { assignment, opened } = current.batch;
      if (opened?.error != null && this.#decryption?.policy === 'skip') {
        const last = current.records[current.records.length - 1];
        if (last !== undefined) assignment.position = Math.max(assignment.position ?? 0, last.offset + 1);
        this.#finish(current);
        continue;
      }
      while (current.index < current.records.length) {
        const record = current.records[current.index++]!;
        if (assignment.position !== null && record.offset < assignment.position) continue; // before the requested offset
        assignment.position = record.offset + 1;
        if (isDeadLetterMarker(record)) continue; // the record went to a dead-letter topic (docs/schemas.md)
        this.#inHand = { assignment, offset: record.offset };
        if (current.index === current.records.length) this.#finish(current);
        return toConsumedRecord(assignment.topic, assignment.partition, record, opened);
      }
      this.#finish(current);
    }
  }

  #finish(current: Current): void {
    if (this.#current === current) this.#current = null;
    current.batch.assignment.consumed(current.batch.bytes.length);
  }

  #deliver(batch: BufferedBatch): void {
    const decryption = this.#decryption;
    if (decryption === null) {
      this.#queue.push(batch);
      this.#wake();
      return;
    }
    // Opening starts now (a malformed batch rejects, not throws); its result is taken in turn below.
    const opening = openChecked(decryption, this.#schemas, batch.assignment.topic, decodeRecords(batch.bytes));
    opening.catch(() => {}); // not an unhandled rejection while earlier batches are still opening
    this.#opening = this.#opening.then(async () => {
      let opened: OpenedRecords;
      try {
        opened = await opening;
      } catch (err) {
        // Not the batch's fault (key directory unreachable, a worker thread died): no policy applies.
        this.#shutdown(asSealbusError(err));
        void this.#sessions.close();
        return;
      }
      if (this.#closed || !this.#isAssigned(batch.assignment)) return;
      batch.opened = opened;
      if (opened.error !== null && decryption.policy === 'throw') {
        this.#shutdown(opened.error);
        void this.#sessions.close();
        return;
      }
      this.#queue.push(batch);
      this.#wake();
    });
  }

  async #subscribe(assignment: ConsumerAssignment): Promise<void> {
    if (this.#closed || !this.#isAssigned(assignment)) return;
    try {
      const session = await this.#sessions.get();
      if (this.#closed || !this.#isAssigned(assignment)) return;
      await assignment.subscribe(session);
    } catch (err) {
      this.#ended(assignment, asSealbusError(err));
    }
  }

  #ended(assignment: ConsumerAssignment, error: SealbusError): void {
    if (this.#closed || !this.#isAssigned(assignment)) return;
    if (this.#member !== null && error.code === 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE') {
      // The group's committed offset fell out of retention: start again where resetTo says.
      const { topic, partition } = assignment;
      void this.unassign(topic, partition).then(() => this.#assignOne(topic, partition, this.#resetTo));
      return;
    }
    if (!error.retriable || assignment.attempts + 1 >= this.#retry.maxAttempts) {
      this.#shutdown(error);
      void this.#sessions.close();
      return;
    }
    assignment.attempts++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#subscribe(assignment);
    }, retryDelay(error, assignment.attempts, this.#retry, this.#random));
    this.#timers.add(timer);
  }

  #isAssigned(assignment: ConsumerAssignment): boolean {
    return this.#assignments.get(`${assignment.partition}:${assignment.topic}`) === assignment;
  }

  #shutdown(error: SealbusError | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure = error;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#resolveClosed(error);
    this.#releaseInHandWaiters();
    this.#wake();
    void this.#decryption?.close();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
