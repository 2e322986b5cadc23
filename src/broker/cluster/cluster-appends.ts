import { SealbusError, isSealbusError } from '../../errors/index.js';
import { BusError, type AppendSubjects, type MessageBus } from '../../log/jetstream/message-bus.js';
import type { AppendRequest, AppendResult, LogStore } from '../../log/types.js';
import { encode, parseReply, replyError, type Reply } from '../groups/cluster/wire.js';
import { encodeForward, parseForward, parseResult } from './append-wire.js';
import { Lane, type Turn } from './lane.js';
import { OwnerWatch, type Watched } from './owner-watch.js';
import type { BrokerRouting } from './routing.js';

/** Topics every broker writes itself: each broker's audit chain, lease holds, registries. */
const INTERNAL_PREFIX = '__sealbus';
/** While a forwarded append waits, its owner is probed this often in case it died (core NATS would not say). */
const DEFAULT_PROBE_MS = 1_000;

export interface ClusterAppendsOptions {
  /** The shared store, appended to directly: this broker's own writes and those forwarded to it. */
  readonly store: LogStore;
  readonly routing: BrokerRouting;
  readonly bus: MessageBus;
  readonly subjects: AppendSubjects;
  /** How long a forwarded append waits for the owner's answer before failing retriably. */
  readonly timeoutMs: number;
  /** While a forwarded append waits, how often its owner is probed in case it died; default 1 s. */
  readonly probeMs?: number;
  readonly report?: (err: unknown) => void;
}

/** What the forwarding did, for metrics and tests. */
export interface AppendRoutingStats {
  /** Appends sent to their partition's owner and answered by it. */
  forwarded: number;
  /** Appends this broker made for another broker. */
  served: number;
  /** Forwards that found their owner gone (no responder to the request, appended here instead, or to a probe while it waited). */
  ownerGone: number;
  /** Forwards left unanswered: failed with SEALBUS_ERR_STORE_UNAVAILABLE. */
  timedOut: number;
}

/**
 * One writer per partition (docs/cluster.md): each client partition has an owner broker, chosen by
 * the routing among the live brokers; an append for a partition another broker owns is forwarded
 * to it over the message bus and appended there, so that one broker's appender pipelines every
 * batch of the partition instead of brokers racing on JetStream's expected last sequence.
 *
 * Safety never depends on it: every publish still expects the stream's last sequence, so a stale
 * or wrong owner costs speed only. An owner with no responder (its NATS connection is gone) is
 * routed around and the batch appended here at once (after the same producer's earlier batches
 * have settled, see Lane); an owner that does not answer in time, or is found gone while a
 * forward waits (probes, see OwnerWatch), may have appended, so the client gets the retriable
 * SEALBUS_ERR_STORE_UNAVAILABLE and an idempotent producer's retry is answered as a duplicate.
 * Internal topics (`__sealbus…`) are always appended locally. A forwarded append never calls
 * `onPlaced`.
 */
export class ClusterAppends {
  readonly routing: BrokerRouting;
  readonly stats: AppendRoutingStats = { forwarded: 0, served: 0, ownerGone: 0, timedOut: 0 };
  readonly #store: LogStore;
  readonly #bus: MessageBus;
  readonly #subjects: AppendSubjects;
  readonly #timeoutMs: number;
  readonly #report: (err: unknown) => void;
  #served: { close(): void } | null = null;
  /** Idempotent producers' appends in flight, by (topic, partition, producer id). */
  readonly #lanes = new Map<string, Lane>();
  readonly #watch: OwnerWatch;

  constructor(options: ClusterAppendsOptions) {
    this.routing = options.routing;
    this.#store = options.store;
    this.#bus = options.bus;
    this.#subjects = options.subjects;
    this.#timeoutMs = options.timeoutMs;
    this.#report = options.report ?? (() => {});
    this.#watch = new OwnerWatch(options.bus, options.probeMs ?? DEFAULT_PROBE_MS);
  }

  /** Starts appending for the other brokers. */
  start(): void {
    this.#served ??= this.#bus.serve(this.#subjects.append(this.routing.self), (data) => this.#serve(data));
  }

  /** Stops serving: other brokers' forwards meet no responder and they append themselves. */
  close(): void {
    this.#served?.close();
    this.#served = null;
  }

  /** Appends through the partition's owner, or here when this broker owns it (or the topic is internal). */
  async append(topic: string, partition: number, request: AppendRequest): Promise<AppendResult> {
    if (topic.startsWith(INTERNAL_PREFIX) || !Number.isSafeInteger(partition)) return this.#store.append(topic, partition, request);
    // Without a producer stamp there is no sequence to keep: a lane of its own.
    const key = request.producer === undefined ? null : `${topic}\0${partition}\0${request.producer.producerId}`;
    let lane = key === null ? undefined : this.#lanes.get(key);
    if (lane === undefined) {
      lane = new Lane(this.routing.writerOf(topic, partition));
      if (key !== null) this.#lanes.set(key, lane);
    }
    lane.count++;
    const turn = lane.take();
    try {
      return await this.#send(topic, partition, request, lane, turn);
    } finally {
      turn.settled();
      if (--lane.count === 0 && key !== null) this.#lanes.delete(key);
    }
  }

