import { describe, it } from 'vitest';
import { brokerFramesTarget, clientFramesTarget } from './frames.js';
import { runTarget } from './run-target.js';

describe('fuzz: WebSocket frames', () => {
  it(`${clientFramesTarget.name}: decoded as the broker does, then the topic name and the records section`, () =>
    runTarget(clientFramesTarget, [
      'decodeClientFrame: ok',
      'decodeClientFrame: SEALBUS_ERR_PROTOCOL_FRAME',
      'decodeClientFrame: SEALBUS_ERR_PROTOCOL_VERSION',
      'decodeClientFrame: SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE',
      'decodeClientFrame: SEALBUS_ERR_BATCH_TOO_LARGE',
      'assertTopicName: ok',
      'assertTopicName: SEALBUS_ERR_TOPIC_NAME_INVALID',
      'validateRecords: ok',
      'validateRecords: SEALBUS_ERR_BATCH_INVALID',
      'validateRecords: SEALBUS_ERR_RECORD_TOO_LARGE',
    ]));

  it(`${brokerFramesTarget.name}: decoded as the SDK does, then every batch of a RECORDS frame`, () =>
    runTarget(brokerFramesTarget, [
      'decodeBrokerFrame: ok',
      'decodeBrokerFrame: SEALBUS_ERR_PROTOCOL_FRAME',
      'decodeBrokerFrame: SEALBUS_ERR_PROTOCOL_VERSION',
      'decodeBrokerFrame: SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE',
      'decodeRecords: ok',
      'decodeRecords: SEALBUS_ERR_BATCH_INVALID',
    ]));
});
