import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { SealbusError } from '../../../src/errors/index.js';
import {
  DEFAULT_RECORD_LIMITS,
  decodeRecords,
  encodeBatch,
  encodeRecords,
  validateRecords,
  type LogRecord,
  type RecordInput,
} from '../../../src/log/record-batch.js';
import {
  SUBPROTOCOL,
  decodeClientFrame,
  encodeFrame,
  type BrokerFrame,
  type ClientFrame,
  type ProduceFrame,
} from '../../../src/protocol/index.js';
import { FakeSubscription, resolveStart } from './fake-subscriptions.js';

/** One client connection as the fake broker sees it. */
export class FakeClient {
  constructor(
    readonly socket: WebSocket,
    readonly upgrade: IncomingMessage,
  ) {}

  send(frame: BrokerFrame): void {
    this.socket.send(encodeFrame(frame));
  }

  error(requestId: number, error: SealbusError): void {
    this.send({ type: 'ERROR', requestId, code: error.code, message: error.message, retriable: error.retriable });
  }
}

/** What a test hook returns: 'handled' stops the default behaviour for that frame. */
export type Hook = (frame: ClientFrame, client: FakeClient, broker: FakeBroker) => 'handled' | void;

/** What brokers of one fake cluster share (as brokers over one JetStream store do): topics, logs, producer state. */
interface FakeStore {
  readonly logs: Map<string, StoredBatch[]>;
  readonly topics: Map<string, { partitions: number; maxRecordBytes: number }>;
  readonly expectedSequence: Map<string, number>;
  readonly producerIds: { next: number };
}

interface StoredBatch {
  readonly baseOffset: number;
  readonly count: number;
  readonly producerKey: string | null;
  readonly sequence: number;
  readonly bytes: Buffer;
}

/**
 * An in-process broker on plain ws:// and port 0, speaking the real codec, with just enough of
 * the broker's behaviour to test the SDK: topic metadata, an in-memory log per partition,
 * idempotent de-duplication with sequence checks (as the protocol describes them), and hooks to
 * inject failures.
 */
export class FakeBroker {
  readonly received: ClientFrame[] = [];
  readonly clients: FakeClient[] = [];
  readonly logs: Map<string, StoredBatch[]>;
  readonly topics: Map<string, { partitions: number; maxRecordBytes: number }>;
  hook: Hook | null = null;
  readonly subscriptions: FakeSubscription[] = [];
  /** Upgrade refused with this status and body when set. */
  refuseUpgrade: { status: number; body: object } | null = null;
  #https: HttpsServer | null = null;
  readonly #store: FakeStore;
  readonly #expectedSequence: Map<string, number>;
  #waiters: { predicate: (frame: ClientFrame) => boolean; resolve: (frame: ClientFrame) => void }[] = [];
  #connectionWaiters: (() => void)[] = [];

  private constructor(
    private readonly server: WebSocketServer,
    store: FakeStore = { logs: new Map(), topics: new Map(), expectedSequence: new Map(), producerIds: { next: 1 } },
  ) {
    this.#store = store;
    this.logs = store.logs;
    this.topics = store.topics;
    this.#expectedSequence = store.expectedSequence;
  }

