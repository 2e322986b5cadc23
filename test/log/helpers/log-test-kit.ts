import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { isSealbusError, type ErrorCode } from '../../../src/errors/index.js';
import { decodeRecords, encodeRecords } from '../../../src/log/record-batch.js';
import type { EncodedRecords, LogStore } from '../../../src/log/types.js';

export async function makeTempDir(prefix = 'sealbus-log-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public now = 1_700_000_000_000) {}
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/** Records whose values are `${tag}-${i}`, padded to `size` bytes. */
export function values(tag: string, count: number, size = 0): EncodedRecords {
  return encodeRecords(Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`${tag}-${i}`.padEnd(size, '.')) })));
}

export function text(value: Buffer | null): string {
  return value === null ? '<null>' : value.toString('utf8').replace(/\.+$/, '');
}

/** Reads a partition from `from` to the high watermark: offset -> value. */
export async function readAll(store: LogStore, topic: string, partition: number, from?: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = from ?? (await store.describeTopic(topic)).partitions[partition]!.logStartOffset;
  for (;;) {
    const result = await store.read(topic, partition, offset, { maxBytes: 256 * 1024 });
    if (result.batches.length === 0) return out;
    for (const batch of result.batches) for (const record of decodeRecords(batch)) if (record.offset >= offset) out.set(record.offset, text(record.value));
    offset = result.nextOffset;
  }
}

/** Asserts that `action` fails with a SealbusError of exactly `code`; returns it for further checks. */
export async function expectCode(action: Promise<unknown> | (() => unknown), code: ErrorCode) {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  if (!isSealbusError(caught)) throw caught;
  expect(caught.code).toBe(code);
  return caught;
}

/** Polls `condition` until it holds or the deadline passes (for state changed by another process). */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function segmentPath(dir: string, topic: string, partition: number, base: number, kind: 'log' | 'index' | 'timeindex' = 'log'): string {
  return join(dir, 'topics', topic, String(partition), `${String(base).padStart(20, '0')}.${kind}`);
}

/** Base offsets of a partition's segment files, oldest first. */
export async function segmentBases(dir: string, topic: string, partition: number): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(join(dir, 'topics', topic, String(partition)));
  return names
    .filter((name) => /^\d{20}\.log$/.test(name))
    .map((name) => Number(name.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** A deterministic PRNG (mulberry32), so random damage is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
