import { errors as natsErrors, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { keyToken } from './names.js';

/** Why a request got no answer: nobody listens on the subject (its broker is gone), no answer in time, or this end is closed. */
export type BusFailure = 'no-responders' | 'timeout' | 'closed';

export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(
    readonly kind: BusFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Request/reply between brokers over the store's NATS connection (core NATS, at most once). The
 * NATS back end is private to the brokers: what comes over it is trusted as coming from a broker,
 * though still parsed with limits.
 */
export interface MessageBus {
  /** Resolves with the reply; rejects with a BusError when nobody listens, nothing answers within `timeoutMs`, or the bus is closed. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * Answers requests on `subject`. The handler is called in arrival order; its reply is sent when
   * it settles (a handler that throws sends nothing: the requester times out).
   */
  serve(subject: string, handler: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>): { close(): void };
  /** The largest message the bus carries now. */
  maxPayload(): number;
}

/** Subjects of the consumer-group traffic between brokers, under the store's prefix. */
export interface GroupSubjects {
  /** Requests to the broker coordinating groups: join, heartbeat, commit, leave, admin. */
  coordinator(brokerId: string): string;
  /** Pushes from a coordinator to the broker holding a member's session. */
  member(brokerId: string): string;
}

export function groupSubjects(prefix: string): GroupSubjects {
  return {
    coordinator: (brokerId) => `${prefix}.groups.coordinator.${keyToken(brokerId)}`,
    member: (brokerId) => `${prefix}.groups.member.${keyToken(brokerId)}`,
  };
}

/** Subject of the appends forwarded to the broker that writes a partition (docs/cluster.md, "One writer per partition"). */
export interface AppendSubjects {
  append(brokerId: string): string;
}

export function appendSubjects(prefix: string): AppendSubjects {
  return { append: (brokerId) => `${prefix}.appends.${keyToken(brokerId)}` };
}

function isNoResponders(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof natsErrors.NoRespondersError) return true;
    if (e instanceof natsErrors.RequestError && e.isNoResponders()) return true;
  }
  return false;
}

function busError(err: unknown): BusError {
  if (isNoResponders(err)) return new BusError('no-responders', 'no broker listens on the subject');
  if (err instanceof natsErrors.TimeoutError || (err instanceof Error && err.cause instanceof natsErrors.TimeoutError)) return new BusError('timeout', 'no answer in time');
  if (err instanceof natsErrors.ClosedConnectionError || err instanceof natsErrors.DrainingConnectionError) return new BusError('closed', 'the NATS connection is closed');
  return new BusError('timeout', err instanceof Error ? `${err.constructor.name}: ${err.message}`.slice(0, 200) : 'request failed');
}

/** The bus over one NATS connection; `fallbackMaxPayload` when the client does not know the server's limit (reconnecting). */
export function natsMessageBus(connection: NatsConnection, fallbackMaxPayload: () => number): MessageBus {
  return {
    async request(subject, data, timeoutMs) {
      try {
        const reply = await connection.request(subject, data, { timeout: timeoutMs });
        return reply.data;
      } catch (err) {
        throw busError(err);
      }
    },
    serve(subject, handler) {
      const subscription = connection.subscribe(subject, {
        callback: (err, msg) => {
          if (err !== null || msg.reply === undefined || msg.reply === '') return;
          // Out of the client's parse loop (the handler uses the connection itself), in arrival order.
          queueMicrotask(() => answer(msg));
        },
      });
      const answer = (msg: Msg): void => {
        let reply: Uint8Array | Promise<Uint8Array>;
        try {
          reply = handler(msg.data);
        } catch {
          return;
        }
        void Promise.resolve(reply).then(
          (data) => {
            try {
              msg.respond(data);
            } catch {
              // the connection closed: the requester times out
            }
          },
          () => undefined,
        );
      };
      return { close: () => subscription.unsubscribe() };
    },
    maxPayload: () => connection.info?.max_payload ?? fallbackMaxPayload(),
  };
}
