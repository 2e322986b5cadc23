import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords } from '../../src/log/index.js';
import type { BrokerFrame } from '../../src/protocol/index.js';
import { connectRawSession, type RawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const one = encodeRecords([{ value: Buffer.from('x') }]);

const session = connectRawSession;

async function initProducer(s: RawSession, requestId: number, name: string): Promise<{ producerId: number; epoch: number }> {
  s.send({ type: 'INIT_PRODUCER', requestId, name });
  const reply = await s.next((f: BrokerFrame) => 'requestId' in f && f.requestId === requestId);
  if (reply.type !== 'PRODUCER') throw new Error(`INIT_PRODUCER failed: ${JSON.stringify(reply)}`);
  return { producerId: reply.producerId, epoch: reply.epoch };
}

/** Named (fencing) producers: a name is scoped to its principal, so nobody can fence another's producer. */
describe('named idempotent producers', () => {
  let t: TestBroker;
  beforeAll(async () => {
    // A second administrator, so that two principals may both produce.
    t = await startTestBroker({
      policies: {
        'admins.yaml': [
          'version: 1',
          'rules:',
          '  - id: admins',
          '    effect: allow',
          '    principals: [{ name: admin }, { name: other-admin }]',
          '    resources: [{ topic: ">" }]',
          '    actions: [produce, consume, describe, create]',
        ].join('\n'),
      },
    });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'named', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('fences the older instance when the same principal registers the same name again', async () => {
    const first = await session(t, t.admin);
    const old = await initProducer(first, 1, 'billing');
    const second = await session(t, t.admin);
    const renewed = await initProducer(second, 1, 'billing');
    expect(renewed.producerId).toBe(old.producerId);
    expect(renewed.epoch).toBe(old.epoch + 1);
    first.send({ type: 'PRODUCE', requestId: 2, topic: 'named', partition: 0, producer: { ...old, baseSequence: 0 }, records: one });
    expect(await first.next((f) => 'requestId' in f && f.requestId === 2)).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_PRODUCER_FENCED' });
    first.close();
    second.close();
  });

  it("never hands another principal's producer id to a principal using the same name", async () => {
    const other = await t.client('other-admin');
    const mine = await initProducer(await session(t, t.admin), 1, 'shared-name');
    const theirs = await initProducer(await session(t, other), 1, 'shared-name');
    expect(theirs.producerId).not.toBe(mine.producerId);
    expect(theirs.epoch).toBe(0);
  });
});
