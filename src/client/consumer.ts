import { SealbusError } from '../errors/index.js';
import { decodeRecords, type LogRecord } from '../log/record-batch.js';
import { topicNameProblem } from '../log/topic-name.js';
import type { StartPosition } from '../protocol/index.js';
import { DEFAULT_RETRY, asSealbusError, backoffDelay, type RetryOptions } from './backoff.js';
import type { ConnectionOptions } from './connection-options.js';
import { ConsumerAssignment, type BufferedBatch } from './consumer-assignment.js';
import { toConsumedRecord, type ConsumedRecord } from './records.js';
import { SessionSource } from './session-source.js';
import type { Transport } from './transport.js';
import { transportFor } from './websocket-transport.js';

/** Where an assignment starts: the oldest record held, the next one produced, an offset, or a time. */
export type StartAt = 'earliest' | 'latest' | { readonly offset: number } | { readonly timestamp: number | Date };

/** A topic partition to read. */
export interface Assignment {
  readonly topic: string;
  readonly partition: number;
  /** Default 'latest'. */
  readonly start?: StartAt;
}

/** Options of `Consumer`; give `connection` (or, in tests, `transport`). */
export interface ConsumerOptions {
  readonly connection?: ConnectionOptions;
  readonly transport?: Transport;
  /** Bytes each partition may have received but not yet handed to the application (default 1 MiB). */
  readonly windowBytes?: number;
  /** Resubscription after a retriable failure (lost connection, broker restart). */
  readonly retry?: Partial<RetryOptions>;
  readonly requestTimeoutMs?: number;
  readonly random?: () => number;
}

function toStartPosition(start: StartAt | undefined): StartPosition {
  if (start === undefined || start === 'latest') return { kind: 'latest' };
  if (start === 'earliest') return { kind: 'earliest' };
  if ('offset' in start) return { kind: 'offset', offset: start.offset };
  return { kind: 'timestamp', timestamp: start.timestamp instanceof Date ? start.timestamp.getTime() : start.timestamp };
}

interface Current {
  readonly batch: BufferedBatch;
  readonly records: LogRecord[];
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
  #waiters: (() => void)[] = [];
  #failure: SealbusError | null = null;
  #failureThrown = false;
  #closed = false;
  #closedPromise: Promise<SealbusError | null>;
  #resolveClosed!: (error: SealbusError | null) => void;

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
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#random = options.random ?? Math.random;
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Starts reading these partitions (in the background; errors surface through the iteration). */
  assign(assignments: readonly Assignment[]): void {
    if (this.#closed) throw new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'the consumer is closed' });
    for (const { topic, partition, start } of assignments) {
      const problem = topicNameProblem(topic);
      if (problem !== null) throw new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason: problem });
      const key = `${partition}:${topic}`;
      if (this.#assignments.has(key)) {
        throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `${topic}/${partition} is already assigned` });
      }
      const assignment = new ConsumerAssignment(topic, partition, toStartPosition(start), this.#windowBytes, {
        deliver: (batch) => this.#deliver(batch),
        ended: (ended, error) => this.#ended(ended, error),
      });
      this.#assignments.set(key, assignment);
      void this.#subscribe(assignment);
    }
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

  /** Ends the iteration and the session. */
  async close(): Promise<void> {
    this.#shutdown(null);
    await this.#sessions.close();
  }

  /** Iterates the records of every assigned partition, each partition in offset order. */
  [Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    return {
      next: () => this.#next(),
      // Leaving a for-await loop (break, return, throw) closes the consumer.
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<ConsumedRecord>> {
    for (;;) {
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
        this.#current = { batch, records: decodeRecords(batch.bytes), index: 0 };
      }
      const current = this.#current;
      const { assignment } = current.batch;
      while (current.index < current.records.length) {
        const record = current.records[current.index++]!;
        if (assignment.position !== null && record.offset < assignment.position) continue; // before the requested offset
        assignment.position = record.offset + 1;
        if (current.index === current.records.length) this.#finish(current);
        return toConsumedRecord(assignment.topic, assignment.partition, record);
      }
      this.#finish(current);
    }
  }

  #finish(current: Current): void {
    if (this.#current === current) this.#current = null;
    current.batch.assignment.consumed(current.batch.bytes.length);
  }

  #deliver(batch: BufferedBatch): void {
    this.#queue.push(batch);
    this.#wake();
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
    if (!error.retriable || assignment.attempts + 1 >= this.#retry.maxAttempts) {
      this.#shutdown(error);
      void this.#sessions.close();
      return;
    }
    assignment.attempts++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#subscribe(assignment);
    }, backoffDelay(assignment.attempts, this.#retry, this.#random));
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
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
