import type { NatsConnection } from '@nats-io/transport-node';
import type { SealbusError } from '../../errors/index.js';
import { OffsetWaiters } from '../offset-waiters.js';
import type { AppendRequest, AppendResult, PartitionState, TopicConfig } from '../types.js';
import { dataInvalid } from './batch-message.js';
import type { StoreNames } from './names.js';
import { PartitionAppender, type PublishSeam } from './partition-appender.js';
import { PartitionStream, type MessageMeta, type StreamClients } from './partition-stream.js';
import { PartitionView } from './partition-view.js';
import type { ProducerSnapshots } from './producer-snapshots.js';

/** Up to this many missing messages are fetched one by one; more go through a headers-only consumer. */
const SMALL_GAP = 8;
/** A producer snapshot is saved after this many messages since the last one. */
const SNAPSHOT_EVERY = 1000;

export interface PartitionDeps {
  readonly clients: StreamClients;
  readonly connection: NatsConnection;
  readonly names: StoreNames;
  readonly snapshots: ProducerSnapshots;
  readonly clock: () => number;
  readonly requestTimeoutMs: number;
  /** While a wait is pending, the stream is looked at this often in case an announcement was lost. */
  readonly waitPollMs: number;
  readonly isClosed: () => boolean;
  /** Wraps every publish of a batch; tests lose acks and duplicate publishes through it. */
  readonly publishSeam?: PublishSeam | undefined;
}

export interface TopicRecord {
  readonly name: string;
  readonly id: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
  /** KV revision of the record, for compare-and-set deletes. */
  readonly revision: number;
}

/**
 * One partition as a broker sees it: a stream whose messages are batches (one per append), a view
 * rebuilt from it on first use, and the waits parked on it. On one broker, catch-ups and runs of
 * appends (see partition-appender.ts) take turns per partition (`exclusive`); brokers race
 * through JetStream's expected last sequence, never through a lock.
 */
export class JetStreamPartition {
  readonly stream: PartitionStream;
  readonly view: PartitionView;
  readonly waiters = new OffsetWaiters();
  private readonly appender: PartitionAppender;
  private loading: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private queuedRefresh: Promise<void> | null = null;
  private announcedSeq = 0;
  private snapshotSeq = 0;
  private poll: NodeJS.Timeout | null = null;
  private closed: SealbusError | null = null;

  constructor(
    private readonly deps: PartitionDeps,
    readonly topic: TopicRecord,
    readonly partition: number,
  ) {
    const where = { topic: topic.name, partition };
    this.stream = new PartitionStream(
      deps.clients,
      where,
      deps.names.partitionStream(topic.id, partition),
      deps.names.partitionSubject(topic.id, partition),
    );
    this.view = new PartitionView(where);
    this.appender = new PartitionAppender({
      view: this.view,
      stream: this.stream,
      config: topic.config,
      clock: deps.clock,
      requestTimeoutMs: deps.requestTimeoutMs,
      publishSeam: deps.publishSeam,
      exclusive: (task) => this.exclusive(task),
      catchUpNow: () => this.catchUp(),
      closedReason: () => this.closed,
      appended: () => this.appended(),
    });
  }

  get config(): TopicConfig {
    return this.topic.config;
  }

  /** Rebuilds the view once (again after a failure). */
  ready(): Promise<void> {
    if (this.closed !== null) return Promise.reject(this.closed);
    this.loading ??= this.exclusive(() => this.load()).catch((err: unknown) => {
      this.loading = null;
      throw err;
    });
    return this.loading;
  }

  /** Runs `task` after every append and catch-up queued before it on this broker. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const ends = await this.stream.ends();
      if (ends.messages === 0) {
        if (ends.lastSeq > 0) throw dataInvalid(this.view.where, ends.lastSeq, 'the stream is empty but once held messages: its tail was removed outside sealbus');
        this.view.reset(null, null);
        return;
      }
      const [first, last] = await Promise.all([this.stream.get(ends.firstSeq), this.stream.get(ends.lastSeq)]);
      // Retention on another broker may remove the first message between the two calls.
      if (first === null || last === null) {
        if (attempt < 3) continue;
        throw dataInvalid(this.view.where, ends.firstSeq, 'the stream keeps changing under the view');
      }
      const snapshot = await this.deps.snapshots.load(this.topic.id, this.partition).catch(() => null);
      const usable = snapshot !== null && snapshot.seq <= last.meta.seq ? snapshot : null;
      // The view starts at the message before the ones to replay and applies those, so that the
      // tail since the snapshot is checked message by message, as a catch-up would.
      const from = Math.max(first.meta.seq + 1, (usable?.seq ?? 0) + 1);
      const base = from - 1 === first.meta.seq ? first : from - 1 === last.meta.seq ? last : await this.stream.get(from - 1);
      if (base === null) {
        if (attempt < 3) continue;
        throw dataInvalid(this.view.where, from - 1, 'the stream keeps changing under the view');
      }
      this.view.reset(first.meta, base.meta);
      if (usable !== null) {
        this.view.sequences.restore(usable.producers);
        this.snapshotSeq = usable.seq;
      }
      // Retention may have passed the snapshot: the base message is then news to it too.
      if (usable === null || usable.seq < base.meta.seq) this.view.remember(base.meta);
      await this.stream.scan(from, last.meta.seq, ({ meta }) => this.view.apply(meta));
      if (this.view.lastSeq !== last.meta.seq) throw dataInvalid(this.view.where, last.meta.seq, 'the stream ended before its last message');
      return;
    }
  }

  /** Brings the view up to the stream's current ends; returns the messages it applied. */
  private async catchUp(): Promise<MessageMeta[]> {
    const ends = await this.stream.ends();
    const view = this.view;
    if (ends.lastSeq < view.lastSeq) throw dataInvalid(view.where, ends.lastSeq, `the stream went back from message ${view.lastSeq}`);
    const applied: MessageMeta[] = [];
    if (ends.lastSeq - view.lastSeq > SMALL_GAP) {
      await this.stream.scan(view.lastSeq + 1, ends.lastSeq, (message) => {
        view.apply(message.meta);
        applied.push(message);
      });
    }
    while (view.lastSeq < ends.lastSeq) {
      const message = await this.stream.get(view.lastSeq + 1);
      if (message === null) throw dataInvalid(view.where, view.lastSeq + 1, 'a message below the last one is missing');
      view.apply(message.meta);
      applied.push(message);
    }
    if (ends.messages > 0 && ends.firstSeq > view.firstSeq) {
      const first = await this.stream.get(ends.firstSeq);
      if (first !== null) view.moveStart(first.meta);
    }
    this.waiters.notify(view.nextOffset);
    this.appender.observe(applied);
    return applied;
  }

