import { describe, expect, it } from 'vitest';
import { isSealbusError } from '../../src/errors/index.js';
import { TOPIC_DEFAULTS, resolveTopicConfig, validateTopicDefaults } from '../../src/log/topic-config.js';

function keyOf(action: () => unknown): unknown {
  try {
    action();
  } catch (err) {
    if (isSealbusError(err, 'SEALBUS_ERR_TOPIC_CONFIG_INVALID')) return err.details?.['key'];
    throw err;
  }
  throw new Error('expected SEALBUS_ERR_TOPIC_CONFIG_INVALID');
}

describe('topic configuration', () => {
  it('fills in the documented defaults and freezes the result', () => {
    const config = resolveTopicConfig({ partitions: 4 });
    expect(config).toEqual({
      partitions: 4,
      retentionMs: null,
      retentionBytes: null,
      maxRecordBytes: 1024 * 1024,
      maxBatchBytes: 16 * 1024 * 1024,
      segmentBytes: 128 * 1024 * 1024,
      fsync: { mode: 'always' },
      attributes: {},
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.fsync)).toBe(true);
    expect(Object.isFrozen(TOPIC_DEFAULTS)).toBe(true);
  });

  it('layers the request over the store defaults over the built-in ones', () => {
    const defaults = validateTopicDefaults({ segmentBytes: 4096, retentionMs: 1000, fsync: { mode: 'interval', intervalMs: 50 } });
    const config = resolveTopicConfig({ partitions: 1, retentionMs: null, attributes: { schema: 'orders-v1' } }, defaults);
    expect(config).toMatchObject({ segmentBytes: 4096, retentionMs: null, fsync: { mode: 'interval', intervalMs: 50 }, attributes: { schema: 'orders-v1' } });
  });

  it('names the offending key, in the request or in the store defaults', () => {
    expect(keyOf(() => resolveTopicConfig({ partitions: 1, maxBatchBytes: 10 }))).toBe('maxBatchBytes');
    expect(keyOf(() => resolveTopicConfig({ partitions: 1.5 }))).toBe('partitions');
    expect(keyOf(() => resolveTopicConfig({ partitions: 1, segmentBytes: 2 ** 31 }))).toBe('segmentBytes');
    expect(keyOf(() => resolveTopicConfig({ partitions: 1, fsync: { mode: 'always', intervalMs: 5 } }))).toBe('fsync.intervalMs');
    expect(keyOf(() => resolveTopicConfig({ partitions: 1, fsync: { mode: 'interval', intervalMs: 5, extra: 1 } }))).toBe('fsync.extra');
    expect(keyOf(() => resolveTopicConfig({ partitions: 1, attributes: [] }))).toBe('attributes');
    expect(keyOf(() => resolveTopicConfig(null))).toBe('partitions');
    expect(keyOf(() => validateTopicDefaults({ retentionBytes: 0 }))).toBe('retentionBytes');
    expect(keyOf(() => validateTopicDefaults({ colour: 'blue' } as never))).toBe('colour');
  });
});
