import type { PubAck } from '@nats-io/jetstream';
import { SealbusError, isSealbusError } from '../../errors/index.js';
import type { SequenceCheck } from '../producer-sequences.js';
import { BATCH_HEADER_BYTES, encodeBatch } from '../record-batch.js';
import type { AppendRequest, AppendResult, TopicConfig } from '../types.js';
import type { BatchMeta } from './batch-message.js';
import { newMessageId } from './names.js';
import { isOutcomeUnknown, isRefusedInOrder, storeError } from './nats-errors.js';
import type { MessageMeta, PartitionStream } from './partition-stream.js';
import { advance, type PartitionView } from './partition-view.js';

/** Batches of one partition published at once by one broker, and their bytes. */
const MAX_RUN = 64;
const MAX_RUN_BYTES = 8 * 1024 * 1024;
/** How often one append is planned again after losing the race to another broker. */
const MAX_ATTEMPTS = 16;
/** Publishes left unanswered (each after a full request timeout) before an append gives up, retriably. */
const MAX_UNANSWERED = 2;

/** Given the publish to make, makes it (or not, or twice) and answers as JetStream would have. */
export type PublishSeam = (send: () => Promise<PubAck>) => Promise<PubAck>;

export interface AppenderHost {
  readonly view: PartitionView;
  readonly stream: PartitionStream;
  readonly config: TopicConfig;
  readonly clock: () => number;
  readonly requestTimeoutMs: number;
  readonly publishSeam: PublishSeam | undefined;
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Applies what the stream holds past the view; reports it to `observe` too. */
  catchUpNow(): Promise<MessageMeta[]>;
  closedReason(): SealbusError | null;
  /** Batches were stored: wake the waits, tell the other brokers. */
  appended(): void;
}

interface Pending {
  readonly request: AppendRequest;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (err: unknown) => void;
  /** Every publish id this append used: a message carrying one of them is its batch. */
  readonly ids: Set<string>;
  msgId: string;
  attempts: number;
  unanswered: number;
  caughtUp: boolean;
}

interface Planned {
  readonly pending: Pending;
  readonly meta: BatchMeta;
  readonly batch: Buffer;
  readonly msgId: string;
  /** The publish id of the run's message before this one; null for the run's first. */
  readonly previousId: string | null;
}

function stored(meta: BatchMeta): AppendResult {
  return { baseOffset: meta.baseOffset, count: meta.count, timestamp: meta.timestamp, duplicate: false };
}

/**
 * Appends of one partition on one broker, published in runs: the queued batches are planned one
 * after the other from the view's end, and published at once, each expecting the stream's last
 * sequence to be the one before it and (after the first) the last message to be the run's
 * previous one (`Nats-Expected-Last-Msg-Id`). So a run lands as a prefix: once one message is
 * refused (another broker appended first) or lost, none after it can land on top of something
 * else, and no offset is ever given twice or skipped. What did not land is planned again, in
 * arrival order, after the view caught up; a lost answer is settled by finding the append's
 * publish id in the stream.
 */
