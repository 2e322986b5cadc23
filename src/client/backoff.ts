import { SealbusError, isSealbusError } from '../errors/index.js';

/** How the SDK retries a retriable failure: exponential backoff with jitter, up to `maxAttempts`. */
export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** 10 attempts, 100 ms doubling up to 10 s. */
export const DEFAULT_RETRY: RetryOptions = Object.freeze({ maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 10_000 });

/**
 * The wait before retry number `attempt` (1 for the first retry): the exponential step capped at
 * `maxDelayMs`, half fixed and half random ("equal jitter"), so that clients that failed together
 * do not retry together, yet the wait still grows with each attempt.
 */
export function backoffDelay(attempt: number, retry: RetryOptions, random: () => number): number {
  const step = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Longest retry-after honoured: a longer one is a broker fault, not a throttle (and timers hold at most 2^31-1 ms). */
const MAX_RETRY_AFTER_MS = 3_600_000;

/** The broker's retry-after hint on an error (a quota refusal), in milliseconds, or null when it gave none. */
export function retryAfterOf(error: SealbusError): number | null {
  const hint = error.details?.['retryAfterMs'];
  return typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? Math.min(hint, MAX_RETRY_AFTER_MS) : null;
}

/**
 * The wait before retry number `attempt` after `error`: with a retry-after hint, at least the hint
 * plus up to a tenth of it (throttled clients then do not all come back at the same moment);
 * without one, `backoffDelay`.
 */
export function retryDelay(error: SealbusError, attempt: number, retry: RetryOptions, random: () => number): number {
  const hint = retryAfterOf(error);
  return hint === null ? backoffDelay(attempt, retry, random) : Math.ceil(hint + random() * (hint / 10));
}

/** Non-SealbusErrors are bugs or local failures: never retried, wrapped so callers see one type. */
export function asSealbusError(err: unknown): SealbusError {
  if (isSealbusError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason }, { cause: err });
}

/**
 * Runs `work` until it succeeds, retrying only errors marked retriable, waiting `retryDelay`
 * between attempts. `stopped` is checked before each retry so that a closing client gives up.
 */
export async function withRetries<T>(
  work: () => Promise<T>,
  options: { retry: RetryOptions; random: () => number; stopped?: () => SealbusError | null },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      const error = isSealbusError(err) ? err : null;
      if (error === null || !error.retriable || attempt >= options.retry.maxAttempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, retryDelay(error, attempt, options.retry, options.random)));
      const stop = options.stopped?.();
      if (stop) throw stop;
    }
  }
}
