/**
 * Label values that come from broker state (topics, groups) are capped, so that the number of
 * series a broker exports stays bounded whatever clients create. Past the cap, counters fold new
 * values into OTHER_LABEL; scrape-time gauges keep the largest values and drop the rest.
 */

/** Folded label value: never a topic or group name (those have no parentheses). */
export const OTHER_LABEL = '(other)';

/** Distinct topics with their own traffic series; the rest are counted under `(other)`. */
export const MAX_TOPIC_SERIES = 500;
/** Consumer-group lag series (group × topic × partition) exported per scrape: the largest lags. */
export const MAX_LAG_SERIES = 1000;
/** Consumer groups read per scrape to compute lag. */
export const MAX_GROUPS_SCANNED = 1000;

/**
 * One entry per label value (a running total, a metric's child), made once; past `max` values
 * every new one shares the `(other)` entry.
 */
export class BoundedEntries<T> {
  readonly #children = new Map<string, T>();
  readonly #max: number;
  readonly #make: (value: string) => T;
  #other: T | undefined;

  constructor(max: number, make: (value: string) => T) {
    this.#max = max;
    this.#make = make;
  }

  /** The entries made so far, `(other)` last. */
  *entries(): IterableIterator<[string, T]> {
    yield* this.#children;
    if (this.#other !== undefined) yield [OTHER_LABEL, this.#other];
  }

  get(value: string): T {
    const known = this.#children.get(value);
    if (known !== undefined) return known;
    if (this.#children.size >= this.#max) return (this.#other ??= this.#make(OTHER_LABEL));
    const made = this.#make(value);
    this.#children.set(value, made);
    return made;
  }
}

/** The `n` entries with the largest `weight`, in decreasing order (ties keep their order). */
export function largest<T>(entries: readonly T[], n: number, weight: (entry: T) => number): T[] {
  if (entries.length <= n) return [...entries];
  return [...entries].sort((a, b) => weight(b) - weight(a)).slice(0, n);
}
