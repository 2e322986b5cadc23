import { SealbusError } from '../errors/index.js';
import { Session, type SessionOptions } from './session.js';
import type { Transport } from './transport.js';

/**
 * Hands out the current session, opening one when there is none or the last one closed. Callers
 * that share a source share one WebSocket; reconnect pacing (backoff) is theirs.
 */
export class SessionSource {
  readonly #transport: Transport;
  readonly #options: SessionOptions;
  #current: Promise<Session> | null = null;
  #closed = false;

  constructor(transport: Transport, options: SessionOptions = {}) {
    this.#transport = transport;
    this.#options = options;
  }

  get(): Promise<Session> {
    if (this.#closed) return Promise.reject(new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'the client is closed' }));
    if (this.#current === null) {
      const opening = Session.open(this.#transport, this.#options);
      this.#current = opening;
      opening.then(
        (session) => session.onClose(() => this.#forget(opening)),
        () => this.#forget(opening),
      );
    }
    return this.#current;
  }

  /** Closes the current session, if any, and refuses to open another. */
  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = null;
    if (current === null) return;
    try {
      (await current).close();
    } catch {
      // it never opened: nothing to close
    }
  }

  #forget(session: Promise<Session>): void {
    if (this.#current === session) this.#current = null;
  }
}
