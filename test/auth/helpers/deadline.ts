/** Resolves with `promise`, or fails naming what did not happen within `ms`: a deadline, not a sleep. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A latch: `wait()` resolves on the next `signal(value)`. */
export function latch<T = void>(): { signal: (value: T) => void; wait: () => Promise<T> } {
  let resolve: ((value: T) => void) | undefined;
  let promise = new Promise<T>((r) => (resolve = r));
  return {
    signal: (value) => {
      resolve?.(value);
      promise = new Promise<T>((r) => (resolve = r));
    },
    wait: () => promise,
  };
}
