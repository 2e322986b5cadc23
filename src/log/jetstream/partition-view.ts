import { ProducerSequences } from '../producer-sequences.js';
import type { PartitionState, ProducerStamp } from '../types.js';
import { BatchIndex } from './batch-index.js';
import { dataInvalid, type BatchMeta, type PartitionRef } from './batch-message.js';

/** The end of a partition: what the next batch is planned from. */
export interface Cursor {
  lastSeq: number;
  nextOffset: number;
  lastTimestamp: number;
  endPosition: number;
  segment: number;
  segmentStart: number;
}

/** Moves a cursor past a planned batch. */
export function advance(cursor: Cursor, meta: Omit<BatchMeta, 'seq'>): void {
  cursor.lastSeq += 1;
  cursor.nextOffset = meta.baseOffset + meta.count;
  cursor.lastTimestamp = meta.timestamp;
  cursor.endPosition = meta.position + meta.bytes;
  cursor.segment = meta.segment;
  cursor.segmentStart = meta.segmentStart;
}

/**
 * A broker's view of one partition stream: where it ends, where it starts, and the idempotent
 * producers' recent batches. Every broker keeps its own, rebuilt from the stream (the stream is the
 * truth), and moves it forward only by applying the stream's messages in order, so two brokers
 * that have applied the same prefix agree on every field. An append is planned from this view and
 * published with the view's last sequence as the expected one: if another broker got there first,
 * JetStream refuses it, the view catches up, and the append is planned again.
 */
export class PartitionView {
  /** Stream sequence of the last message applied; 0 while the stream is empty. */
  lastSeq = 0;
  /** Stream sequence of the first message held (lastSeq + 1 when none is). */
  firstSeq = 1;
  nextOffset = 0;
  lastTimestamp = 0;
  endPosition = 0;
  segment = 0;
  segmentStart = 0;
  logStartOffset = 0;
  startPosition = 0;
  firstSegment = 0;
  readonly sequences: ProducerSequences;
  readonly index = new BatchIndex();

  constructor(readonly where: PartitionRef) {
    this.sequences = new ProducerSequences(where);
  }

  /** Positions the view on a stream whose first and last messages are known (or which is empty). */
  reset(first: BatchMeta | null, last: BatchMeta | null): void {
    this.index.clear();
    if (first === null || last === null) {
      Object.assign(this, { lastSeq: 0, firstSeq: 1, nextOffset: 0, lastTimestamp: 0, endPosition: 0, segment: 0, segmentStart: 0 });
      Object.assign(this, { logStartOffset: 0, startPosition: 0, firstSegment: 0 });
      return;
    }
    if (first.seq > last.seq || first.baseOffset > last.baseOffset || first.position > last.position || first.segment > last.segment) {
      throw dataInvalid(this.where, first.seq, 'the first message lies after the last one');
    }
    this.lastSeq = last.seq;
    this.nextOffset = last.baseOffset + last.count;
    this.lastTimestamp = last.timestamp;
    this.endPosition = last.position + last.bytes;
    this.segment = last.segment;
    this.segmentStart = last.segmentStart;
    this.moveStart(first);
    this.index.add(last);
  }

  /** The stream's first message changed (retention, on this broker or another). */
  moveStart(first: BatchMeta): void {
    this.firstSeq = first.seq;
    this.logStartOffset = first.baseOffset;
    this.startPosition = first.position;
    this.firstSegment = first.segment;
    this.index.dropBelow(first.seq);
    this.index.add(first);
  }

  /** Where the view ends, as a cursor that plans can move past it without touching the view. */
  cursor(): Cursor {
    const { lastSeq, nextOffset, lastTimestamp, endPosition, segment, segmentStart } = this;
    return { lastSeq, nextOffset, lastTimestamp, endPosition, segment, segmentStart };
  }

  /** Where the next batch goes, were it appended after `from` (the view's end by default). */
  plan(count: number, bytes: number, now: number, segmentBytes: number, producer: ProducerStamp | null, from: Cursor = this.cursor()): Omit<BatchMeta, 'seq'> {
    const active = from.endPosition - from.segmentStart;
    const roll = active > 0 && active + bytes > segmentBytes;
    return {
      baseOffset: from.nextOffset,
      count,
      timestamp: Math.max(now, from.lastTimestamp),
      position: from.endPosition,
      bytes,
      segment: roll ? from.segment + 1 : from.segment,
      segmentStart: roll ? from.endPosition : from.segmentStart,
      producer,
    };
  }

  /**
   * Applies the next message of the stream. A message that does not continue the view exactly
   * (a gap, an overlap, time going back, a segment out of order) is refused: sealbus never writes
   * one, so it is damage or a foreign writer, and serving it would break the offsets.
   */
  apply(meta: BatchMeta): void {
    if (meta.seq !== this.lastSeq + 1) throw dataInvalid(this.where, meta.seq, `expected message ${this.lastSeq + 1}`);
    const sameSegment = meta.segment === this.segment && meta.segmentStart === this.segmentStart;
    const nextSegment = meta.segment === this.segment + 1 && meta.segmentStart === meta.position;
    const continues =
      meta.baseOffset === this.nextOffset &&
      meta.position === this.endPosition &&
      meta.timestamp >= this.lastTimestamp &&
      (sameSegment || nextSegment || (this.lastSeq === 0 && meta.segmentStart === meta.position));
    if (!continues) throw dataInvalid(this.where, meta.seq, `does not continue offset ${this.nextOffset} at position ${this.endPosition}`);
    if (this.lastSeq === 0) {
      this.firstSeq = meta.seq;
      this.logStartOffset = meta.baseOffset;
      this.startPosition = meta.position;
      this.firstSegment = meta.segment;
    }
    this.lastSeq = meta.seq;
    this.nextOffset = meta.baseOffset + meta.count;
    this.lastTimestamp = meta.timestamp;
    this.endPosition = meta.position + meta.bytes;
    this.segment = meta.segment;
    this.segmentStart = meta.segmentStart;
    this.remember(meta);
  }

  /** Learns from a message already inside the view: its place, and the producer batch it holds. */
  remember(meta: BatchMeta): void {
    this.index.add(meta);
    if (meta.producer !== null) {
      const { producerId, epoch, baseSequence } = meta.producer;
      this.sequences.replay(producerId, epoch, { baseSequence, count: meta.count, baseOffset: meta.baseOffset, timestamp: meta.timestamp });
    }
  }

  get empty(): boolean {
    return this.lastSeq < this.firstSeq;
  }

  describe(partition: number): PartitionState {
    return {
      partition,
      logStartOffset: this.empty ? this.nextOffset : this.logStartOffset,
      highWatermark: this.nextOffset,
      sizeBytes: this.empty ? 0 : this.endPosition - this.startPosition,
      segments: this.empty ? 1 : this.segment - this.firstSegment + 1,
      readOnly: false,
    };
  }
}
