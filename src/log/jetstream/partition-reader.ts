import { SealbusError } from '../../errors/index.js';
import type { ReadOptions, ReadResult } from '../types.js';
import { dataInvalid, type BatchMeta } from './batch-message.js';
import type { JetStreamPartition } from './jetstream-partition.js';

/** At most this many messages are fetched at once by one read. */
const MAX_WINDOW = 16;

function outOfRange(partition: JetStreamPartition, offset: number): SealbusError {
  const view = partition.view;
  return new SealbusError('SEALBUS_ERR_OFFSET_OUT_OF_RANGE', {
    offset,
    logStartOffset: view.empty ? view.nextOffset : view.logStartOffset,
    highWatermark: view.nextOffset,
    topic: partition.topic.name,
    partition: partition.partition,
  });
}

/** How many messages one round of a read asks for: about what maxBytes and maxRecords hold, judged by the average batch. */
function windowFor(partition: JetStreamPartition, options: ReadOptions): number {
  const view = partition.view;
  const messages = Math.max(1, view.lastSeq - view.firstSeq + 1);
  const averageBytes = Math.max(1, (view.endPosition - view.startPosition) / messages);
  const averageRecords = Math.max(1, (view.nextOffset - view.logStartOffset) / messages);
  let window = Math.ceil(options.maxBytes / averageBytes);
  if (options.maxRecords !== undefined) window = Math.min(window, Math.ceil(options.maxRecords / averageRecords));
  return Math.max(1, Math.min(MAX_WINDOW, window));
}

/**
 * The stream sequence of the batch holding `offset`: straight from the index when a known batch
 * touches it, else by binary search over the sequences (each probe is one message fetched).
 * Null when retention removed it meanwhile.
 */
async function locate(partition: JetStreamPartition, offset: number): Promise<number | null> {
  const view = partition.view;
  const location = view.index.locate(offset, view.firstSeq, view.lastSeq);
  if (location.kind === 'exact') return location.seq;
  let { low, high } = location;
  while (low < high) {
    const mid = Math.floor((low + high + 1) / 2);
    const probe = await partition.stream.get(mid);
    if (probe === null) return null;
    view.index.add(probe.meta);
    if (probe.meta.baseOffset <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** See LogStore.read: whole verified batches from the one holding `offset`, within the limits. */
export async function readPartition(partition: JetStreamPartition, offset: number, options: ReadOptions): Promise<ReadResult> {
  await partition.ready();
  // At or past this broker's end, other brokers may have appended: look before answering.
  if (offset >= partition.view.nextOffset) await partition.refresh();
  const view = partition.view;
  const highWatermark = view.nextOffset;
  const logStartOffset = view.empty ? highWatermark : view.logStartOffset;
  if (offset < logStartOffset || offset > highWatermark) throw outOfRange(partition, offset);
  const empty = { batches: [], highWatermark, logStartOffset, nextOffset: offset };
  if (offset === highWatermark) return empty;
  const lastSeq = view.lastSeq;
  const located = await locate(partition, offset);
  if (located === null) {
    await partition.refresh();
    throw outOfRange(partition, offset);
  }
  const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
  const window = windowFor(partition, options);
  const batches: Buffer[] = [];
  let bytes = 0;
  let records = 0;
  let nextOffset = offset;
  let seq = located;
  while (seq <= lastSeq) {
    const count = Math.min(window, lastSeq - seq + 1);
    const from = seq;
    const fetched = await Promise.all(Array.from({ length: count }, (_, i) => partition.stream.get(from + i)));
    for (const message of fetched) {
      if (message === null) {
        // Retention removed it while this read ran.
        if (batches.length > 0) return { batches, highWatermark, logStartOffset, nextOffset };
        await partition.refresh();
        throw outOfRange(partition, offset);
      }
      const meta: BatchMeta = message.meta;
      const end = meta.baseOffset + meta.count;
      const continues = batches.length === 0 ? meta.baseOffset <= offset && offset < end : meta.baseOffset === nextOffset;
      if (!continues) throw dataInvalid(view.where, meta.seq, `does not hold offset ${nextOffset}`);
      if (batches.length > 0 && (bytes + message.batch.length > options.maxBytes || records >= maxRecords)) {
        return { batches, highWatermark, logStartOffset, nextOffset };
      }
      view.index.add(meta);
      batches.push(message.batch);
      bytes += message.batch.length;
      records += end - Math.max(offset, meta.baseOffset);
      nextOffset = end;
    }
    seq += count;
  }
  return { batches, highWatermark, logStartOffset, nextOffset };
}

/** See LogStore.offsetForTimestamp: batch timestamps never go back, so a binary search over sequences finds it. */
export async function offsetForTimestamp(partition: JetStreamPartition, timestamp: number, attempts = 3): Promise<number> {
  await partition.refresh();
  // Retention elsewhere can remove probed messages: start over from the new first message, a few times.
  const again = (): Promise<number> => {
    if (attempts <= 1) throw dataInvalid(partition.view.where, partition.view.firstSeq, 'messages keep disappearing under the search');
    return offsetForTimestamp(partition, timestamp, attempts - 1);
  };
  const view = partition.view;
  if (view.empty) return view.nextOffset;
  let { low, high } = view.index.timeRange(timestamp, view.firstSeq, view.lastSeq);
  let found: BatchMeta | null = null;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    const probe = await partition.stream.get(mid);
    if (probe === null) return again();
    view.index.add(probe.meta);
    if (probe.meta.timestamp >= timestamp) {
      high = mid;
      found = probe.meta;
    } else {
      low = mid + 1;
    }
  }
  if (low > view.lastSeq) return view.nextOffset;
  if (found !== null && found.seq === low) return found.baseOffset;
  const message = await partition.stream.get(low);
  if (message === null) return again();
  return message.meta.baseOffset;
}
