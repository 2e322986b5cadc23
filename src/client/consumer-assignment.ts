import { SealbusError } from '../errors/index.js';
import { decodeBatchHeader, verifyBatch } from '../log/record-batch.js';
import type { RecordsFrame, StartPosition } from '../protocol/index.js';
import type { OpenedRecords } from './consumer-decryption.js';
import type { Session, SubscriptionListener } from './session.js';

/** A received batch waiting for the application, with what it costs in credit. */
export interface BufferedBatch {
  readonly assignment: ConsumerAssignment;
  readonly bytes: Buffer;
  /** An end-to-end sealed batch once verified and opened (or found undecryptable). */
  opened?: OpenedRecords;
}

export interface AssignmentHooks {
  /** A verified batch with records at or after the assignment's position. */
  deliver(batch: BufferedBatch): void;
  /** The subscription ended; `error` says why (retriable or not). */
  ended(assignment: ConsumerAssignment, error: SealbusError): void;
}

/**
 * One assigned topic partition: its subscription on the current session, the credit granted to
 * it, and the positions that make delivery exactly-once per consumer: `position` is the next
 * offset the application gets (records below it are skipped), `fetchOffset` the next offset to ask
 * the broker for after a resubscription (everything below it is already buffered).
 *
 * Credit: the broker's credit plus the bytes buffered here plus the bytes consumed but not yet
 * returned stay at `windowBytes`; consumed bytes go back with CREDIT once they reach a quarter of
 * the window, so a slow application holds at most one window (plus one batch) per partition.
 */
export class ConsumerAssignment {
  position: number | null = null;
  /** The offset after the last record the application finished (the next one it asked for). */
  processed: number | null = null;
  fetchOffset: number | null = null;
  highWatermark = 0;
  bufferedBytes = 0;
  attempts = 0;
  #returnable = 0;
  #session: Session | null = null;
  #subscriptionId = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly start: StartPosition,
    readonly windowBytes: number,
    private readonly hooks: AssignmentHooks,
  ) {}

  get subscribed(): boolean {
    return this.#session !== null;
  }

  /** Subscribes on `session` from where this assignment stands; resolves once SUBSCRIBED. */
  async subscribe(session: Session): Promise<void> {
    const listener: SubscriptionListener = {
      records: (frame) => this.#onRecords(frame),
      ended: (error) => {
        if (this.#session === session && this.#subscriptionId === subscriptionId) this.#session = null;
        this.hooks.ended(this, error);
      },
    };
    const subscriptionId = session.addSubscription(listener);
    const from = this.fetchOffset ?? this.position;
    const start: StartPosition = from === null ? this.start : { kind: 'offset', offset: from };
    // Consumed-but-unreturned bytes are free again: fold them into the new subscription's credit.
    const creditBytes = Math.max(0, this.windowBytes - this.bufferedBytes);
    this.#returnable = 0;
    this.#session = session;
    this.#subscriptionId = subscriptionId;
    try {
      const reply = await session.request({ type: 'SUBSCRIBE', subscriptionId, topic: this.topic, partition: this.partition, start, creditBytes });
      this.highWatermark = reply.highWatermark;
      // An explicit offset is honoured even if the broker reports the start of its batch.
      this.position ??= start.kind === 'offset' ? Math.max(start.offset, reply.startOffset) : reply.startOffset;
      this.fetchOffset ??= reply.startOffset;
      if (reply.startOffset > this.fetchOffset) {
        // Retention removed what we asked for: the broker starts later; so do we.
        this.fetchOffset = reply.startOffset;
        this.position = Math.max(this.position, reply.startOffset);
      }
      this.attempts = 0;
    } catch (err) {
      session.removeSubscription(subscriptionId);
      if (this.#session === session) this.#session = null;
      throw err;
    }
  }

  /** Called as the application finishes a batch: its bytes may be granted again. */
  consumed(bytes: number): void {
    this.bufferedBytes -= bytes;
    this.#returnable += bytes;
    if (this.#session !== null && this.#returnable >= Math.max(1, Math.floor(this.windowBytes / 4))) {
      this.#session.credit(this.#subscriptionId, Math.min(this.#returnable, 0xffff_ffff));
      this.#returnable = 0;
    }
  }

  /** Ends the subscription (UNSUBSCRIBE); the session stays open for the others. */
  async unsubscribe(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    if (session === null) return;
    session.removeSubscription(this.#subscriptionId);
    try {
      await session.request({ type: 'UNSUBSCRIBE', subscriptionId: this.#subscriptionId });
    } catch {
      // the subscription or the session is gone already: nothing left to end
    }
  }

  #onRecords(frame: RecordsFrame): void {
    this.highWatermark = frame.highWatermark;
    for (const bytes of frame.batches) {
      if (!verifyBatch(bytes)) {
        const header = decodeBatchHeader(bytes);
        const from = header === null || Number.isNaN(header.baseOffset) ? (this.fetchOffset ?? 0) : header.baseOffset;
        this.hooks.ended(
          this,
          new SealbusError('SEALBUS_ERR_RECORDS_CORRUPTED', {
            from,
            to: header === null ? from : from + Math.max(0, header.recordCount - 1),
            topic: this.topic,
            partition: this.partition,
            next: 'unknown',
          }),
        );
        return;
      }
      const header = decodeBatchHeader(bytes)!;
      const end = header.baseOffset + header.recordCount;
      this.bufferedBytes += bytes.length;
      if (this.fetchOffset !== null && end <= this.fetchOffset) {
        this.consumed(bytes.length); // all of it was delivered before a resubscription
        continue;
      }
      this.fetchOffset = end;
      this.hooks.deliver({ assignment: this, bytes });
    }
  }
}
