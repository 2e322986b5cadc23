import { BusError, type MessageBus } from '../../log/jetstream/message-bus.js';

/** The body of a liveness probe: an empty request, answered at once by a broker that serves appends. */
export const PING = new Uint8Array(0);

/** `lost`: no answer will count; `gone` when because a probe found the responder gone. */
export type Watched = { readonly kind: 'answer'; readonly data: Uint8Array } | { readonly kind: 'lost'; readonly gone: boolean };

interface Watch {
  readonly waiting: Set<(gone: boolean) => void>;
  timer: NodeJS.Timeout | null;
  probing: boolean;
}

/**
 * Requests to other brokers that notice the broker's death while they wait. Core NATS never tells
 * a requester that the responder died after taking its request: it waits for its timeout. So while
 * requests to a broker are unanswered, the broker is probed (an empty request on the same subject)
 * every `probeMs`; when a probe meets no responder, its NATS connection is gone and the waiting
 * requests are answered `lost` at once (what they asked may or may not have been done). One probe
 * at a time per broker, whatever the number of waiting requests.
 */
export class OwnerWatch {
  readonly #bus: MessageBus;
  readonly #probeMs: number;
  readonly #watches = new Map<string, Watch>();

  constructor(bus: MessageBus, probeMs: number) {
    this.#bus = bus;
    this.#probeMs = probeMs;
  }

  /**
   * Sends `data` to `subject`; rejects with the bus's BusError, or resolves `lost` when the
   * responder is found gone or the caller calls the `lose` it is handed (it knows the request or
   * its answer was lost).
   */
  request(subject: string, data: Uint8Array, timeoutMs: number, handle: (lose: () => void) => void = () => {}): Promise<Watched> {
    return new Promise((resolve, reject) => {
      const watch = this.#watch(subject);
      const done = (): void => {
        watch.waiting.delete(lost);
        if (watch.waiting.size === 0) this.#stop(subject, watch);
      };
      const lost = (gone: boolean): void => {
        done();
        resolve({ kind: 'lost', gone });
      };
      watch.waiting.add(lost);
      handle(() => lost(false));
      this.#bus.request(subject, data, timeoutMs).then(
        (answer) => {
          done();
          resolve({ kind: 'answer', data: answer });
        },
        (err: unknown) => {
          done();
          reject(err);
        },
      );
    });
  }

  #watch(subject: string): Watch {
    let watch = this.#watches.get(subject);
    if (watch === undefined) {
      watch = { waiting: new Set(), timer: null, probing: false };
      this.#watches.set(subject, watch);
    }
    if (watch.timer === null) {
      const current = watch;
      current.timer = setInterval(() => this.#probe(subject, current), this.#probeMs);
      current.timer.unref();
    }
    return watch;
  }

  #stop(subject: string, watch: Watch): void {
    if (watch.timer !== null) clearInterval(watch.timer);
    watch.timer = null;
    if (!watch.probing && this.#watches.get(subject) === watch) this.#watches.delete(subject);
  }

  #probe(subject: string, watch: Watch): void {
    if (watch.probing || watch.waiting.size === 0) return;
    watch.probing = true;
    const waiting = [...watch.waiting];
    void this.#bus.request(subject, PING, this.#probeMs).then(
      () => this.#probed(subject, watch, null),
      (err: unknown) => this.#probed(subject, watch, err instanceof BusError && err.kind === 'no-responders' ? waiting : null),
    );
  }

  #probed(subject: string, watch: Watch, lost: ((gone: boolean) => void)[] | null): void {
    watch.probing = false;
    for (const settle of lost ?? []) settle(true);
    if (watch.waiting.size === 0 && watch.timer === null && this.#watches.get(subject) === watch) this.#watches.delete(subject);
  }
}
