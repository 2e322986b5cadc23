import { headers as natsHeaders } from '@nats-io/transport-node';
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { BATCH_META_HEADER, dataInvalid, encodeBatchMeta, parseBatchMeta, verifiedBatch, type BatchMeta, type PartitionRef } from './batch-message.js';
import { storeError } from './nats-errors.js';

/** JetStream's own header carrying a message's publish id. */
const MSG_ID_HEADER = 'Nats-Msg-Id';
/** How long a retried publish is recognised as the same one (JetStream's default, stated so it cannot drift). */
const DUPLICATE_WINDOW_MS = 120_000;
/** A header scan that receives nothing for this long is given up. */
const SCAN_IDLE_MS = 10_000;

export interface StreamClients {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

export interface MessageMeta {
  readonly meta: BatchMeta;
  readonly msgId: string | null;
}

export interface StreamEnds {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly messages: number;
}

/**
 * The NATS calls of one partition stream, with their failures mapped to the error catalog and
 * everything read back checked (see batch-message.ts). Knows nothing of offsets beyond that.
 */
export class PartitionStream {
  constructor(
    private readonly clients: StreamClients,
    readonly where: PartitionRef,
    readonly stream: string,
    readonly subject: string,
  ) {}

  /** Creates the stream: file storage, replicated, no single-message deletes (sequences stay dense). */
  async create(replicas: number): Promise<void> {
    try {
      await this.clients.jsm.streams.add({
        name: this.stream,
        subjects: [this.subject],
        storage: StorageType.File,
        num_replicas: replicas,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        deny_delete: true,
        allow_direct: false,
      });
    } catch (err) {
      throw storeError(this.where, err);
    }
  }

  async remove(): Promise<void> {
    try {
      await this.clients.jsm.streams.delete(this.stream);
    } catch (err) {
      const mapped = storeError(this.where, err);
      if (mapped.code !== 'SEALBUS_ERR_TOPIC_NOT_FOUND') throw mapped;
    }
  }

  async ends(): Promise<StreamEnds> {
    try {
      const info = await this.clients.jsm.streams.info(this.stream);
      const { first_seq: firstSeq, last_seq: lastSeq, messages } = info.state;
      return { firstSeq, lastSeq, messages };
    } catch (err) {
      throw storeError(this.where, err);
    }
  }

  /** Message `seq`: its header, its verified batch and its publish id; null when the stream does not hold it. */
  async get(seq: number): Promise<{ meta: BatchMeta; batch: Buffer; msgId: string | null } | null> {
    let stored;
    try {
      stored = await this.clients.jsm.streams.getMessage(this.stream, { seq });
    } catch (err) {
      throw storeError(this.where, err);
    }
    if (stored === null) return null;
    if (stored.seq !== seq) throw dataInvalid(this.where, seq, `the stream answered with message ${stored.seq}`);
    const meta = parseBatchMeta(this.where, seq, stored.header.get(BATCH_META_HEADER));
    return { meta, batch: verifiedBatch(this.where, meta, stored.data), msgId: stored.header.get(MSG_ID_HEADER) || null };
  }

  /**
   * Publishes one batch, stored only if the stream's last sequence is still `expect.lastSeq` (and,
   * in a pipelined run, its last message the run's previous one): two brokers appending at once can
   * never both land on the same offsets, and a run never continues past a message that failed.
   */
  publish(meta: Omit<BatchMeta, 'seq'>, batch: Buffer, expect: { lastSeq: number; lastMsgId: string | null }, msgId: string, timeoutMs: number): Promise<PubAck> {
    const hdrs = natsHeaders();
    hdrs.set(BATCH_META_HEADER, encodeBatchMeta(meta));
    const expected = expect.lastMsgId === null ? { lastSequence: expect.lastSeq } : { lastSequence: expect.lastSeq, lastMsgID: expect.lastMsgId };
    return this.clients.js.publish(this.subject, batch, { msgID: msgId, expect: expected, headers: hdrs, timeout: timeoutMs });
  }

  /** Removes every message below `seq`. */
  async purgeBelow(seq: number): Promise<number> {
    try {
      return (await this.clients.jsm.streams.purge(this.stream, { seq })).purged;
    } catch (err) {
      throw storeError(this.where, err);
    }
  }

  /**
   * The headers of messages `from`..`to` in order, through a headers-only ordered consumer (no
   * records are transferred), for rebuilding a view after a long absence.
   */
  async scan(from: number, to: number, onMessage: (message: MessageMeta) => void): Promise<void> {
    if (from > to) return;
    try {
      const consumer = await this.clients.js.consumers.get(this.stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
        headers_only: true,
      });
      const messages = await consumer.consume({ max_messages: 1024 });
      let failure: unknown = null;
      let idle = setTimeout(() => stop(new Error(`no message for ${SCAN_IDLE_MS} ms`)), SCAN_IDLE_MS);
      const stop = (err: unknown): void => {
        failure ??= err;
        messages.stop();
      };
      try {
        for await (const msg of messages) {
          clearTimeout(idle);
          idle = setTimeout(() => stop(new Error(`no message for ${SCAN_IDLE_MS} ms`)), SCAN_IDLE_MS);
          if (msg.seq > to) break;
          try {
            const meta = parseBatchMeta(this.where, msg.seq, msg.headers?.get(BATCH_META_HEADER));
            onMessage({ meta, msgId: msg.headers?.get(MSG_ID_HEADER) || null });
          } catch (err) {
            stop(err);
            break;
          }
          if (msg.seq >= to) break;
        }
      } finally {
        clearTimeout(idle);
        messages.stop();
        await consumer.delete().catch(() => undefined);
      }
      if (failure !== null) throw failure;
    } catch (err) {
      throw storeError(this.where, err);
    }
  }
}
