/**
 * WebSocket frames (src/protocol): client frames as the broker decodes them, then what it does
 * next with a PRODUCE (records section, topic name); broker frames as the SDK decodes them, then
 * what it does next with a RECORDS (verifyBatch, decodeRecords). test/protocol/frames-property.test.ts
 * covers decodeFrame's round trip on random and mutated frames; these add the direction, tight
 * limits, mutations aimed at length fields, batches whose CRC an attacker made right, and the steps
 * after decoding.
 */
import fc from 'fast-check';
import type { ErrorCode } from '../../src/errors/index.js';
import { assertTopicName } from '../../src/log/topic-name.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_TYPE_CODES,
  decodeBrokerFrame,
  decodeClientFrame,
  encodeFrame,
  type BrokerFrame,
  type ClientFrame,
  type Frame,
  type FrameLimits,
} from '../../src/protocol/index.js';
import { anyFrame } from '../protocol/frame-fixtures.js';
import { ensure, ensureBounded, outcomeOf, timed, type FuzzTarget } from './contract.js';
import { byteMutations, mutateBytes, randomBytes } from './mutate-bytes.js';
import { checkRecordSection, checkStoredBatch, recordInputs, recordLimits, validBatch, withFreshCrc } from './records.js';
import { validTopicName } from './names.js';

const FRAME_CODES: readonly ErrorCode[] = [
  'SEALBUS_ERR_PROTOCOL_FRAME',
  'SEALBUS_ERR_PROTOCOL_VERSION',
  'SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE',
  'SEALBUS_ERR_BATCH_TOO_LARGE',
];

const isClient = (frame: Frame): frame is ClientFrame => FRAME_TYPE_CODES[frame.type] < 0x80;

const tightLimits: fc.Arbitrary<FrameLimits> = fc.record({
  maxFrameBytes: fc.integer({ min: 0, max: 300 }),
  maxRecordsPerProduce: fc.integer({ min: 1, max: 4 }),
  maxTopicBytes: fc.integer({ min: 0, max: 16 }),
  maxProducerNameBytes: fc.integer({ min: 0, max: 16 }),
  maxTokenBytes: fc.integer({ min: 0, max: 64 }),
  maxErrorCodeBytes: fc.integer({ min: 0, max: 16 }),
  maxErrorMessageBytes: fc.integer({ min: 0, max: 32 }),
  maxGroupBytes: fc.integer({ min: 0, max: 16 }),
  maxMemberIdBytes: fc.integer({ min: 0, max: 16 }),
  maxTopicsPerJoin: fc.integer({ min: 0, max: 3 }),
  maxOffsetsPerCommit: fc.integer({ min: 0, max: 3 }),
});

const frameLimits = fc.oneof({ weight: 4, arbitrary: fc.constant(DEFAULT_FRAME_LIMITS) }, { weight: 1, arbitrary: tightLimits });

/** PRODUCE frames with topic names the broker accepts, and records that validate. */
const produceFrame: fc.Arbitrary<ClientFrame> = fc.record({
  type: fc.constant('PRODUCE' as const),
  requestId: fc.integer({ min: 1, max: 0xffff_ffff }),
  topic: fc.oneof(validTopicName, fc.string({ maxLength: 12 })),
  partition: fc.nat({ max: 0xffff_ffff }),
  producer: fc.option(
    fc.record({ producerId: fc.maxSafeNat(), epoch: fc.integer({ min: 0, max: 0xfffe }), baseSequence: fc.integer({ min: 0, max: 0x7fff_ffff }) }),
    { nil: null },
  ),
  records: recordInputs(5).map(encodeRecords),
});

const clientFrame: fc.Arbitrary<ClientFrame> = fc.oneof(produceFrame, anyFrame.filter(isClient));
const brokerFrame: fc.Arbitrary<BrokerFrame> = fc.oneof(
  fc.record({
    type: fc.constant('RECORDS' as const),
    subscriptionId: fc.nat({ max: 0xffff_ffff }),
    highWatermark: fc.maxSafeNat(),
    batches: fc.array(validBatch, { maxLength: 3 }),
  }),
  anyFrame.filter((frame): frame is BrokerFrame => !isClient(frame)),
);

/** A frame header with a known type and random body: the decoder's per-type paths on garbage. */
const framedRandom = (codes: readonly number[]): fc.Arbitrary<Buffer> =>
  fc
    .tuple(fc.constantFrom(...codes), fc.nat({ max: 0xffff_ffff }), randomBytes(120))
    .map(([type, requestId, body]) => {
      const head = Buffer.alloc(6);
      head[0] = 1;
      head[1] = type;
      head.writeUInt32LE(requestId, 2);
      return Buffer.concat([head, body]);
    });

