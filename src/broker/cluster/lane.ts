const SETTLED: Promise<void> = Promise.resolve();

/** One append's place in its lane. */
export interface Turn {
  /** Settles once every earlier append of the lane was handed to this broker's store, or settled. */
  readonly handedBefore: Promise<void>;
  /** Settles once every earlier append of the lane settled. */
  readonly settledBefore: Promise<void>;
  /** This append was handed to this broker's store: its place there is fixed. */
  handed(): void;
  /** This append settled (idempotent; also marks it handed). */
  settled(): void;
}

/**
 * Where one idempotent producer's appends to one partition go while some are unanswered: all to
 * one broker (the partition's owner when the first was sent, or this broker), so that its batches
 * never reach the stream through two brokers at once, out of order, where the later one would be
 * refused as a sequence gap. An owner change waits until the lane drains.
 *
 * And in which order the producer hears of them. An append that falls back to this broker is
 * handed to the store after the lane's earlier appends were (locally) or settled (forwarded); a
 * forwarded append's outcome is given after every earlier one's. So when a batch fails and the
 * ones behind it are refused as out of sequence, the producer sees the failure first, and sends
 * them all again in order (see src/client/partition-pipeline.ts).
 */
export class Lane {
  target: string;
  /** Appends of the lane not settled yet. */
  count = 0;
  /** The lane's forwards still unanswered, oldest first: what settles one as lost. */
  readonly forwards: { lose: () => void }[] = [];
  #handed = SETTLED;
  #settled = SETTLED;

  constructor(target: string) {
    this.target = target;
  }

  take(): Turn {
    let handed = (): void => {};
    let settled = (): void => {};
    const turn: Turn = {
      handedBefore: this.#handed,
      settledBefore: this.#settled,
      handed: () => handed(),
      settled: () => {
        handed();
        settled();
      },
    };
    this.#handed = Promise.all([this.#handed, new Promise<void>((resolve) => (handed = resolve))]).then(() => undefined);
    this.#settled = Promise.all([this.#settled, new Promise<void>((resolve) => (settled = resolve))]).then(() => undefined);
    return turn;
  }
}