  /** Catches up with what other brokers appended; concurrent callers share one queued catch-up. */
  refresh(): Promise<void> {
    if (this.queuedRefresh !== null) return this.queuedRefresh;
    const run = this.ready().then(() =>
      this.exclusive(async () => {
        this.queuedRefresh = null;
        await this.catchUp();
      }),
    );
    this.queuedRefresh = run;
    run.catch(() => {
      if (this.queuedRefresh === run) this.queuedRefresh = null;
    });
    return run;
  }

  /** As `refresh`, for callers already inside `exclusive`. */
  catchUpNow(): Promise<MessageMeta[]> {
    return this.catchUp();
  }

  async describe(): Promise<PartitionState> {
    await this.refresh();
    return this.view.describe(this.partition);
  }

  append(request: AppendRequest): Promise<AppendResult> {
    return this.ready().then(() => this.appender.append(request));
  }

  /** Batches were stored: wake this broker's waits and tell the others; now and then save the producers' state. */
  private appended(): void {
    this.waiters.notify(this.view.nextOffset);
    try {
      this.deps.connection.publish(this.deps.names.appendedSubject(this.topic.id, this.partition), String(this.view.lastSeq));
    } catch {
      // Only a hint for other brokers' waits; their poll covers a lost one.
    }
    if (this.view.lastSeq - this.snapshotSeq >= SNAPSHOT_EVERY) void this.saveSnapshot().catch(() => undefined);
  }

  /** Saves the producers' state as of the view's last message. */
  saveSnapshot(): Promise<void> {
    const snapshot = { seq: this.view.lastSeq, producers: this.view.sequences.snapshot(this.view.nextOffset) };
    this.snapshotSeq = snapshot.seq;
    return this.deps.snapshots.save(this.topic.id, this.partition, snapshot);
  }

  /**
   * Before a read: catches up first when another broker announced more than this one has, or when
   * the read starts at or past the end this broker knows (an announcement may have been lost: core
   * NATS delivers at most once), so that a plain read never serves a stale end.
   */
  async beforeRead(offset: number): Promise<void> {
    await this.ready();
    if (this.announcedSeq > this.view.lastSeq || offset >= this.view.nextOffset) await this.refresh();
  }

  /** Resolves once the high watermark is above `offset`, woken by appends here or announcements from other brokers. */
  async waitForData(offset: number, signal: AbortSignal): Promise<number> {
    await this.ready();
    if (this.announcedSeq > this.view.lastSeq) await this.refresh();
    // Closed while this call awaited: a waiter parked now would never be woken.
    if (this.closed !== null) throw this.closed;
    const waiting = this.waiters.wait(offset, this.view.nextOffset, signal);
    this.startPolling();
    return waiting;
  }

  /** Another broker announced that the stream reached `seq`. */
  announced(seq: number): void {
    this.announcedSeq = Math.max(this.announcedSeq, seq);
    if (this.waiters.size > 0 && seq > this.view.lastSeq) this.refresh().catch(() => undefined);
  }

  private startPolling(): void {
    if (this.poll !== null || this.waiters.size === 0) return;
    this.poll = setInterval(() => {
      if (this.waiters.size === 0 || this.closed !== null) {
        this.stopPolling();
        return;
      }
      this.refresh().catch(() => undefined);
    }, this.deps.waitPollMs);
    this.poll.unref();
  }

  private stopPolling(): void {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
  }

  /** Ends every wait with `reason` and refuses further use (store closed, topic deleted). */
  close(reason: SealbusError): void {
    this.closed ??= reason;
    this.stopPolling();
    this.waiters.rejectAll(reason);
  }
}