const CLIENT_CODES = Object.values(FRAME_TYPE_CODES).filter((code) => code < 0x80);
const BROKER_CODES = Object.values(FRAME_TYPE_CODES).filter((code) => code >= 0x80);

/** In a mutated RECORDS frame, the batches' CRCs made right again, walking them as the decoder does. */
function refreshBatchCrcs(frame: Buffer): Buffer {
  if (frame.length < 22 || frame[1] !== FRAME_TYPE_CODES.RECORDS) return frame;
  let pos = 22;
  while (pos + 46 <= frame.length) {
    const total = 12 + frame.readUInt32LE(pos + 8);
    if (total < 46 || pos + total > frame.length) break;
    withFreshCrc(frame.subarray(pos, pos + total));
    pos += total;
  }
  return frame;
}

type FrameInput = { readonly kind: 'random' | 'valid' | 'mutated' | 'other-side'; readonly bytes: Buffer; readonly limits: FrameLimits };

function frameInputs(own: fc.Arbitrary<Frame>, other: fc.Arbitrary<Frame>, codes: readonly number[], freshCrc: boolean): fc.Arbitrary<FrameInput> {
  const mutated = fc.tuple(own, byteMutations(), fc.boolean()).map(([frame, steps, crc]) => {
    const bytes = mutateBytes(encodeFrame(frame), steps);
    return freshCrc && crc ? refreshBatchCrcs(bytes) : bytes;
  });
  return fc.oneof(
    fc.record({ kind: fc.constant('random' as const), bytes: fc.oneof(randomBytes(80), framedRandom(codes)), limits: frameLimits }),
    fc.record({ kind: fc.constant('valid' as const), bytes: own.map(encodeFrame), limits: frameLimits }),
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('mutated' as const), bytes: mutated, limits: frameLimits }) },
    fc.record({ kind: fc.constant('other-side' as const), bytes: other.map(encodeFrame), limits: frameLimits }),
  );
}

/** The strings and counts a decoded frame holds, with the limit each must respect. */
function limited(frame: Frame, limits: FrameLimits): [number, number, string][] {
  const text = (value: string, max: number, what: string): [number, number, string] => [Buffer.byteLength(value), max, what];
  switch (frame.type) {
    case 'PRODUCE':
      return [text(frame.topic, limits.maxTopicBytes, 'topic'), [frame.records.count, limits.maxRecordsPerProduce, 'records']];
    case 'SUBSCRIBE':
    case 'METADATA':
    case 'METADATA_RESULT':
      return [text(frame.topic, limits.maxTopicBytes, 'topic')];
    case 'INIT_PRODUCER':
      return [text(frame.name, limits.maxProducerNameBytes, 'name')];
    case 'REFRESH':
      return [text(frame.token, limits.maxTokenBytes, 'token')];
    case 'ERROR':
    case 'SUBSCRIPTION_ERROR':
      return [text(frame.code, limits.maxErrorCodeBytes, 'code'), text(frame.message, limits.maxErrorMessageBytes, 'message')];
    case 'GROUP_ERROR':
      return [text(frame.code, limits.maxErrorCodeBytes, 'code'), text(frame.message, limits.maxErrorMessageBytes, 'message'), text(frame.memberId, limits.maxMemberIdBytes, 'memberId')];
    case 'JOIN_GROUP':
      return [text(frame.group, limits.maxGroupBytes, 'group'), [frame.topics.length, limits.maxTopicsPerJoin, 'topics'], ...frame.topics.map((t) => text(t, limits.maxTopicBytes, 'topic'))];
    case 'COMMIT':
      return [
        text(frame.group, limits.maxGroupBytes, 'group'),
        text(frame.memberId, limits.maxMemberIdBytes, 'memberId'),
        [frame.offsets.length, limits.maxOffsetsPerCommit, 'offsets'],
        ...frame.offsets.map((o) => text(o.topic, limits.maxTopicBytes, 'topic')),
      ];
    case 'HEARTBEAT':
    case 'LEAVE_GROUP':
      return [text(frame.group, limits.maxGroupBytes, 'group'), text(frame.memberId, limits.maxMemberIdBytes, 'memberId')];
    case 'GROUP_JOINED':
      return [text(frame.memberId, limits.maxMemberIdBytes, 'memberId')];
    case 'ASSIGNMENT':
      return [text(frame.memberId, limits.maxMemberIdBytes, 'memberId'), ...frame.partitions.map((p) => text(p.topic, limits.maxTopicBytes, 'topic'))];
    default:
      return [];
  }
}

