/**
 * What a session's subscriptions push goes through: a bound on the bytes queued for the socket, and
 * the principal's consume quota. A subscription reads the log again only once its last delivery
 * resolves (src/broker/subscription.ts), so holding that promise back is what stops the reading:
 *
 * - the socket: a frame is written at once only while the bytes queued for the socket stay under
 *   the high-water mark (or nearly nothing is queued); otherwise it waits, in order, until writes
 *   complete. Whatever the number of subscriptions, at most the high-water mark plus one frame is
 *   queued for a client that stopped reading;
 * - the quota: the frame's bytes are charged to the consume quota, and when that leaves it in debt
 *   the delivery resolves only once the debt is paid back. Records are delayed, never refused.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { SealbusError } from '../../errors/index.js';

/** Below this many queued bytes a frame is written whatever its size (the socket's own buffer is 16 KiB). */
const ALWAYS_WRITE_BELOW = 64 * 1024;
const DELIVERED: Promise<void> = Promise.resolve();

interface Waiting {
  readonly frame: Buffer;
  readonly holdMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export interface DeliveryGateOptions {
  readonly highWaterBytes: number;
  /** Charges the bytes to the consume quota; returns how long (ms) to hold the delivery back. */
  readonly charge: (bytes: number) => number;
  /** Shared by the gates of a broker: how many deliveries wait for a socket to drain (metrics). */
  readonly waiting?: { count: number };
}

export class DeliveryGate {
  readonly #socket: WebSocket;
  readonly #options: DeliveryGateOptions;
  readonly #waiting: Waiting[] = [];
  readonly #held = new Map<NodeJS.Timeout, (error: Error) => void>();
  readonly #written = (err?: Error | null): void => {
    if (err === undefined || err === null) this.#pump();
  };
  #closed = false;

  /** `raw` is the socket under the WebSocket: its `drain` also releases waiting frames. */
  constructor(socket: WebSocket, raw: Duplex, options: DeliveryGateOptions) {
    this.#socket = socket;
    this.#options = options;
    raw.on('drain', () => this.#pump());
  }

  /** Frames waiting for the socket to drain. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Sends `frame` (a RECORDS frame); resolves when the subscription may read more. */
  deliver(frame: Buffer): Promise<void> {
    if (this.#closed) return Promise.reject(new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'session closed' }));
    const holdMs = this.#options.charge(frame.length);
    if (this.#waiting.length === 0 && this.#fits(frame.length)) {
      this.#socket.send(frame, this.#written);
      return holdMs === 0 ? DELIVERED : this.#hold(holdMs);
    }
    if (this.#options.waiting !== undefined) this.#options.waiting.count++;
    return new Promise((resolve, reject) => this.#waiting.push({ frame, holdMs, resolve, reject }));
  }

  /** The session ended: every delivery still waiting fails, so its subscription ends too. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: 'session closed' });
    if (this.#options.waiting !== undefined) this.#options.waiting.count -= this.#waiting.length;
    for (const waiting of this.#waiting.splice(0)) waiting.reject(error);
    for (const [timer, reject] of this.#held) {
      clearTimeout(timer);
      reject(error);
    }
    this.#held.clear();
  }

  #fits(bytes: number): boolean {
    const queued = this.#socket.bufferedAmount;
    return queued < ALWAYS_WRITE_BELOW || queued + bytes <= this.#options.highWaterBytes;
  }

  #pump(): void {
    while (!this.#closed && this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.frame.length)) {
      const next = this.#waiting.shift()!;
      if (this.#options.waiting !== undefined) this.#options.waiting.count--;
      this.#socket.send(next.frame, this.#written);
      if (next.holdMs === 0) next.resolve();
      else this.#hold(next.holdMs).then(next.resolve, next.reject);
    }
  }

  #hold(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#held.delete(timer);
        resolve();
      }, ms);
      this.#held.set(timer, reject);
    });
  }
}
