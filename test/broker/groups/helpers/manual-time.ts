import type { CoordinatorTimers } from '../../../../src/broker/groups/index.js';

/** A clock and timers that move only when the test says so: no sleeps, and deadlines are exact. */
export class ManualTime {
  now = 1_700_000_000_000;
  readonly #pending = new Map<number, { due: number; fn: () => void }>();
  #nextId = 1;

  readonly clock = (): number => this.now;

  readonly timers: CoordinatorTimers = {
    setTimeout: (fn, ms) => {
      const id = this.#nextId++;
      this.#pending.set(id, { due: this.now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (handle) => {
      this.#pending.delete(handle as number);
    },
  };

  /** Runs every timer due within `ms`, in due order, with the clock at each one's due time. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.#pending) if (entry[1].due <= end && (next === undefined || entry[1].due < next[1].due)) next = entry;
      if (next === undefined) break;
      this.#pending.delete(next[0]);
      this.now = Math.max(this.now, next[1].due);
      next[1].fn();
    }
    this.now = end;
  }

  get pendingTimers(): number {
    return this.#pending.size;
  }
}