/** What holds of every decoded frame: canonical (re-encodes to its bytes), within the limits, bounded. */
function checkDecoded(frame: Frame, bytes: Buffer, limits: FrameLimits): void {
  ensure(bytes.length <= limits.maxFrameBytes, `a frame of ${bytes.length} bytes passed maxFrameBytes ${limits.maxFrameBytes}`);
  ensure(encodeFrame(frame).equals(bytes), `an accepted ${frame.type} does not re-encode to its bytes`);
  for (const [size, max, what] of limited(frame, limits)) ensure(size <= max, `${frame.type}: ${what} of ${size} passed a limit of ${max}`);
  ensureBounded(frame, bytes.length, 2);
}

/** The broker's side: decodeClientFrame, then for a PRODUCE the topic name and the records section. */
function atBroker({ kind, bytes, limits }: FrameInput, recordLimitsOfCase: Parameters<typeof checkRecordSection>[1]): void {
  const decoded = outcomeOf('decodeClientFrame', FRAME_CODES, () => decodeClientFrame(bytes, limits));
  if (!decoded.ok) {
    ensure(kind !== 'valid' || limits !== DEFAULT_FRAME_LIMITS, () => `a valid client frame was refused: ${decoded.error.message}`);
    if (decoded.error.code === 'SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE') ensure(bytes.length > limits.maxFrameBytes, 'FRAME_TOO_LARGE for a frame within the limit');
    if (decoded.error.code === 'SEALBUS_ERR_PROTOCOL_VERSION') ensure(bytes[0] !== 1, 'PROTOCOL_VERSION for a version 1 frame');
    return;
  }
  const frame = decoded.value;
  ensure(isClient(frame), `decodeClientFrame returned a broker frame (${frame.type})`);
  checkDecoded(frame, bytes, limits);
  if (frame.type !== 'PRODUCE') return;
  outcomeOf('assertTopicName', ['SEALBUS_ERR_TOPIC_NAME_INVALID'], () => assertTopicName(frame.topic));
  checkRecordSection(frame.records, recordLimitsOfCase);
}

/** The SDK's side: decodeBrokerFrame, then for RECORDS each batch as the consumer takes it. */
function atSdk({ kind, bytes, limits }: FrameInput): void {
  // A PRODUCE from the broker is refused by its record count before its direction.
  const codes = bytes[1] === FRAME_TYPE_CODES.PRODUCE ? FRAME_CODES : FRAME_CODES.filter((code) => code !== 'SEALBUS_ERR_BATCH_TOO_LARGE');
  const decoded = outcomeOf('decodeBrokerFrame', codes, () => decodeBrokerFrame(bytes, limits));
  if (!decoded.ok) {
    ensure(kind !== 'valid' || limits !== DEFAULT_FRAME_LIMITS, () => `a valid broker frame was refused: ${decoded.error.message}`);
    return;
  }
  const frame = decoded.value;
  ensure(!isClient(frame), `decodeBrokerFrame returned a client frame (${frame.type})`);
  checkDecoded(frame, bytes, limits);
  if (frame.type !== 'RECORDS') return;
  for (const batch of frame.batches) {
    const records = checkStoredBatch(batch);
    if (kind === 'valid') ensure(records !== null, 'a valid batch in a RECORDS frame was refused');
  }
}

export const clientFramesTarget: FuzzTarget = {
  name: 'frames/client-at-broker',
  covers: 'decodeClientFrame (src/protocol/decode.ts, frame-reader.ts, group-codec.ts), then assertTopicName and validateRecords for PRODUCE',
  weight: 180,
  quickRuns: 2000,
  async build() {
    return {
      property: fc.property(frameInputs(clientFrame, anyFrame.filter((frame) => !isClient(frame)), CLIENT_CODES, false), recordLimits, (input, limits) => {
        timed('client frame', () => atBroker(input, limits));
      }),
    };
  },
};

export const brokerFramesTarget: FuzzTarget = {
  name: 'frames/broker-at-sdk',
  covers: 'decodeBrokerFrame (src/protocol), then verifyBatch and decodeRecords for each RECORDS batch',
  weight: 150,
  quickRuns: 2000,
  async build() {
    return {
      property: fc.property(frameInputs(brokerFrame, clientFrame, BROKER_CODES, true), (input) => {
        timed('broker frame', () => atSdk(input));
      }),
    };
  },
};
