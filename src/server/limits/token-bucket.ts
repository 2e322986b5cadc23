/**
 * A token bucket that may go into debt: a request is admitted while the balance is not negative
 * and then pays its whole cost, however large. So a batch bigger than the burst still passes (once,
 * leaving the bucket in debt until the rate has paid it back), the average stays at the rate, and
 * every check is a few arithmetic operations on numbers: no allocation, no timer, no queue.
 *
 * Time is in milliseconds from the injected clock; a clock that goes back counts as no time passed.
 */
export class TokenBucket {
  /** Tokens per millisecond. */
  readonly #ratePerMs: number;
  readonly #burst: number;
  #balance: number;
  #updatedAt: number;

  /** `ratePerSecond` and `burst` are positive; the bucket starts full. */
  constructor(ratePerSecond: number, burst: number, now: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#balance = burst;
    this.#updatedAt = now;
  }

  get ratePerSecond(): number {
    return this.#ratePerMs * 1000;
  }

  get burst(): number {
    return this.#burst;
  }

  /** The balance now (negative: in debt). */
  balance(now: number): number {
    this.#refill(now);
    return this.#balance;
  }

  /** True once the balance is back at the burst: the bucket is then the same as a new one. */
  isFull(now: number): boolean {
    return this.balance(now) >= this.#burst;
  }

  /**
   * Milliseconds until the balance is back at zero (0 when it is not in debt): how long a refused
   * client should wait. Always at least 1 when in debt, so a caller never retries at once.
   */
  waitMs(now: number): number {
    const balance = this.balance(now);
    return balance >= 0 ? 0 : Math.max(1, Math.ceil(-balance / this.#ratePerMs));
  }

  /** Pays `cost` whatever the balance; a debt deeper than `maxDebt` is forgiven down to it. */
  charge(cost: number, now: number, maxDebt = Number.POSITIVE_INFINITY): void {
    this.#refill(now);
    this.#balance = Math.max(this.#balance - cost, -maxDebt);
  }

  #refill(now: number): void {
    const elapsed = now - this.#updatedAt;
    this.#updatedAt = now;
    if (elapsed <= 0) return;
    if (this.#balance >= this.#burst) return;
    this.#balance = Math.min(this.#burst, this.#balance + elapsed * this.#ratePerMs);
  }
}
