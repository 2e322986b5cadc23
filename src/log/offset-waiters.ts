interface Waiter {
  readonly offset: number;
  readonly resolve: (highWatermark: number) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * Long-poll fetches and WebSocket pushes park here until the high watermark passes their offset:
 * woken by the append that moves it, never by polling.
 */
export class OffsetWaiters {
  private readonly waiters = new Set<Waiter>();

  wait(offset: number, highWatermark: number, signal: AbortSignal): Promise<number> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (highWatermark > offset) return Promise.resolve(highWatermark);
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        offset,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiters.delete(waiter);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  notify(highWatermark: number): void {
    if (this.waiters.size === 0) return;
    for (const waiter of this.waiters) {
      if (highWatermark > waiter.offset) {
        this.waiters.delete(waiter);
        waiter.signal.removeEventListener('abort', waiter.onAbort);
        waiter.resolve(highWatermark);
      }
    }
  }

  /** Ends every wait with `error` (topic deleted, store closed). */
  rejectAll(error: unknown): void {
    for (const waiter of this.waiters) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(error);
    }
    this.waiters.clear();
  }

  get size(): number {
    return this.waiters.size;
  }
}
