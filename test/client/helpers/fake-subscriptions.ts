import type { SubscribeFrame } from '../../../src/protocol/index.js';
import type { FakeClient } from './fake-broker.js';

export interface StoredBatchView {
  readonly baseOffset: number;
  readonly count: number;
  readonly bytes: Buffer;
}

/** A subscription served the way the broker does: one batch per RECORDS, only while credit > 0. */
export class FakeSubscription {
  credit: number;
  position: number;
  /** Sizes of the batches sent, in order. */
  readonly sent: number[] = [];
  /** The lowest credit ever reached: at most one batch below zero if flow control holds. */
  lowestCredit: number;
  closed = false;

  constructor(
    readonly client: FakeClient,
    readonly frame: SubscribeFrame,
    startOffset: number,
    private readonly log: () => readonly StoredBatchView[],
  ) {
    this.credit = frame.creditBytes;
    this.lowestCredit = this.credit;
    this.position = startOffset;
  }

  addCredit(bytes: number): void {
    this.credit += bytes;
    this.push();
  }

  push(): void {
    for (const batch of this.log()) {
      if (this.closed || this.credit <= 0 || this.client.socket.readyState !== this.client.socket.OPEN) return;
      if (batch.baseOffset + batch.count <= this.position) continue;
      this.credit -= batch.bytes.length;
      this.lowestCredit = Math.min(this.lowestCredit, this.credit);
      this.position = batch.baseOffset + batch.count;
      this.sent.push(batch.bytes.length);
      const log = this.log();
      const last = log[log.length - 1];
      const highWatermark = last === undefined ? 0 : last.baseOffset + last.count;
      this.client.send({ type: 'RECORDS', subscriptionId: this.frame.subscriptionId, highWatermark, batches: [batch.bytes] });
    }
  }
}

/** Resolves a SUBSCRIBE's start against a log whose batch timestamps are 1.7e12 + baseOffset. */
export function resolveStart(frame: SubscribeFrame, log: readonly StoredBatchView[]): number {
  const last = log[log.length - 1];
  const end = last === undefined ? 0 : last.baseOffset + last.count;
  switch (frame.start.kind) {
    case 'earliest':
      return log[0]?.baseOffset ?? 0;
    case 'latest':
      return end;
    case 'offset':
      return frame.start.offset;
    case 'timestamp': {
      const { timestamp } = frame.start;
      return log.find((batch) => 1_700_000_000_000 + batch.baseOffset >= timestamp)?.baseOffset ?? end;
    }
  }
}
