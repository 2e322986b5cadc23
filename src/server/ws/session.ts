import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import type { CertificateIdentity, Principal } from '../../auth/index.js';
import type { Broker, Subscription } from '../../broker/index.js';
import type { SealbusConfig } from '../../config/index.js';
import { SealbusError, isSealbusError } from '../../errors/index.js';
import {
  CLOSE_CODES,
  decodeClientFrame,
  encodeFrame,
  type BrokerFrame,
  type ClientFrame,
  type FrameLimits,
  type SubscribeFrame,
} from '../../protocol/index.js';
import { clientPrincipal, type ClientPrincipal, type RequestAuthenticator } from '../context.js';
import type { SessionMetrics } from '../metrics.js';
import { DeliveryGate, type BrokerLimits } from '../limits/index.js';
import type { LiveSession } from './registry.js';
import { SessionGroups } from './session-groups.js';

export interface SessionDeps {
  readonly broker: Broker;
  readonly authenticator: RequestAuthenticator;
  readonly limits: SealbusConfig['limits'];
  readonly frameLimits: FrameLimits;
  readonly clock: () => number;
  readonly log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  readonly metrics?: SessionMetrics | undefined;
  /** Quotas of the principal, and the bound on bytes queued for the socket (src/server/limits). */
  readonly brokerLimits: BrokerLimits;
}

/** Warn the client this long before its token expires (or at 80% of the remaining life if shorter). */
const EXPIRY_WARNING_MS = 30_000;

/**
 * One client's WebSocket session: decodes frames, runs them through the broker as the session's
 * principal, and pushes subscriptions under credit. The session dies with its token: nothing is
 * delivered or accepted after expiry unless the client refreshed in-band first.
 */
