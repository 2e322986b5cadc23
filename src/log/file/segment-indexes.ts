/**
 * The two sparse indexes of a segment, kept in memory and written beside it as `.index` and
 * `.timeindex`. Both are derived from the log and rebuilt from it whenever they are missing or do
 * not check out; the log is the truth.
 *
 *   .index      8 bytes per entry:  u32 relativeOffset | u32 position          (both strictly increasing)
 *   .timeindex 12 bytes per entry:  u64 timestamp      | u32 relativeOffset    (timestamp non-decreasing)
 *
 * An entry is added for the first batch starting INDEX_INTERVAL_BYTES or more past the previous
 * entry, so a lookup scans at most that many bytes of headers.
 */
export const INDEX_INTERVAL_BYTES = 16 * 1024;
const OFFSET_ENTRY = 8;
const TIME_ENTRY = 12;

function grow(array: Uint32Array<ArrayBuffer>, needed: number): Uint32Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const next = new Uint32Array(Math.max(needed, array.length * 2));
  next.set(array);
  return next;
}

export class OffsetIndex {
  private relatives = new Uint32Array(16);
  private positions = new Uint32Array(16);
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Position of the last entry, 0 when empty (the segment start works as an implicit entry). */
  get lastPosition(): number {
    return this.count === 0 ? 0 : this.positions[this.count - 1]!;
  }

  add(relativeOffset: number, position: number): void {
    this.relatives = grow(this.relatives, this.count + 1);
    this.positions = grow(this.positions, this.count + 1);
    this.relatives[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count++;
  }

  /** The entry with the largest relative offset <= `relativeOffset`, or the segment start. */
  floor(relativeOffset: number): { relativeOffset: number; position: number } {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.relatives[mid]! <= relativeOffset) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 ? { relativeOffset: 0, position: 0 } : { relativeOffset: this.relatives[found]!, position: this.positions[found]! };
  }

  /** The entry with the smallest position > `position`, or null. */
  after(position: number): { relativeOffset: number; position: number } | null {
    for (let i = 0; i < this.count; i++) {
      if (this.positions[i]! > position) return { relativeOffset: this.relatives[i]!, position: this.positions[i]! };
    }
    return null;
  }

  entry(i: number): { relativeOffset: number; position: number } {
    return { relativeOffset: this.relatives[i]!, position: this.positions[i]! };
  }

  /** Drops entries at or past `position` (after a truncation). */
  truncateAt(position: number): void {
    while (this.count > 0 && this.positions[this.count - 1]! >= position) this.count--;
  }

  serialize(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * OFFSET_ENTRY);
    for (let i = 0; i < this.count; i++) {
      buf.writeUInt32LE(this.relatives[i]!, i * OFFSET_ENTRY);
      buf.writeUInt32LE(this.positions[i]!, i * OFFSET_ENTRY + 4);
    }
    return buf;
  }

  /** Parses an index file; returns the reason when it cannot be trusted. */
  static parse(buf: Buffer, segmentSize: number): OffsetIndex | string {
    if (buf.length % OFFSET_ENTRY !== 0) return `size ${buf.length} is not a multiple of ${OFFSET_ENTRY}`;
    const index = new OffsetIndex();
    for (let at = 0; at < buf.length; at += OFFSET_ENTRY) {
      const relativeOffset = buf.readUInt32LE(at);
      const position = buf.readUInt32LE(at + 4);
      if (index.count > 0 && (relativeOffset <= index.relatives[index.count - 1]! || position <= index.lastPosition)) {
        return `entry ${at / OFFSET_ENTRY} does not increase`;
      }
      if (position >= segmentSize) return `entry ${at / OFFSET_ENTRY} points past the end of the segment`;
      index.add(relativeOffset, position);
    }
    return index;
  }
}

export class TimeIndex {
  private timestamps = new Float64Array(16);
  private relatives = new Uint32Array(16);
  private count = 0;

  get length(): number {
    return this.count;
  }

  last(): { timestamp: number; relativeOffset: number } | null {
    return this.count === 0 ? null : { timestamp: this.timestamps[this.count - 1]!, relativeOffset: this.relatives[this.count - 1]! };
  }

  entry(i: number): { timestamp: number; relativeOffset: number } {
    return { timestamp: this.timestamps[i]!, relativeOffset: this.relatives[i]! };
  }

  add(timestamp: number, relativeOffset: number): void {
    if (this.count > 0 && relativeOffset <= this.relatives[this.count - 1]!) return;
    if (this.count === this.timestamps.length) {
      const next = new Float64Array(this.count * 2);
      next.set(this.timestamps);
      this.timestamps = next;
    }
    this.relatives = grow(this.relatives, this.count + 1);
    this.timestamps[this.count] = timestamp;
    this.relatives[this.count] = relativeOffset;
    this.count++;
  }

  /** Relative offset of the last entry older than `timestamp`: a lookup may start scanning there. */
  lastBefore(timestamp: number): number | null {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (this.timestamps[mid]! < timestamp) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 ? null : this.relatives[found]!;
  }

  /** Drops entries past `relativeOffset`. */
  truncateAfter(relativeOffset: number): void {
    while (this.count > 0 && this.relatives[this.count - 1]! > relativeOffset) this.count--;
  }

  serialize(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * TIME_ENTRY);
    for (let i = 0; i < this.count; i++) {
      const timestamp = this.timestamps[i]!;
      buf.writeUInt32LE(timestamp % 0x1_0000_0000, i * TIME_ENTRY);
      buf.writeUInt32LE(Math.floor(timestamp / 0x1_0000_0000), i * TIME_ENTRY + 4);
      buf.writeUInt32LE(this.relatives[i]!, i * TIME_ENTRY + 8);
    }
    return buf;
  }

  static parse(buf: Buffer): TimeIndex | string {
    if (buf.length % TIME_ENTRY !== 0) return `size ${buf.length} is not a multiple of ${TIME_ENTRY}`;
    const index = new TimeIndex();
    for (let at = 0; at < buf.length; at += TIME_ENTRY) {
      const high = buf.readUInt32LE(at + 4);
      if (high > 0x1f_ffff) return `entry ${at / TIME_ENTRY} has a timestamp beyond 2^53`;
      const timestamp = high * 0x1_0000_0000 + buf.readUInt32LE(at);
      const relativeOffset = buf.readUInt32LE(at + 8);
      const previous = index.last();
      if (previous !== null && (timestamp < previous.timestamp || relativeOffset <= previous.relativeOffset)) {
        return `entry ${at / TIME_ENTRY} goes backwards`;
      }
      index.add(timestamp, relativeOffset);
    }
    return index;
  }
}
