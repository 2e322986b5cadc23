import { BusError, groupSubjects, type MessageBus } from '../../../../src/log/jetstream/message-bus.js';

type Handler = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Core NATS request/reply in memory: in-order delivery a microtask later, "no responders" when nobody serves a subject. */
export class MemoryNetwork {
  readonly subjects = groupSubjects('test');
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
        return handler(data);
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
  }
}
