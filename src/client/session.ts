import { SealbusError, isSealbusError } from '../errors/index.js';
import {
  CLOSE_CODES,
  DEFAULT_FRAME_LIMITS,
  decodeBrokerFrame,
  encodeFrame,
  type BrokerFrame,
  type ClientFrame,
  type CreditFrame,
  type AssignmentFrame,
  type FrameLimits,
  type GroupErrorFrame,
  type GroupJoinedFrame,
  type MetadataResultFrame,
  type OkFrame,
  type ProduceAckFrame,
  type ProducerFrame,
  type RecordsFrame,
  type RefreshedFrame,
  type SubscribedFrame,
} from '../protocol/index.js';
import { resolveCredential } from './connection-options.js';
import type { FrameConnection, Transport } from './transport.js';

type WithoutRequestId<T> = T extends unknown ? Omit<T, 'requestId'> : never;
/** A request as the caller writes it: the session assigns the requestId. */
export type RequestFrame = WithoutRequestId<Exclude<ClientFrame, CreditFrame>>;

interface Replies {
  PRODUCE: ProduceAckFrame;
  SUBSCRIBE: SubscribedFrame;
  UNSUBSCRIBE: OkFrame;
  REFRESH: RefreshedFrame;
  METADATA: MetadataResultFrame;
  INIT_PRODUCER: ProducerFrame;
  JOIN_GROUP: GroupJoinedFrame;
  HEARTBEAT: OkFrame;
  COMMIT: OkFrame;
  LEAVE_GROUP: OkFrame;
}
const EXPECTED_REPLY: { readonly [K in keyof Replies]: Replies[K]['type'] } = {
  PRODUCE: 'PRODUCE_ACK',
  SUBSCRIBE: 'SUBSCRIBED',
  UNSUBSCRIBE: 'OK',
  REFRESH: 'REFRESHED',
  METADATA: 'METADATA_RESULT',
  INIT_PRODUCER: 'PRODUCER',
  JOIN_GROUP: 'GROUP_JOINED',
  HEARTBEAT: 'OK',
  COMMIT: 'OK',
  LEAVE_GROUP: 'OK',
};

const MAX_UNCLAIMED_MEMBERS = 8;
const MAX_UNCLAIMED_PUSHES = 8;

/** Receives the pushes of one group membership. */
export interface GroupListener {
  assignment(frame: AssignmentFrame): void;
  /** The broker removed the member (GROUP_ERROR), or the session closed. */
  removed(error: SealbusError): void;
}

/** Receives the pushes of one subscription. */
export interface SubscriptionListener {
  records(frame: RecordsFrame): void;
  /** The subscription is over: SUBSCRIPTION_ERROR, or the session closed. */
  ended(error: SealbusError): void;
}

export interface SessionOptions {
  /** A request unanswered for this long closes the session with SEALBUS_ERR_TIMEOUT (retriable). */
  readonly requestTimeoutMs?: number;
  readonly frameLimits?: FrameLimits;
}

interface Pending {
  readonly expected: BrokerFrame['type'];
  readonly resolve: (frame: BrokerFrame) => void;
  readonly reject: (error: SealbusError) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One WebSocket session: numbers requests and matches replies, routes pushes to subscriptions, and
 * answers TOKEN_EXPIRING with REFRESH when the token credential is a function. When the session
 * ends, every pending request and subscription fails with the same error; reconnecting is the
 * owner's choice (see `SessionSource`).
 */
export class Session {
  readonly #pending = new Map<number, Pending>();
  readonly #subscriptions = new Map<number, SubscriptionListener>();
  readonly #groups = new Map<string, GroupListener>();
  readonly #unclaimed = new Map<string, (AssignmentFrame | GroupErrorFrame)[]>();
  readonly #transport: Transport;
  readonly #options: Required<SessionOptions>;
  #connection: FrameConnection | null = null;
  #nextRequestId = 1;
  #nextSubscriptionId = 1;
  #sessionError: SealbusError | null = null;
  #closedWith: SealbusError | null = null;
  #closeListeners: ((error: SealbusError) => void)[] = [];

