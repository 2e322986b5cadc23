import fc from 'fast-check';
import { encodeBatch, encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import type { Frame } from '../../src/protocol/index.js';

/** One valid frame of every type, with awkward values (2^53 - 1, non-ASCII text, null keys). */
export function sampleFrames(): Frame[] {
  const records = encodeRecords([
    { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ name: 'trace', value: Buffer.from('x') }] },
    { key: null, value: null },
  ]);
  const batch = encodeBatch({ baseOffset: 40, timestamp: 1_700_000_000_000 }, records);
  const stamped = encodeBatch(
    { baseOffset: 42, timestamp: 1_700_000_000_001, producerId: 9, producerEpoch: 2, baseSequence: 7 },
    encodeRecords([{ value: Buffer.from('third') }]),
  );
  return [
    { type: 'PRODUCE', requestId: 1, topic: 'orders', partition: 3, producer: null, records },
    {
      type: 'PRODUCE',
      requestId: 0xffff_ffff,
      topic: 'orders.eu',
      partition: 0,
      producer: { producerId: Number.MAX_SAFE_INTEGER, epoch: 0xfffe, baseSequence: 0x7fff_ffff },
      records,
    },
    { type: 'SUBSCRIBE', requestId: 2, subscriptionId: 5, topic: 'orders', partition: 1, start: { kind: 'offset', offset: 17 }, creditBytes: 1 << 20 },
    { type: 'SUBSCRIBE', requestId: 3, subscriptionId: 6, topic: 'orders', partition: 0, start: { kind: 'earliest' }, creditBytes: 0 },
    { type: 'SUBSCRIBE', requestId: 4, subscriptionId: 7, topic: 'orders', partition: 0, start: { kind: 'latest' }, creditBytes: 10 },
    { type: 'SUBSCRIBE', requestId: 5, subscriptionId: 8, topic: 't', partition: 2, start: { kind: 'timestamp', timestamp: 1_700_000_000_000 }, creditBytes: 10 },
    { type: 'CREDIT', requestId: 11, subscriptionId: 5, creditBytes: 65_536 },
    { type: 'UNSUBSCRIBE', requestId: 6, subscriptionId: 5 },
    { type: 'REFRESH', requestId: 7, token: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln' },
    { type: 'METADATA', requestId: 8, topic: 'orders' },
    { type: 'INIT_PRODUCER', requestId: 9, name: 'billing-ünïcode' },
    { type: 'INIT_PRODUCER', requestId: 10, name: '' },
    { type: 'PRODUCE_ACK', requestId: 1, baseOffset: 2 ** 40, count: 2, timestamp: 1_700_000_000_000, duplicate: true },
    { type: 'SUBSCRIBED', requestId: 2, subscriptionId: 5, startOffset: 17, highWatermark: 99 },
    { type: 'RECORDS', subscriptionId: 5, highWatermark: 43, batches: [batch, stamped] },
    { type: 'RECORDS', subscriptionId: 5, highWatermark: 43, batches: [] },
    { type: 'REFRESHED', requestId: 7, expiresAt: 1_700_000_900_000 },
    { type: 'METADATA_RESULT', requestId: 8, topic: 'orders', partitions: 12, maxRecordBytes: 1 << 20 },
    { type: 'METADATA_RESULT', requestId: 9, topic: 'orders', partitions: 1, maxRecordBytes: 1024, valueSchemaId: 42, keySchemaId: 7 },
    { type: 'PRODUCER', requestId: 9, producerId: 77, epoch: 3 },
    { type: 'SUBSCRIPTION_ERROR', subscriptionId: 5, code: 'SEALBUS_ERR_RECORDS_CORRUPTED', message: 'Offsets 1..2 …', retriable: false },
    { type: 'TOKEN_EXPIRING', expiresAt: 1_700_000_900_000 },
    { type: 'ERROR', requestId: 1, code: 'SEALBUS_ERR_FORBIDDEN', message: 'alice may not produce orders', retriable: false },
    { type: 'ERROR', requestId: 0, code: 'SEALBUS_ERR_SESSION_EXPIRED', message: 'expired', retriable: true },
    { type: 'ERROR', requestId: 2, code: 'SEALBUS_ERR_QUOTA_EXCEEDED', message: 'slow down', retriable: true, retryAfterMs: 250 },
    { type: 'OK', requestId: 6 },
    { type: 'JOIN_GROUP', requestId: 12, group: 'billing-ünï', strategy: 'sticky', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 60_000, topics: ['orders', 'refunds'] },
    { type: 'JOIN_GROUP', requestId: 13, group: 'g', strategy: 'range', sessionTimeoutMs: 1_000, rebalanceTimeoutMs: 1_000, topics: [] },
    { type: 'HEARTBEAT', requestId: 14, group: 'g', memberId: 'a3c1b2d4-0000-4000-8000-000000000001', generation: 7 },
    {
      type: 'COMMIT',
      requestId: 15,
      group: 'g',
      memberId: 'm1',
      generation: 0xffff_ffff,
      offsets: [
        { topic: 'orders', partition: 0, offset: Number.MAX_SAFE_INTEGER },
        { topic: 'refunds', partition: 3, offset: 0 },
      ],
    },
    { type: 'LEAVE_GROUP', requestId: 16, group: 'g', memberId: 'm1' },
    { type: 'GROUP_JOINED', requestId: 12, memberId: 'm1', heartbeatIntervalMs: 10_000 },
    {
      type: 'ASSIGNMENT',
      group: 'g',
      memberId: 'm1',
      generation: 3,
      partitions: [
        { topic: 'orders', partition: 0, committedOffset: null },
        { topic: 'orders', partition: 1, committedOffset: 2 ** 40 },
      ],
    },
    { type: 'ASSIGNMENT', group: 'g', memberId: 'm1', generation: 4, partitions: [] },
    { type: 'GROUP_ERROR', group: 'g', memberId: 'm1', code: 'SEALBUS_ERR_GROUP_SESSION_TIMEOUT', message: 'missed heartbeats', retriable: true },
  ];
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const requestId = fc.integer({ min: 1, max: 0xffff_ffff });
const u64 = fc.oneof(fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
// Up to 4 bytes per code point: 50 code points stay within the 200-byte topic limit.
const text = fc.string({ unit: 'binary', maxLength: 50 });
// Member ids are at most 64 bytes.
const memberText = fc.string({ unit: 'binary', maxLength: 16 });
const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)), { nil: null });
const recordInput: fc.Arbitrary<RecordInput> = fc.record({
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.array(fc.record({ name: fc.string({ minLength: 1, maxLength: 8 }), value: bytesOrNull }), { maxLength: 3 }),
});
const records = fc.array(recordInput, { minLength: 1, maxLength: 4 }).map(encodeRecords);
const batch = fc
  .record({ baseOffset: fc.integer({ min: 0, max: 2 ** 40 }), timestamp: u64, records })
  .map(({ baseOffset, timestamp, records: section }) => encodeBatch({ baseOffset, timestamp }, section));
