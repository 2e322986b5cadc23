/**
 * Watches every live WebSocket with one timer: each interval it pings them, and ends those that did
 * not answer the previous ping. A peer that vanished (a cable pulled, a host frozen, a half-open
 * TCP connection) would otherwise hold its session, subscriptions and buffers forever, since a
 * consumer on a quiet topic sends nothing. A client that stops reading its socket cannot answer
 * either (the ping waits behind the data it does not read), so it too is ended after one interval.
 *
 * Also what the metrics read about those sockets: how many, and the bytes queued for them.
 */
import type { WebSocket } from 'ws';

export interface WebSocketStats {
  readonly open: number;
  /** Bytes queued on the broker's side for all WebSockets, and for the fullest one. */
  readonly bufferedBytes: number;
  readonly maxBufferedBytes: number;
  /** Sessions ended because they answered no ping for an interval. */
  readonly unresponsiveClosed: number;
  /** Deliveries waiting for a socket to drain: subscriptions of slow consumers, not reading the log meanwhile. */
  readonly deliveriesWaiting: number;
}

export class WebSocketWatch {
  /** Each socket, and whether it answered since the last ping. */
  readonly #sockets = new Map<WebSocket, boolean>();
  readonly #timer: NodeJS.Timeout;
  readonly #onTick: () => void;
  #unresponsiveClosed = 0;
  /** Counted by the sessions' delivery gates. */
  readonly deliveries = { count: 0 };

  /** `onTick` runs at every interval too (housekeeping that needs no timer of its own). */
  constructor(intervalMs: number, onTick: () => void = () => {}) {
    this.#onTick = onTick;
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref();
  }

  add(socket: WebSocket): void {
    this.#sockets.set(socket, true);
    socket.on('pong', () => {
      if (this.#sockets.has(socket)) this.#sockets.set(socket, true);
    });
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** One round: ends the sockets that did not answer, pings the others. Public for tests. */
  tick(): void {
    for (const [socket, answered] of this.#sockets) {
      if (!answered) {
        this.#unresponsiveClosed++;
        this.#sockets.delete(socket);
        socket.terminate();
        continue;
      }
      this.#sockets.set(socket, false);
      try {
        socket.ping();
      } catch {
        // closing already: its close event removes it
      }
    }
    this.#onTick();
  }

  stats(): WebSocketStats {
    let bufferedBytes = 0;
    let maxBufferedBytes = 0;
    for (const socket of this.#sockets.keys()) {
      const buffered = socket.bufferedAmount;
      bufferedBytes += buffered;
      if (buffered > maxBufferedBytes) maxBufferedBytes = buffered;
    }
    return { open: this.#sockets.size, bufferedBytes, maxBufferedBytes, unresponsiveClosed: this.#unresponsiveClosed, deliveriesWaiting: this.deliveries.count };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#sockets.clear();
  }
}
