import { appendSubjects, BusError, groupSubjects, type MessageBus } from '../../../../src/log/jetstream/message-bus.js';

type Handler = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Core NATS request/reply in memory: in-order delivery a microtask later, "no responders" when nobody serves a subject. */
export class MemoryNetwork {
  readonly subjects = groupSubjects('test');
  readonly appendSubjects = appendSubjects('test');
  /** Subjects whose requests are handled but whose answers never arrive: the requester times out. */
  readonly stalled = new Set<string>();
  /** Requests to lose on the way (core NATS drops messages to a reconnecting subscriber): never answered. */
  dropNext = 0;
  readonly #handlers = new Map<string, Handler>();
  maxPayload = 1024 * 1024;
  /** Requests sent, by subject: what the tests count. */
  readonly sent: string[] = [];

  bus(): MessageBus {
    return {
      request: async (subject, data, _timeoutMs) => {
        this.sent.push(subject);
        await null;
        const handler = this.#handlers.get(subject);
        if (handler === undefined) throw new BusError('no-responders', `nobody serves ${subject}`);
        if (this.dropNext > 0 && data.byteLength > 0) {
          this.dropNext--;
          return new Promise<Uint8Array>(() => {});
        }
        if (!this.stalled.has(subject)) return handler(data);
        await handler(data);
        throw new BusError('timeout', 'no answer in time');
      },
      serve: (subject, handler) => {
        this.#handlers.set(subject, handler);
        return { close: () => this.#handlers.get(subject) === handler && this.#handlers.delete(subject) };
      },
      maxPayload: () => this.maxPayload,
    };
  }

  /** The broker's NATS connection is gone: its subjects have no responders any more. */
  cut(brokerId: string): void {
    this.#handlers.delete(this.subjects.coordinator(brokerId));
    this.#handlers.delete(this.subjects.member(brokerId));
    this.#handlers.delete(this.appendSubjects.append(brokerId));
  }
}