export class Session implements LiveSession {
  principal: ClientPrincipal;
  readonly certificate: CertificateIdentity;
  readonly tlsSocket: TLSSocket;
  readonly #socket: WebSocket;
  readonly #deps: SessionDeps;
  readonly #subscriptions = new Map<number, Subscription>();
  readonly #groups: SessionGroups;
  readonly #gate: DeliveryGate;
  #inFlight = 0;
  #expiresAt = Number.POSITIVE_INFINITY;
  #warnTimer: NodeJS.Timeout | undefined;
  #expireTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(socket: WebSocket, tlsSocket: TLSSocket, principal: ClientPrincipal, certificate: CertificateIdentity, deps: SessionDeps) {
    this.#socket = socket;
    this.tlsSocket = tlsSocket;
    this.principal = principal;
    this.certificate = certificate;
    this.#deps = deps;
    this.#groups = new SessionGroups(this, {
      broker: deps.broker,
      actor: () => this.principal,
      send: (frame) => this.#send(frame),
      clientAddress: tlsSocket.remoteAddress ?? null,
      maxMemberships: deps.limits.maxGroupsPerSession,
    });
    this.#gate = new DeliveryGate(socket, tlsSocket, {
      highWaterBytes: deps.limits.socketHighWaterBytes,
      charge: (bytes) => deps.brokerLimits.quotas.chargeConsume(this.principal.name, bytes),
      waiting: deps.brokerLimits.webSockets.deliveries,
    });
    socket.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    socket.on('close', () => this.#teardown());
    socket.on('error', () => this.#teardown());
    this.#scheduleExpiry();
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#teardown();
    this.#socket.close(code, reason);
  }

  revalidate(): void {
    if (this.#closed) return;
    for (const subscription of this.#subscriptions.values()) {
      try {
        this.#deps.broker.authorize(this.principal, 'consume', { kind: 'topic', name: subscription.topic });
      } catch (err) {
        subscription.fail(err as SealbusError);
      }
    }
    this.#groups.revalidate();
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#warnTimer);
    clearTimeout(this.#expireTimer);
    this.#gate.close();
    for (const subscription of this.#subscriptions.values()) subscription.close();
    this.#subscriptions.clear();
    this.#groups.close();
  }

  #expiryOf(principal: Principal): number {
    const tokenExpiry = principal.token?.expiresAt ?? Number.POSITIVE_INFINITY;
    return Math.min(tokenExpiry, this.certificate.notAfter);
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#warnTimer);
    clearTimeout(this.#expireTimer);
    this.#expiresAt = this.#expiryOf(this.principal);
    if (!Number.isFinite(this.#expiresAt)) return;
    const remaining = this.#expiresAt - this.#deps.clock();
    // 30 s before expiry; a token living under 150 s is warned at 80% of its life instead, so a
    // short-lived token is not warned (and refreshed) the moment it arrives.
    const warnIn = Math.max(0, remaining - EXPIRY_WARNING_MS, remaining * 0.8);
    // setTimeout holds at most 2^31-1 ms; a longer life is re-armed on refresh or simply never warned early.
    if (warnIn < 2 ** 31 - 1) {
      this.#warnTimer = setTimeout(() => this.#send({ type: 'TOKEN_EXPIRING', expiresAt: Math.min(this.#expiresAt, Number.MAX_SAFE_INTEGER) }), warnIn);
      this.#warnTimer.unref();
    }
    if (remaining < 2 ** 31 - 1) {
      this.#expireTimer = setTimeout(() => this.#expire(), Math.max(0, remaining));
      this.#expireTimer.unref();
    }
  }

  #expire(): void {
    const error = new SealbusError('SEALBUS_ERR_SESSION_EXPIRED');
    this.#send({ type: 'ERROR', requestId: 0, code: error.code, message: error.message, retriable: error.retriable });
    this.close(CLOSE_CODES.AUTHENTICATION, error.code);
  }

  /** Throws once the session's token has expired, so nothing is accepted or delivered after it. */
  #assertLive(): void {
    if (this.#closed) throw new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'session closed' });
    if (this.#deps.clock() >= this.#expiresAt) throw new SealbusError('SEALBUS_ERR_SESSION_EXPIRED');
  }

  #send(frame: BrokerFrame): void {
    if (this.#closed || this.#socket.readyState !== this.#socket.OPEN) return;
    if ('code' in frame) this.#deps.metrics?.errorSent(frame.code);
    this.#socket.send(encodeFrame(frame));
  }

  #sendError(requestId: number, err: unknown): void {
    const error = isSealbusError(err) ? err : this.#internal(err);
    const retryAfterMs = error.details?.['retryAfterMs'];
    this.#send({ type: 'ERROR', requestId, code: error.code, message: error.message, retriable: error.retriable, ...(typeof retryAfterMs === 'number' && { retryAfterMs }) });
  }

  #internal(err: unknown): SealbusError {
    this.#deps.log.error({ err }, 'websocket request failed');
    return new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: 'ws' });
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    let frame: ClientFrame;
    try {
      if (!isBinary) throw new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason: 'text frames are not part of the protocol' });
      frame = decodeClientFrame(data, this.#deps.frameLimits);
    } catch (err) {
      this.#sendError(0, err);
      this.close(CLOSE_CODES.PROTOCOL, isSealbusError(err) ? err.code : 'SEALBUS_ERR_PROTOCOL_FRAME');
      return;
    }
    const started = performance.now();
    const metrics = this.#deps.metrics;
    try {
      this.#assertLive();
      this.#admit(frame);
      const pending = this.#dispatch(frame);
      if (pending instanceof Promise) void pending.then(() => metrics?.frameDone(frame.type, started));
      else metrics?.frameDone(frame.type, started);
    } catch (err) {
      this.#sendError(frame.requestId, err);
      metrics?.frameDone(frame.type, started);
    }
  }

  /**
   * The principal's request quota: frames a client can send again later are refused over it
   * (PRODUCE is judged with its bytes in #produce); those whose refusal would stall a consumer or
   * cost it its partitions are only counted.
   */
  #admit(frame: ClientFrame): void {
    const quotas = this.#deps.brokerLimits.quotas;
    switch (frame.type) {
      case 'PRODUCE':
        return;
      case 'SUBSCRIBE':
      case 'METADATA':
      case 'INIT_PRODUCER':
      case 'JOIN_GROUP': {
        const refused = quotas.admitRequest(this.principal.name);
        if (refused !== null) throw refused;
        return;
      }
      default:
        quotas.chargeRequest(this.principal.name);
    }
  }

  /** Returns the work still running for frames answered later (their latency ends when it settles). */
  #dispatch(frame: ClientFrame): Promise<void> | void {
    switch (frame.type) {
      case 'PRODUCE':
        return this.#produce(frame);
      case 'SUBSCRIBE':
        return this.#subscribe(frame).catch((err: unknown) => this.#sendError(frame.requestId, err));
      case 'CREDIT': {
        const subscription = this.#subscriptions.get(frame.subscriptionId);
        if (subscription === undefined) throw new SealbusError('SEALBUS_ERR_PROTOCOL_UNKNOWN_SUBSCRIPTION', { id: frame.subscriptionId });
        subscription.addCredit(frame.creditBytes);
        return;
      }
      case 'UNSUBSCRIBE': {
        const subscription = this.#subscriptions.get(frame.subscriptionId);
        if (subscription === undefined) throw new SealbusError('SEALBUS_ERR_PROTOCOL_UNKNOWN_SUBSCRIPTION', { id: frame.subscriptionId });
        this.#subscriptions.delete(frame.subscriptionId);
        subscription.close();
        return this.#send({ type: 'OK', requestId: frame.requestId });
      }
      case 'REFRESH':
        return this.#reply(frame.requestId, this.#refresh(frame.requestId, frame.token));
      case 'METADATA': {
        const metadata = this.#deps.broker.metadata(this.principal, frame.topic);
        return this.#send({ type: 'METADATA_RESULT', requestId: frame.requestId, topic: frame.topic, ...metadata });
      }
      case 'JOIN_GROUP':
        return this.#groups.join(frame).catch((err: unknown) => this.#sendError(frame.requestId, err));
      case 'HEARTBEAT':
        return this.#reply(frame.requestId, this.#groups.heartbeat(frame));
      case 'COMMIT':
        return this.#reply(frame.requestId, this.#groups.commit(frame));
      case 'LEAVE_GROUP':
        return this.#reply(frame.requestId, this.#groups.leave(frame));
      case 'INIT_PRODUCER':
        return this.#reply(
          frame.requestId,
          this.#deps.broker
            .initProducer(this.principal, frame.name)
            .then((p) => ({ type: 'PRODUCER', requestId: frame.requestId, producerId: p.producerId, epoch: p.epoch }) as const),
        );
    }
  }

  async #reply(requestId: number, work: Promise<BrokerFrame>): Promise<void> {
    try {
      this.#send(await work);
    } catch (err) {
      this.#sendError(requestId, err);
    }
  }

  #produce(frame: Extract<ClientFrame, { type: 'PRODUCE' }>): Promise<void> {
    if (this.#inFlight >= this.#deps.limits.maxInFlightPerSession) {
      throw new SealbusError('SEALBUS_ERR_PROTOCOL_TOO_MANY_IN_FLIGHT', { limit: this.#deps.limits.maxInFlightPerSession });
    }
    const refused = this.#deps.brokerLimits.quotas.admitProduce(this.principal.name, frame.records.bytes.length);
    if (refused !== null) throw refused;
    this.#inFlight++;
    const { requestId } = frame;
    const started = performance.now();
    return this.#deps.broker
      .produceBatch(this.principal, frame.topic, frame.partition, frame.records, frame.producer ?? undefined)
      .then(
        (result) => {
          this.#send({
            type: 'PRODUCE_ACK',
            requestId,
            baseOffset: result.baseOffset,
            count: result.count,
            timestamp: result.timestamp,
            duplicate: result.duplicate,
          });
          this.#deps.metrics?.produceAcked(started);
        },
        (err: unknown) => this.#sendError(requestId, err),
      )
      .finally(() => this.#inFlight--);
  }

  async #subscribe(frame: SubscribeFrame): Promise<void> {
    const { subscriptionId } = frame;
    if (this.#subscriptions.has(subscriptionId)) {
      throw new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason: `subscription ${subscriptionId} already exists` });
    }
    if (this.#subscriptions.size >= this.#deps.limits.maxSubscriptionsPerSession) {
      throw new SealbusError('SEALBUS_ERR_PROTOCOL_TOO_MANY_SUBSCRIPTIONS', { limit: this.#deps.limits.maxSubscriptionsPerSession });
    }
    const { subscription, startOffset, highWatermark } = await this.#deps.broker.subscribe(this.principal, {
      topic: frame.topic,
      partition: frame.partition,
      start: frame.start,
      credit: frame.creditBytes,
      gate: () => {
        this.#assertLive();
        this.#deps.broker.authorize(this.principal, 'consume', { kind: 'topic', name: frame.topic });
      },
      deliver: (batches, highWatermark) => this.#deliver(subscriptionId, batches, highWatermark),
      onEnd: (err) => {
        this.#subscriptions.delete(subscriptionId);
        if (err === null || this.#closed) return;
        const error = isSealbusError(err) ? err : this.#internal(err);
        this.#send({ type: 'SUBSCRIPTION_ERROR', subscriptionId, code: error.code, message: error.message, retriable: error.retriable });
      },
    });
    if (this.#closed) {
      subscription.close();
      throw new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'session closed' });
    }
    this.#subscriptions.set(subscriptionId, subscription);
    // SUBSCRIBED goes out before the first RECORDS, so the subscription starts only after it is sent.
    this.#send({ type: 'SUBSCRIBED', requestId: frame.requestId, subscriptionId, startOffset, highWatermark });
    subscription.start();
  }

  #deliver(subscriptionId: number, batches: readonly Buffer[], highWatermark: number): Promise<void> {
    if (this.#closed) return Promise.reject(new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'session closed' }));
    return this.#gate.deliver(encodeFrame({ type: 'RECORDS', subscriptionId, highWatermark, batches }));
  }

  async #refresh(requestId: number, token: string): Promise<BrokerFrame> {
    const audit = this.#deps.broker.audit;
    const attempt = { certificate: this.certificate, principal: this.principal.name, sourceIp: this.principal.sourceIp, sessionId: this.principal.sessionId, requestId: this.principal.requestId };
    let next: Principal;
    try {
      next = await this.#deps.authenticator.authenticate(this.certificate, `Bearer ${token}`);
      if (next.name !== this.principal.name) {
        throw new SealbusError('SEALBUS_ERR_AUTH_PRINCIPAL_MISMATCH', { reason: 'the subject differs' });
      }
    } catch (err) {
      audit.authFailure(attempt, isSealbusError(err) ? err.code : 'SEALBUS_ERR_INTERNAL');
      throw err;
    }
    this.principal = clientPrincipal(next, this.principal);
    audit.authSuccess(this.principal);
    this.#scheduleExpiry();
    // The new token may carry other groups or scopes: what the session holds is judged again.
    this.revalidate();
    return { type: 'REFRESHED', requestId, expiresAt: Math.min(this.#expiresAt, Number.MAX_SAFE_INTEGER) };
  }
}