  private constructor(transport: Transport, options: SessionOptions) {
    this.#transport = transport;
    this.#options = {
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      frameLimits: options.frameLimits ?? DEFAULT_FRAME_LIMITS,
    };
  }

  /** Connects; rejects with the broker's error when the upgrade is refused (e.g. 401). */
  static async open(transport: Transport, options: SessionOptions = {}): Promise<Session> {
    const session = new Session(transport, options);
    session.#connection = await transport.connect({
      onFrame: (frame) => session.#onFrame(frame),
      onClose: (error) => session.#onClose(error),
    });
    return session;
  }

  get isClosed(): boolean {
    return this.#closedWith !== null;
  }

  /** Calls `listener` once the session is over (at once if it already is). */
  onClose(listener: (error: SealbusError) => void): void {
    if (this.#closedWith !== null) listener(this.#closedWith);
    else this.#closeListeners.push(listener);
  }

  request<F extends RequestFrame>(frame: F): Promise<Replies[F['type']]> {
    if (this.#closedWith !== null) return Promise.reject(this.#closedWith);
    const requestId = this.#allocateRequestId();
    let bytes: Buffer;
    try {
      // Not `{ ...frame, requestId }`: on Node 20's V8 such a literal outlives young-generation
      // collections, and with it the batch it carries (docs/benchmarks.md, "Where the time goes").
      bytes = encodeFrame(Object.assign({}, frame, { requestId }) as unknown as ClientFrame);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Replies[F['type']]>((resolve, reject) => {
      const timeoutMs = this.#options.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.close(new SealbusError('SEALBUS_ERR_TIMEOUT', { ms: timeoutMs, what: `the reply to ${frame.type}` }));
      }, timeoutMs).unref();
      this.#pending.set(requestId, {
        expected: EXPECTED_REPLY[frame.type],
        resolve: resolve as (reply: BrokerFrame) => void,
        reject,
        timer,
      });
      this.#connection?.send(bytes);
    });
  }

  /** Grants credit; not acknowledged (an ERROR for it, e.g. a subscription that just ended, is ignored). */
  credit(subscriptionId: number, creditBytes: number): void {
    if (this.#closedWith !== null) return;
    this.#connection?.send(encodeFrame({ type: 'CREDIT', requestId: this.#allocateRequestId(), subscriptionId, creditBytes }));
  }

  /** Reserves a subscription id and routes its pushes to `listener` until it ends. */
  addSubscription(listener: SubscriptionListener): number {
    const id = this.#nextSubscriptionId;
    this.#nextSubscriptionId = id >= 0xffff_ffff ? 1 : id + 1;
    this.#subscriptions.set(id, listener);
    return id;
  }

  removeSubscription(id: number): void {
    this.#subscriptions.delete(id);
  }

  /**
   * Routes the pushes of group membership `memberId` to `listener`. The broker sends the first
   * ASSIGNMENT right behind GROUP_JOINED, often in the same read, so pushes for a member nobody
   * registered yet are held (a few, briefly) and replayed here.
   */
  addGroupMember(memberId: string, listener: GroupListener): void {
    this.#groups.set(memberId, listener);
    const held = this.#unclaimed.get(memberId);
    this.#unclaimed.delete(memberId);
    for (const frame of held ?? []) {
      if (this.#groups.get(memberId) !== listener) return;
      if (frame.type === 'ASSIGNMENT') listener.assignment(frame);
      else {
        this.#groups.delete(memberId);
        listener.removed(SealbusError.fromWire({ code: frame.code, message: frame.message }));
      }
    }
  }

  removeGroupMember(memberId: string): void {
    this.#groups.delete(memberId);
  }

  #routeGroupPush(frame: AssignmentFrame | GroupErrorFrame): void {
    const listener = this.#groups.get(frame.memberId);
    if (listener === undefined) {
      // Bounded: a broker cannot make us hold more than a few pushes for members we never named.
      if (!this.#unclaimed.has(frame.memberId) && this.#unclaimed.size >= MAX_UNCLAIMED_MEMBERS) return;
      const held = this.#unclaimed.get(frame.memberId) ?? [];
      if (held.length < MAX_UNCLAIMED_PUSHES) held.push(frame);
      this.#unclaimed.set(frame.memberId, held);
      return;
    }
    if (frame.type === 'ASSIGNMENT') {
      listener.assignment(frame);
      return;
    }
    this.#groups.delete(frame.memberId);
    listener.removed(SealbusError.fromWire({ code: frame.code, message: frame.message }));
  }

  /** Ends the session. Without an error, a normal close: pending requests fail as CONNECTION_CLOSED. */
  close(error?: SealbusError): void {
    if (this.#closedWith !== null) return;
    const reason = error ?? new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'closed by the client' });
    this.#sessionError ??= reason;
    // Tell the broker when it broke the protocol; any other client-side end is a normal close.
    const protocolBroken = error?.code === 'SEALBUS_ERR_PROTOCOL_FRAME' || error?.code === 'SEALBUS_ERR_PROTOCOL_VERSION';
    this.#connection?.close(protocolBroken ? CLOSE_CODES.PROTOCOL : CLOSE_CODES.NORMAL, protocolBroken ? error.code : '');
    // The transport's onClose follows; fail everything now so callers need not wait for the peer.
    this.#onClose(reason);
  }

  #allocateRequestId(): number {
    let id = this.#nextRequestId;
    while (this.#pending.has(id)) id = id >= 0xffff_ffff ? 1 : id + 1;
    this.#nextRequestId = id >= 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  #onFrame(bytes: Buffer): void {
    if (this.#closedWith !== null) return;
    let frame: BrokerFrame;
    try {
      frame = decodeBrokerFrame(bytes, this.#options.frameLimits);
    } catch (err) {
      this.close(isSealbusError(err) ? err : new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason: String(err) }));
      return;
    }
    switch (frame.type) {
      case 'RECORDS':
        this.#subscriptions.get(frame.subscriptionId)?.records(frame);
        return;
      case 'SUBSCRIPTION_ERROR': {
        const listener = this.#subscriptions.get(frame.subscriptionId);
        this.#subscriptions.delete(frame.subscriptionId);
        listener?.ended(SealbusError.fromWire({ code: frame.code, message: frame.message }));
        return;
      }
      case 'TOKEN_EXPIRING':
        void this.#refresh();
        return;
      case 'ASSIGNMENT':
      case 'GROUP_ERROR':
        this.#routeGroupPush(frame);
        return;
      case 'ERROR':
        if (frame.requestId === 0) {
          // The broker closes the session next; this error explains why better than the close code.
          this.#sessionError = SealbusError.fromWire({ code: frame.code, message: frame.message });
          return;
        }
        this.#settle(frame.requestId, (pending) =>
          pending.reject(
            // A retry-after hint (a quota refusal) travels as a detail: the retry logic reads it there.
            SealbusError.fromWire({ code: frame.code, message: frame.message, ...(frame.retryAfterMs !== undefined && { details: { retryAfterMs: frame.retryAfterMs } }) }),
          ),
        );
        return;
      default:
        this.#settle(frame.requestId, (pending) => {
          if (pending.expected === frame.type) {
            pending.resolve(frame);
            return;
          }
          const reason = `${frame.type} answered a request that expects ${pending.expected}`;
          pending.reject(new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason }));
          this.close(new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason }));
        });
    }
  }

  #settle(requestId: number, settle: (pending: Pending) => void): void {
    const pending = this.#pending.get(requestId);
    if (pending === undefined) return; // a CREDIT's ERROR, or a reply after a timeout
    this.#pending.delete(requestId);
    clearTimeout(pending.timer);
    settle(pending);
  }

  async #refresh(): Promise<void> {
    if (typeof this.#transport.token !== 'function') return; // a fixed token cannot be renewed
    try {
      const token = await resolveCredential(this.#transport.token);
      await this.request({ type: 'REFRESH', token });
    } catch {
      // The broker closes the session at expiry; the owner then reconnects with a fresh token.
    }
  }

  #onClose(transportError: SealbusError): void {
    if (this.#closedWith !== null) return;
    const error = this.#sessionError ?? transportError;
    this.#closedWith = error;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const listener of subscriptions) listener.ended(error);
    const groups = [...this.#groups.values()];
    this.#groups.clear();
    for (const listener of groups) listener.removed(error);
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const listener of listeners) listener(error);
  }
}