  /**
   * Plain ws:// on port 0, or wss:// with client certificates required when `tls` is given.
   * `port` listens on that port instead of 0; `peerOf` shares that broker's topics, logs and
   * producer state, like two brokers over one store.
   */
  static async start(options: { tls?: { ca: string; cert: string; key: string }; port?: number; peerOf?: FakeBroker } = {}): Promise<FakeBroker> {
    const port = options.port ?? 0;
    let broker!: FakeBroker;
    const https =
      options.tls === undefined ? null : createHttpsServer({ ...options.tls, requestCert: true, rejectUnauthorized: true });
    const server = new WebSocketServer({
      ...(https === null ? { port, host: '127.0.0.1' } : { server: https }),
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      verifyClient: (_info, callback) => {
        const refusal = broker.refuseUpgrade;
        if (refusal === null) callback(true);
        else callback(false, refusal.status, JSON.stringify(refusal.body), { 'Content-Type': 'application/json' });
      },
    });
    broker = new FakeBroker(server, options.peerOf === undefined ? undefined : options.peerOf.#store);
    server.on('connection', (socket, upgrade) => broker.#accept(socket, upgrade));
    if (https === null) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    else await new Promise<void>((resolve) => https.listen(port, '127.0.0.1', () => resolve()));
    broker.#https = https;
    return broker;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }

  get port(): number {
    return ((this.#https ?? this.server).address() as AddressInfo).port;
  }

  addTopic(name: string, partitions: number, maxRecordBytes = 1024 * 1024): void {
    this.topics.set(name, { partitions, maxRecordBytes });
  }

  /** The records stored in a partition, in offset order. */
  records(topic: string, partition: number): LogRecord[] {
    return (this.logs.get(`${topic}/${partition}`) ?? []).flatMap((batch) => decodeRecords(batch.bytes));
  }

  /** Appends records directly (for consumer tests) and returns the stored batch. */
  append(topic: string, partition: number, values: readonly (string | RecordInput)[]): Buffer {
    const log = this.#log(topic, partition);
    const baseOffset = endOffset(log);
    const records = values.map((value) => (typeof value === 'string' ? { value: Buffer.from(value) } : value));
    const bytes = encodeBatch({ baseOffset, timestamp: 1_700_000_000_000 + baseOffset }, encodeRecords(records));
    log.push({ baseOffset, count: values.length, producerKey: null, sequence: -1, bytes });
    for (const subscription of this.subscriptions) {
      if (subscription.frame.topic === topic && subscription.frame.partition === partition) subscription.push();
    }
    return bytes;
  }

  frames<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.received.filter((frame): frame is Extract<ClientFrame, { type: T }> => frame.type === type);
  }

  /** Resolves with the first frame (already received or future) that matches. */
  waitForFrame(predicate: (frame: ClientFrame) => boolean): Promise<ClientFrame> {
    const seen = this.received.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }

  /** Resolves with the n-th client connection (1-based), now or when it arrives. */
  waitForConnection(n: number): Promise<FakeClient> {
    if (this.clients.length >= n) return Promise.resolve(this.clients[n - 1]!);
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.clients.length >= n) resolve(this.clients[n - 1]!);
        else this.#connectionWaiters.push(check);
      };
      this.#connectionWaiters.push(check);
    });
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve(undefined)));
    const https = this.#https;
    if (https !== null) {
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    }
  }

  /** Stores a PRODUCE the way the broker does: sequence-checked, de-duplicated. Returns the reply. */
  store(frame: ProduceFrame): BrokerFrame {
    const topic = this.topics.get(frame.topic);
    if (topic === undefined) return errorFrame(frame.requestId, new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: frame.topic }));
    validateRecords(frame.records, { ...DEFAULT_RECORD_LIMITS, maxRecordBytes: topic.maxRecordBytes }, frame.topic);
    const log = this.#log(frame.topic, frame.partition);
    const producer = frame.producer;
    const producerKey = producer === null ? null : `${producer.producerId}/${producer.epoch}`;
    if (producer !== null) {
      const key = `${producerKey}/${frame.topic}/${frame.partition}`;
      const expected = this.#expectedSequence.get(key) ?? 0;
      if (producer.baseSequence < expected) {
        const original = log.find((batch) => batch.producerKey === producerKey && batch.sequence === producer.baseSequence);
        if (original !== undefined) {
          return { type: 'PRODUCE_ACK', requestId: frame.requestId, baseOffset: original.baseOffset, count: original.count, timestamp: 1, duplicate: true };
        }
      }
      if (producer.baseSequence !== expected) {
        return errorFrame(
          frame.requestId,
          new SealbusError('SEALBUS_ERR_PRODUCER_SEQUENCE_GAP', { producerId: producer.producerId, sequence: producer.baseSequence, topic: frame.topic, partition: frame.partition, expected }),
        );
      }
      this.#expectedSequence.set(key, expected + frame.records.count);
    }
    const baseOffset = endOffset(log);
    const bytes = encodeBatch({ baseOffset, timestamp: 1 }, { count: frame.records.count, bytes: Buffer.from(frame.records.bytes) });
    log.push({ baseOffset, count: frame.records.count, producerKey, sequence: producer?.baseSequence ?? -1, bytes });
    return { type: 'PRODUCE_ACK', requestId: frame.requestId, baseOffset, count: frame.records.count, timestamp: 1, duplicate: false };
  }

  #log(topic: string, partition: number): StoredBatch[] {
    const key = `${topic}/${partition}`;
    let log = this.logs.get(key);
    if (log === undefined) this.logs.set(key, (log = []));
    return log;
  }

  #accept(socket: WebSocket, upgrade: IncomingMessage): void {
    const client = new FakeClient(socket, upgrade);
    this.clients.push(client);
    for (const waiter of this.#connectionWaiters.splice(0)) waiter();
    socket.on('message', (data: Buffer) => {
      const frame = decodeClientFrame(data);
      this.received.push(frame);
      this.#waiters = this.#waiters.filter((waiter) => {
        if (!waiter.predicate(frame)) return true;
        waiter.resolve(frame);
        return false;
      });
      if (this.hook?.(frame, client, this) === 'handled') return;
      this.#default(frame, client);
    });
  }

  #default(frame: ClientFrame, client: FakeClient): void {
    switch (frame.type) {
      case 'METADATA': {
        const topic = this.topics.get(frame.topic);
        if (topic === undefined) client.error(frame.requestId, new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: frame.topic }));
        else client.send({ type: 'METADATA_RESULT', requestId: frame.requestId, topic: frame.topic, ...topic });
        return;
      }
      case 'INIT_PRODUCER':
        client.send({ type: 'PRODUCER', requestId: frame.requestId, producerId: this.#store.producerIds.next++, epoch: 0 });
        return;
      case 'PRODUCE':
        client.send(this.store(frame));
        return;
      case 'REFRESH':
        client.send({ type: 'REFRESHED', requestId: frame.requestId, expiresAt: 2_000_000_000_000 });
        return;
      case 'UNSUBSCRIBE': {
        const subscription = this.#subscription(client, frame.subscriptionId);
        if (subscription !== undefined) subscription.closed = true;
        client.send({ type: 'OK', requestId: frame.requestId });
        return;
      }
      case 'SUBSCRIBE': {
        const log = (): StoredBatch[] => this.#log(frame.topic, frame.partition);
        const startOffset = resolveStart(frame, log());
        const subscription = new FakeSubscription(client, frame, startOffset, log);
        this.subscriptions.push(subscription);
        client.send({ type: 'SUBSCRIBED', requestId: frame.requestId, subscriptionId: frame.subscriptionId, startOffset, highWatermark: endOffset(log()) });
        subscription.push();
        return;
      }
      case 'CREDIT':
        this.#subscription(client, frame.subscriptionId)?.addCredit(frame.creditBytes);
        return;
    }
  }

  #subscription(client: FakeClient, subscriptionId: number): FakeSubscription | undefined {
    return this.subscriptions.find((s) => s.client === client && s.frame.subscriptionId === subscriptionId && !s.closed);
  }
}

function endOffset(log: readonly StoredBatch[]): number {
  const last = log[log.length - 1];
  return last === undefined ? 0 : last.baseOffset + last.count;
}

export function errorFrame(requestId: number, error: SealbusError): BrokerFrame {
  return { type: 'ERROR', requestId, code: error.code, message: error.message, retriable: error.retriable };
}
