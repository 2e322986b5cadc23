import { expect, it } from 'vitest';
import { expectCode, readAll, values } from './helpers/log-test-kit.js';
import type { HarnessFactory, SuiteContext } from './log-store-suite.js';

export function retentionTests({ store, clock, harness }: SuiteContext, _factory: HarnessFactory): void {
  it('deletes the oldest sealed segments past retentionBytes, never the active one', async () => {
    await store().createTopic('t', { partitions: 1, segmentBytes: 2048, retentionBytes: 5000 });
    for (let i = 0; i < 40; i++) await store().append('t', 0, { records: values(`r${i}`, 1, 400) });
    const before = (await store().describeTopic('t')).partitions[0]!;
    expect(before.segments).toBeGreaterThan(5);
    const result = await store().enforceRetention();
    const after = (await store().describeTopic('t')).partitions[0]!;
    expect(result.deletedSegments).toBe(before.segments - after.segments);
    expect(result.deletedBytes).toBe(before.sizeBytes - after.sizeBytes);
    expect(after.sizeBytes).toBeLessThanOrEqual(5000);
    expect(after.sizeBytes + 2048).toBeGreaterThan(5000);
    expect(after.logStartOffset).toBeGreaterThan(0);
    expect(after.highWatermark).toBe(40);
    await expectCode(store().read('t', 0, 0, { maxBytes: 100 }), 'SEALBUS_ERR_OFFSET_OUT_OF_RANGE');
    const kept = await readAll(store(), 't', 0);
    expect(kept.get(39)).toBe('r39-0');
    expect(kept.size).toBe(40 - after.logStartOffset);
    expect((await store().enforceRetention()).deletedSegments).toBe(0);
    const reopen = harness().reopen;
    if (reopen === undefined) return;
    const again = await reopen();
    expect((await again.describeTopic('t')).partitions[0]).toMatchObject({ logStartOffset: after.logStartOffset, highWatermark: 40 });
  });

  it('deletes sealed segments whose newest record is older than retentionMs', async () => {
    await store().createTopic('t', { partitions: 1, segmentBytes: 2048, retentionMs: 60_000 });
    for (let i = 0; i < 10; i++) await store().append('t', 0, { records: values(`old${i}`, 1, 400) });
    clock().advance(61_000);
    for (let i = 0; i < 6; i++) await store().append('t', 0, { records: values(`new${i}`, 1, 400) });
    const result = await store().enforceRetention();
    const state = (await store().describeTopic('t')).partitions[0]!;
    expect(result.deletedSegments).toBeGreaterThan(0);
    // Every "old" record sits in a segment sealed before the clock moved, except those sharing a segment with new ones.
    const kept = await readAll(store(), 't', 0);
    expect([...kept.values()].filter((v) => v.startsWith('new'))).toHaveLength(6);
    expect(state.logStartOffset).toBeGreaterThanOrEqual(8);
    clock().advance(120_000);
    await store().enforceRetention();
    const last = (await store().describeTopic('t')).partitions[0]!;
    expect(last.segments).toBe(1);
    expect((await readAll(store(), 't', 0)).get(15)).toBe('new5-0');
  });
}
