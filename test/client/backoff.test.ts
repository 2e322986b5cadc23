import { describe, expect, it } from 'vitest';
import { backoffDelay, withRetries } from '../../src/client/backoff.js';
import { SealbusError } from '../../src/errors/index.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import { recordBodyBytes, toRecordInput } from '../../src/client/records.js';

const retry = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000 };

describe('backoffDelay', () => {
  it('doubles each attempt up to the cap, with half of each step random', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, retry, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, retry, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
  });
});

describe('withRetries', () => {
  const fast = { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 }, random: () => 0 };

  it('retries retriable errors up to maxAttempts', async () => {
    let calls = 0;
    const work = async (): Promise<string> => {
      calls++;
      throw new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'x' });
    };
    await expect(withRetries(work, fast)).rejects.toMatchObject({ code: 'SEALBUS_ERR_UNAVAILABLE' });
    expect(calls).toBe(3);
  });

  it('never retries a non-retriable error', async () => {
    let calls = 0;
    const work = async (): Promise<string> => {
      calls++;
      throw new SealbusError('SEALBUS_ERR_FORBIDDEN', { principal: 'p', action: 'a', resource: 'r' });
    };
    await expect(withRetries(work, fast)).rejects.toMatchObject({ code: 'SEALBUS_ERR_FORBIDDEN' });
    expect(calls).toBe(1);
  });

  it('returns the first success', async () => {
    let calls = 0;
    const work = async (): Promise<number> => {
      if (++calls < 2) throw new SealbusError('SEALBUS_ERR_TIMEOUT', { ms: 1, what: 'x' });
      return calls;
    };
    await expect(withRetries(work, fast)).resolves.toBe(2);
  });
});

describe('recordBodyBytes', () => {
  it('agrees with the records section encoder', () => {
    const input = toRecordInput({
      topic: 't',
      key: 'clé',
      value: new Uint8Array([1, 2, 3]),
      headers: [{ name: 'ünï', value: 'v' }, { name: 'n', value: null }],
    });
    expect(encodeRecords([input]).bytes.length).toBe(4 + recordBodyBytes(input));
    const empty = toRecordInput({ topic: 't', value: null });
    expect(encodeRecords([empty]).bytes.length).toBe(4 + recordBodyBytes(empty));
  });
});
