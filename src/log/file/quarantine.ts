import { SealbusError } from '../../errors/index.js';

/** Bytes of a segment that failed verification: never served, never dropped, their offsets never reused. */
export interface QuarantinedRange {
  /** Base offset of the segment holding the range. */
  readonly segment: number;
  readonly position: number;
  readonly bytes: number;
  readonly fromOffset: number;
  /** Last offset inside the range; below fromOffset when the damaged bytes held no offset. */
  readonly toOffset: number;
}

export class Quarantine {
  private ranges: QuarantinedRange[] = [];

  get size(): number {
    return this.ranges.length;
  }

  all(): readonly QuarantinedRange[] {
    return this.ranges;
  }

  add(range: QuarantinedRange): void {
    if (this.ranges.some((known) => known.segment === range.segment && known.position === range.position)) return;
    this.ranges.push(range);
    this.ranges.sort((a, b) => a.segment - b.segment || a.position - b.position);
  }

  containing(offset: number): QuarantinedRange | undefined {
    return this.ranges.find((range) => range.fromOffset <= offset && offset <= range.toOffset);
  }

  startingAt(segment: number, position: number): QuarantinedRange | undefined {
    return this.ranges.find((range) => range.segment === segment && range.position === position);
  }

  /** Forgets ranges in segments that retention deleted. */
  dropSegmentsBelow(baseOffset: number): void {
    this.ranges = this.ranges.filter((range) => range.segment >= baseOffset);
  }
}

export function corruptedError(topic: string, partition: number, range: QuarantinedRange): SealbusError {
  const details = { from: range.fromOffset, to: range.toOffset, next: range.toOffset + 1 };
  return new SealbusError('SEALBUS_ERR_RECORDS_CORRUPTED', { topic, partition, ...details }, { details });
}
