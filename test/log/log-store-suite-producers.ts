import { expect, it } from 'vitest';
import { expectCode, readAll, values } from './helpers/log-test-kit.js';
import type { SuiteContext } from './log-store-suite.js';

export function producerTests({ store, harness }: SuiteContext): void {
  it('allocates producer ids and bumps the epoch of a known name', async () => {
    const a = await store().initProducer('billing');
    const b = await store().initProducer(null);
    const c = await store().initProducer(null);
    expect(new Set([a.producerId, b.producerId, c.producerId]).size).toBe(3);
    expect([a.epoch, b.epoch, c.epoch]).toEqual([0, 0, 0]);
    expect(await store().initProducer('billing')).toEqual({ producerId: a.producerId, epoch: 1 });
    await expectCode(store().initProducer(''), 'SEALBUS_ERR_REQUEST_INVALID');
  });

  it('answers a retried batch with the original offsets and stores it once', async () => {
    await store().createTopic('t', { partitions: 1 });
    const { producerId, epoch } = await store().initProducer('p');
    const stamp = (baseSequence: number) => ({ producerId, epoch, baseSequence });
    const first = await store().append('t', 0, { records: values('a', 2), producer: stamp(0) });
    await store().append('t', 0, { records: values('other', 1) });
    const second = await store().append('t', 0, { records: values('b', 3), producer: stamp(2) });
    const retry = await store().append('t', 0, { records: values('a', 2), producer: stamp(0) });
    expect(retry).toEqual({ ...first, duplicate: true });
    expect(await store().append('t', 0, { records: values('b', 3), producer: stamp(2) })).toEqual({ ...second, duplicate: true });
    // A retry racing its original (both queued before either is durable) gets the same answer.
    const [x, y] = await Promise.all([
      store().append('t', 0, { records: values('c', 1), producer: stamp(5) }),
      store().append('t', 0, { records: values('c', 1), producer: stamp(5) }),
    ]);
    expect(y).toEqual({ ...x, duplicate: true });
    expect([...(await readAll(store(), 't', 0)).values()]).toEqual(['a-0', 'a-1', 'other-0', 'b-0', 'b-1', 'b-2', 'c-0']);
  });

  it('refuses sequence gaps, old retries beyond the window, fenced epochs and unknown producers', async () => {
    await store().createTopic('t', { partitions: 1 });
    const old = await store().initProducer('p');
    const gap = await expectCode(store().append('t', 0, { records: values('a', 1), producer: { ...old, baseSequence: 1 } }), 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP');
    expect(gap.message).toContain('expected 0');
    for (let i = 0; i < 7; i++) await store().append('t', 0, { records: values(`s${i}`, 1), producer: { ...old, baseSequence: i } });
    await expectCode(store().append('t', 0, { records: values('s0', 1), producer: { ...old, baseSequence: 0 } }), 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP');
    await expectCode(store().append('t', 0, { records: values('x', 1), producer: { ...old, baseSequence: 9 } }), 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP');
    const fresh = await store().initProducer('p');
    expect(fresh.epoch).toBe(old.epoch + 1);
    await expectCode(store().append('t', 0, { records: values('z', 1), producer: { ...old, baseSequence: 7 } }), 'SEALBUS_ERR_PRODUCER_FENCED');
    await store().append('t', 0, { records: values('n', 1), producer: { ...fresh, baseSequence: 0 } });
    await expectCode(
      store().append('t', 0, { records: values('u', 1), producer: { producerId: 999, epoch: 0, baseSequence: 0 } }),
      'SEALBUS_ERR_PRODUCER_UNKNOWN',
    );
    await expectCode(
      store().append('t', 0, { records: values('u', 1), producer: { ...fresh, epoch: fresh.epoch + 1, baseSequence: 0 } }),
      'SEALBUS_ERR_PRODUCER_UNKNOWN',
    );
    await expectCode(store().append('t', 0, { records: values('u', 1), producer: { ...fresh, baseSequence: -1 } }), 'SEALBUS_ERR_BATCH_INVALID');
    expect((await store().describeTopic('t')).partitions[0]!.highWatermark).toBe(8);
  });

  it('keeps producer ids, epochs and sequences across a reopen', async () => {
    const reopen = harness().reopen;
    if (reopen === undefined) return;
    await store().createTopic('t', { partitions: 1 });
    const producer = await store().initProducer('p');
    const first = await store().append('t', 0, { records: values('a', 1), producer: { ...producer, baseSequence: 0 } });
    await store().append('t', 0, { records: values('b', 1), producer: { ...producer, baseSequence: 1 } });
    const again = await reopen();
    expect(await again.append('t', 0, { records: values('a', 1), producer: { ...producer, baseSequence: 0 } })).toEqual({ ...first, duplicate: true });
    await expectCode(again.append('t', 0, { records: values('c', 1), producer: { ...producer, baseSequence: 3 } }), 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP');
    const other = await again.initProducer(null);
    expect(other.producerId).toBeGreaterThan(producer.producerId);
    expect(await again.initProducer('p')).toEqual({ producerId: producer.producerId, epoch: 1 });
  });
}