export class PartitionAppender {
  private readonly queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly host: AppenderHost) {}

  append(request: AppendRequest): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject, ids: new Set(), msgId: newMessageId(), attempts: 0, unanswered: 0, caughtUp: false });
      this.schedule();
    });
  }

  /** Settles queued appends whose batch a catch-up found in the stream (an earlier publish of theirs landed after all). */
  observe(applied: readonly MessageMeta[]): void {
    if (this.queue.length === 0) return;
    for (const message of applied) {
      if (message.msgId === null) continue;
      const index = this.queue.findIndex((pending) => pending.ids.has(message.msgId!));
      if (index >= 0) this.queue.splice(index, 1)[0]!.resolve(stored(message.meta));
    }
  }

  /** One run per turn of the partition's exclusive queue, so that catch-ups for reads get their turn in between. */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    void this.host
      .exclusive(() => this.run())
      .catch(() => undefined)
      .finally(() => {
        this.scheduled = false;
        this.schedule();
      });
  }

  private async run(): Promise<void> {
    const closed = this.host.closedReason();
    if (closed !== null) {
      for (const pending of this.queue.splice(0)) pending.reject(closed);
      return;
    }
    let planned: Planned[] = [];
    try {
      planned = await this.plan();
      if (planned.length > 0) await this.publish(planned);
    } catch (err) {
      const failure = storeError(this.host.view.where, err);
      for (const { pending } of planned) pending.reject(failure);
    }
  }

  /** Takes queued appends off the queue and plans them past the view's end, as far as a run may go. */
  private async plan(): Promise<Planned[]> {
    const { view, config } = this.host;
    const cursor = view.cursor();
    const planned: Planned[] = [];
    const undo: (() => void)[] = [];
    let bytes = 0;
    try {
      while (this.queue.length > 0 && planned.length < MAX_RUN && (planned.length === 0 || bytes < MAX_RUN_BYTES)) {
        const pending = this.queue[0]!;
        const records = pending.request.records;
        const stamp = pending.request.producer ?? null;
        if (stamp !== null) {
          let check: SequenceCheck;
          try {
            check = view.sequences.check(stamp, records.count);
          } catch (err) {
            if (pending.caughtUp || !isSealbusError(err, 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP')) {
              this.queue.shift();
              pending.reject(err);
              continue;
            }
            // The producer's previous batch may have gone through another broker: look before refusing.
            if (planned.length > 0) break;
            pending.caughtUp = true;
            try {
              await this.host.catchUpNow();
            } catch (failure) {
              this.queue.shift();
              pending.reject(storeError(view.where, failure));
            }
            return [];
          }
          if (check.kind === 'duplicate') {
            // A retry of a batch planned in this very run: answer it once its original is settled.
            if (check.batch.baseOffset >= view.nextOffset) break;
            this.queue.shift();
            const { baseOffset, count, timestamp } = check.batch;
            pending.resolve({ baseOffset, count, timestamp, duplicate: true });
            continue;
          }
        }
        this.queue.shift();
        const size = BATCH_HEADER_BYTES + records.bytes.length;
        const meta: BatchMeta = { ...view.plan(records.count, size, this.host.clock(), config.segmentBytes, stamp, cursor), seq: cursor.lastSeq + 1 };
        const batch = encodeBatch(
          stamp === null
            ? { baseOffset: meta.baseOffset, timestamp: meta.timestamp }
            : { baseOffset: meta.baseOffset, timestamp: meta.timestamp, producerId: stamp.producerId, producerEpoch: stamp.epoch, baseSequence: stamp.baseSequence },
          records,
        );
        // Recorded for the run only, so that the producer's next batch in the same run is in sequence.
        if (stamp !== null) undo.push(view.sequences.record(stamp, { baseSequence: stamp.baseSequence, count: meta.count, baseOffset: meta.baseOffset, timestamp: meta.timestamp }));
        advance(cursor, meta);
        pending.ids.add(pending.msgId);
        planned.push({ pending, meta, batch, msgId: pending.msgId, previousId: planned.at(-1)?.msgId ?? null });
        bytes += size;
      }
    } finally {
      for (const step of undo.reverse()) step();
    }
    return planned;
  }

  private async publish(planned: readonly Planned[]): Promise<void> {
    const { view, stream, publishSeam, requestTimeoutMs } = this.host;
    const outcomes = await Promise.allSettled(
      planned.map(({ meta, batch, msgId, previousId }) => {
        const send = (): Promise<PubAck> => stream.publish(meta, batch, { lastSeq: meta.seq - 1, lastMsgId: previousId }, msgId, requestTimeoutMs);
        return publishSeam === undefined ? send() : publishSeam(send);
      }),
    );
    let landed = 0;
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status !== 'fulfilled' || outcome.value.duplicate || outcome.value.seq !== planned[i]!.meta.seq) break;
      landed++;
    }
    for (const { meta, pending } of planned.slice(0, landed)) {
      view.apply(meta);
      pending.resolve(stored(meta));
    }
    if (landed > 0) this.host.appended();
    if (landed === planned.length) return;
    const rest = planned.slice(landed);
    const applied = await this.host.catchUpNow();
    const requeue: Pending[] = [];
    for (const [k, { pending }] of rest.entries()) {
      const found = applied.find((message) => message.msgId !== null && pending.ids.has(message.msgId));
      if (found !== undefined) {
        pending.resolve(stored(found.meta));
        continue;
      }
      const outcome = outcomes[landed + k]!;
      const err: unknown = outcome.status === 'rejected' ? outcome.reason : null;
      if (err !== null && !isRefusedInOrder(err) && !isOutcomeUnknown(err)) {
        pending.reject(storeError(view.where, err));
      } else if (err !== null && isOutcomeUnknown(err) && ++pending.unanswered > MAX_UNANSWERED) {
        pending.reject(storeError(view.where, err));
      } else if (++pending.attempts >= MAX_ATTEMPTS) {
        pending.reject(new SealbusError('SEALBUS_ERR_STORE_CONFLICT', { what: `${view.where.topic}/${view.where.partition}` }));
      } else {
        // Refused for sure: a new id. Unanswered: the same one, so that a late copy is answered as a duplicate.
        if (err === null || !isOutcomeUnknown(err)) pending.msgId = newMessageId();
        requeue.push(pending);
      }
    }
    if (applied.length > 0) this.host.appended();
    this.queue.unshift(...requeue);
  }
}