const producer = fc.option(
  fc.record({ producerId: u64, epoch: fc.integer({ min: 0, max: 0xfffe }), baseSequence: fc.integer({ min: 0, max: 0x7fff_ffff }) }),
  { nil: null },
);
const start = fc.oneof(
  fc.record({ kind: fc.constant('offset' as const), offset: u64 }),
  fc.record({ kind: fc.constant('earliest' as const) }),
  fc.record({ kind: fc.constant('latest' as const) }),
  fc.record({ kind: fc.constant('timestamp' as const), timestamp: u64 }),
);

/** Any valid frame of any type. */
export const anyFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant('PRODUCE' as const), requestId, topic: text, partition: u32, producer, records }),
  fc.record({ type: fc.constant('SUBSCRIBE' as const), requestId, subscriptionId: u32, topic: text, partition: u32, start, creditBytes: u32 }),
  fc.record({ type: fc.constant('CREDIT' as const), requestId, subscriptionId: u32, creditBytes: u32 }),
  fc.record({ type: fc.constant('UNSUBSCRIBE' as const), requestId, subscriptionId: u32 }),
  fc.record({ type: fc.constant('REFRESH' as const), requestId, token: fc.string({ unit: 'binary', maxLength: 200 }) }),
  fc.record({ type: fc.constant('METADATA' as const), requestId, topic: text }),
  fc.record({ type: fc.constant('INIT_PRODUCER' as const), requestId, name: text }),
  fc.record({ type: fc.constant('PRODUCE_ACK' as const), requestId, baseOffset: u64, count: u32, timestamp: u64, duplicate: fc.boolean() }),
  fc.record({ type: fc.constant('SUBSCRIBED' as const), requestId, subscriptionId: u32, startOffset: u64, highWatermark: u64 }),
  fc.record({ type: fc.constant('RECORDS' as const), subscriptionId: u32, highWatermark: u64, batches: fc.array(batch, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('REFRESHED' as const), requestId, expiresAt: u64 }),
  fc.record({ type: fc.constant('METADATA_RESULT' as const), requestId, topic: text, partitions: u32, maxRecordBytes: u32 }),
  fc.record({ type: fc.constant('PRODUCER' as const), requestId, producerId: u64, epoch: fc.integer({ min: 0, max: 0xfffe }) }),
  fc.record({ type: fc.constant('SUBSCRIPTION_ERROR' as const), subscriptionId: u32, code: text, message: text, retriable: fc.boolean() }),
  fc.record({ type: fc.constant('TOKEN_EXPIRING' as const), expiresAt: u64 }),
  fc.record({ type: fc.constant('ERROR' as const), requestId: u32, code: text, message: text, retriable: fc.boolean(), retryAfterMs: u32 }, { requiredKeys: ['type', 'requestId', 'code', 'message', 'retriable'] }),
  fc.record({ type: fc.constant('OK' as const), requestId }),
  fc.record({
    type: fc.constant('JOIN_GROUP' as const),
    requestId,
    group: text,
    strategy: fc.constantFrom('range' as const, 'sticky' as const),
    sessionTimeoutMs: u32,
    rebalanceTimeoutMs: u32,
    topics: fc.array(text, { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('HEARTBEAT' as const), requestId, group: text, memberId: memberText, generation: u32 }),
  fc.record({
    type: fc.constant('COMMIT' as const),
    requestId,
    group: text,
    memberId: memberText,
    generation: u32,
    offsets: fc.array(fc.record({ topic: text, partition: u32, offset: u64 }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('LEAVE_GROUP' as const), requestId, group: text, memberId: memberText }),
  fc.record({ type: fc.constant('GROUP_JOINED' as const), requestId, memberId: memberText, heartbeatIntervalMs: u32 }),
  fc.record({
    type: fc.constant('ASSIGNMENT' as const),
    group: text,
    memberId: memberText,
    generation: u32,
    partitions: fc.array(fc.record({ topic: text, partition: u32, committedOffset: fc.option(u64, { nil: null }) }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('GROUP_ERROR' as const), group: text, memberId: memberText, code: text, message: text, retriable: fc.boolean() }),
);