  async #send(topic: string, partition: number, request: AppendRequest, lane: Lane, turn: Turn): Promise<AppendResult> {
    const owner = lane.target;
    const data = owner === this.routing.self ? null : encodeForward(topic, partition, request);
    // Too large for the bus: too large for a stream message as well; the local store says so.
    if (data === null || data.byteLength > this.#bus.maxPayload()) return this.#local(topic, partition, request, turn);
    let watched: Watched;
    try {
      watched = await this.#forward(owner, data, lane);
    } catch (err) {
      if (!(err instanceof BusError)) throw err;
      if (err.kind === 'timeout') {
        this.stats.timedOut++;
        await turn.settledBefore;
        throw this.#unknown(topic, partition, owner, 'the broker writing the partition did not answer in time');
      }
      // Gone (or this end's connection closed, which the local append reports): nothing reached it.
      if (err.kind === 'no-responders') this.#gone(owner, lane);
      return this.#local(topic, partition, request, turn);
    }
    // The producer hears of its batches in their order, whatever the order of the answers.
    await turn.settledBefore;
    if (watched.kind === 'lost') {
      if (!watched.gone) throw this.#unknown(topic, partition, owner, 'the broker writing the partition answered a later batch first');
      this.#gone(owner, lane);
      throw this.#unknown(topic, partition, owner, 'the broker writing the partition went away before it answered');
    }
    let reply: Reply;
    let result: AppendResult | null = null;
    try {
      reply = parseReply(watched.data, this.#bus.maxPayload(), 'append reply');
      if (reply.ok) result = parseResult(reply.value);
    } catch (err) {
      this.#report(err);
      throw this.#unknown(topic, partition, owner, 'its answer could not be read');
    }
    if (result === null) throw replyError(reply, 'append forwarding');
    this.stats.forwarded++;
    return result;
  }

  /**
   * Sends an append to the owner. The owner appends a lane's batches in the order they arrive, so
   * when one is answered, the lane's earlier forwards still unanswered were lost on the way (core
   * NATS drops messages to a broker that is reconnecting) or their answers were: they are settled
   * as lost at once rather than after the timeout.
   */
  async #forward(owner: string, data: Uint8Array, lane: Lane): Promise<Watched> {
    const forward = { lose: () => {} };
    lane.forwards.push(forward);
    let watched: Watched | null = null;
    try {
      watched = await this.#watch.request(this.#subjects.append(owner), data, this.#timeoutMs, (lose) => (forward.lose = lose));
      return watched;
    } finally {
      const index = lane.forwards.indexOf(forward);
      const earlier = watched?.kind === 'answer' ? lane.forwards.slice(0, index) : [];
      lane.forwards.splice(index, 1);
      for (const lost of earlier) lost.lose();
    }
  }

  /** Appends here, once the lane's earlier appends are placed here or settled. */
  async #local(topic: string, partition: number, request: AppendRequest, turn: Turn): Promise<AppendResult> {
    await turn.handedBefore;
    const appended = this.#store.append(topic, partition, request);
    turn.handed();
    return appended;
  }

  /** The owner has no responder: route around it; the lane's later appends stay here until it drains. */
  #gone(owner: string, lane: Lane): void {
    this.stats.ownerGone++;
    this.routing.markGone(owner);
    lane.target = this.routing.self;
  }

  /** The batch may or may not be stored: retriable, and an idempotent producer's retry finds out. */
  #unknown(topic: string, partition: number, owner: string, reason: string): SealbusError {
    return new SealbusError('SEALBUS_ERR_STORE_UNAVAILABLE', { what: `appending to ${topic}/${partition} through broker ${owner}`, reason: `${reason}; the batch may be stored` });
  }

  /** Appends a batch another broker forwarded; never throws (errors travel in the reply). */
  async #serve(data: Uint8Array): Promise<Uint8Array> {
    if (data.byteLength === 0) return encode({ ok: true }); // a probe: this broker is alive
    let reply: Reply;
    try {
      const forwarded = parseForward(data, this.#bus.maxPayload());
      if (forwarded.topic.startsWith(INTERNAL_PREFIX)) {
        throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: 'internal topics are not appended for another broker' });
      }
      const result = await this.#store.append(forwarded.topic, forwarded.partition, forwarded.request);
      this.stats.served++;
      reply = { ok: true, value: { baseOffset: result.baseOffset, count: result.count, timestamp: result.timestamp, duplicate: result.duplicate } };
    } catch (err) {
      if (!isSealbusError(err)) this.#report(err);
      const error = isSealbusError(err) ? err : new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: 'forwarded append' });
      reply = { ok: false, error: error.toWire() };
    }
    return encode(reply);
  }
}
