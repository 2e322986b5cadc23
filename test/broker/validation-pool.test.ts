/**
 * The validation threads give the verdict the main thread gives, record for record (the same
 * check runs in both), and a thread that cannot start or dies never costs a verdict: the caller
 * is told to check the batch itself.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MIN_POOL_BYTES, MIN_POOL_NANOS_PER_BYTE, OffloadPace, RING_BYTES, ValidationPool, type ValidationJob } from '../../src/broker/validation-pool.js';
import { encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import { KEY_SCHEMA_ID_HEADER, SCHEMA_ID_HEADER, compileValidator, type JsonSchema } from '../../src/schema/index.js';
import { checkSection, type SectionCheckOptions } from '../../src/schema/section-check.js';
import { ORDER_SCHEMA, orderValue } from '../../bench/fixtures/orders.js';
import { waitFor } from '../helpers/wait-for.js';

const KEY_SCHEMA: JsonSchema = { type: 'string', pattern: '^customer-[0-9]+$' };
const SUBJECTS = [
  { subject: 'value' as const, schemaId: 7, schema: ORDER_SCHEMA },
  { subject: 'key' as const, schemaId: 9, schema: KEY_SCHEMA },
];

function record(value: unknown, options: { key?: string; valueId?: string; keyId?: string } = {}): RecordInput {
  return {
    key: Buffer.from(JSON.stringify(options.key ?? 'customer-42')),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: [
      { name: SCHEMA_ID_HEADER, value: Buffer.from(options.valueId ?? '7') },
      { name: KEY_SCHEMA_ID_HEADER, value: Buffer.from(options.keyId ?? '9') },
    ],
  };
}

/** 100 orders of ~870 bytes (a batch the pool takes), with `change` applied to some of them. */
function batch(change: (index: number) => RecordInput | null = () => null): RecordInput[] {
  return Array.from({ length: 100 }, (_, index) => change(index) ?? record(orderValue()));
}

function inline(records: RecordInput[], options: SectionCheckOptions) {
  const validators = new Map(SUBJECTS.map((s) => [s.schemaId, compileValidator(s.schema)]));
  return checkSection(encodeRecords(records), SUBJECTS, (id) => validators.get(id)!, options);
}

describe('ValidationPool', () => {
  const pools: ValidationPool[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function readyPool(): Promise<ValidationPool> {
    const pool = new ValidationPool(1);
    pools.push(pool);
    const probe: ValidationJob = { section: encodeRecords(batch()), subjects: SUBJECTS, options: { encrypted: false, firstInvalidOnly: false } };
    expect(pool.run(probe)).toBeNull(); // the thread is loading: the caller checks the batch itself
    await waitFor(() => pool.ready === 1, 'the validation thread is ready', 20_000);
    return pool;
  }

  it('gives the main thread\'s verdict: valid, invalid records in order, a stale id, reject mode', async () => {
    const pool = await readyPool();
    const cases: { name: string; records: RecordInput[]; options: SectionCheckOptions }[] = [
      { name: 'all valid', records: batch(), options: { encrypted: false, firstInvalidOnly: false } },
      {
        name: 'dead-letter mode: every invalid record',
        records: batch((i) =>
          i === 3 ? record({ ...orderValue(), currency: 'XXX' }) : i === 50 ? record(orderValue(), { key: 'nobody' }) : i === 77 ? record('{"id": 1,') : null,
        ),
        options: { encrypted: false, firstInvalidOnly: false },
      },
      { name: 'reject mode: the first only', records: batch((i) => (i === 10 || i === 20 ? record({ ...orderValue(), id: 0 }) : null)), options: { encrypted: false, firstInvalidOnly: true } },
      { name: 'a stale id after an invalid record', records: batch((i) => (i === 5 ? record({}) : i === 60 ? record(orderValue(), { keyId: '8' }) : null)), options: { encrypted: false, firstInvalidOnly: false } },
      { name: 'encrypted: ids only', records: batch((i) => (i === 2 ? record('not json at all') : null)), options: { encrypted: true, firstInvalidOnly: false } },
    ];
    for (const { name, records, options } of cases) {
      const expected = inline(records, options);
      const verdict = await pool.run({ section: encodeRecords(records), subjects: SUBJECTS, options });
      expect(verdict, name).toEqual(expected);
    }
    expect(inline(cases[1]!.records, cases[1]!.options)).toMatchObject({
      kind: 'checked',
      invalid: [
        { index: 3, subject: 'value', pointer: '/currency' },
        { index: 50, subject: 'key', pointer: '/' },
        { index: 77, subject: 'value', pointer: '/' },
      ],
    });
    expect(inline(cases[3]!.records, cases[3]!.options)).toMatchObject({ kind: 'stale', record: 60, subject: 'key', given: '8', current: 9 });
  });

  it('keeps each batch apart in the shared ring while many are in flight and it wraps around, and takes a batch larger than the ring as a copy', async () => {
    const pool = await readyPool();
    const options: SectionCheckOptions = { encrypted: false, firstInvalidOnly: false };
    // 120 batches of ~87 KB, 12 in flight at a time: the ring (4 MiB) wraps around twice. Batch n
    // has its invalid record at index n % 100, so an answer computed on another batch's bytes would show.
    const batches = Array.from({ length: 120 }, (_, n) => batch((i) => (i === n % 100 ? record({ ...orderValue(), qty: 'many', id: -n }) : null)));
    expect(batches.reduce((sum, records) => sum + encodeRecords(records).bytes.length, 0)).toBeGreaterThan(2 * RING_BYTES);
    for (let wave = 0; wave < batches.length; wave += 12) {
      const sent = batches.slice(wave, wave + 12);
      const verdicts = await Promise.all(
        sent.map((records, n) => {
          const running = pool.run({ section: encodeRecords(records), subjects: SUBJECTS, options });
          expect(running, `batch ${wave + n}`).not.toBeNull();
          return running!;
        }),
      );
      verdicts.forEach((verdict, n) => expect(verdict, `batch ${wave + n}`).toEqual(inline(sent[n]!, options)));
    }
    // Larger than the ring: posted as its own copy, the same verdict.
    const huge = Array.from({ length: Math.ceil((RING_BYTES * 1.2) / 900) }, () => record(orderValue()));
    huge[7] = record('{"id": 1,');
    expect(encodeRecords(huge).bytes.length).toBeGreaterThan(RING_BYTES);
    expect(await pool.run({ section: encodeRecords(huge), subjects: SUBJECTS, options })).toEqual(inline(huge, options));
  });

  it('stops starting threads that die while loading, and keeps answering null (checks stay inline)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealbus-pool-'));
    dirs.push(dir);
    const broken = join(dir, 'broken-worker.mjs');
    await writeFile(broken, "throw new Error('cannot load');\n");
    const pool = new ValidationPool(1, pathToFileURL(broken));
    pools.push(pool);
    const job: ValidationJob = { section: encodeRecords(batch()), subjects: SUBJECTS, options: { encrypted: false, firstInvalidOnly: false } };
    // Each run on an empty place starts a thread; each dies while loading. After three, none starts.
    await waitFor(() => {
      expect(pool.run(job)).toBeNull();
      return pool.starts.failedBeforeReady >= 3;
    }, 'three threads died while loading');
    for (let i = 0; i < 20; i++) expect(pool.run(job)).toBeNull();
    expect(pool.starts).toEqual({ started: 3, failedBeforeReady: 3 });
    expect(pool.ready).toBe(0);
  });
});

describe('OffloadPace: which batches are worth a hop to a thread', () => {
  const large = 2 * MIN_POOL_BYTES;
  /** The µs a check of `bytes` takes at `times` the threshold pace. */
  const micros = (bytes: number, times: number): number => (bytes * MIN_POOL_NANOS_PER_BYTE * times) / 1000;

  it('checks a topic in place until its pace is known, then sends only batches of records slower than the threshold', () => {
    const pace = new OffloadPace();
    expect(pace.offload('slow', large)).toBe(false);
    // Until a window of 8 checks is measured (the first ones run cold), checks stay in place.
    for (let i = 0; i < 7; i++) pace.measured('slow', large, micros(large, 2));
    expect(pace.offload('slow', large)).toBe(false);
    pace.measured('slow', large, micros(large, 2));
    for (let i = 0; i < 8; i++) pace.measured('fast', 4 * large, micros(4 * large, 0.5));
    expect(pace.offload('slow', large)).toBe(true);
    expect(pace.offload('slow', MIN_POOL_BYTES - 1)).toBe(false);
    // However large the batch: its records are cheap to check.
    expect(pace.offload('fast', 64 * large)).toBe(false);
    // One slow check (the thread was preempted) changes nothing; a window of them (the records changed) does.
    pace.measured('fast', large, micros(large, 4));
    expect(pace.offload('fast', large)).toBe(false);
    for (let i = 0; i < 8; i++) pace.measured('fast', large, micros(large, 4));
    expect(pace.offload('fast', large)).toBe(true);
  });

  it('keeps checking one batch in 32 in place, to measure again', () => {
    const pace = new OffloadPace();
    for (let i = 0; i < 8; i++) pace.measured('slow', large, micros(large, 10));
    const sent = Array.from({ length: 64 }, () => pace.offload('slow', large));
    expect(sent.filter((offloaded) => !offloaded)).toHaveLength(2);
  });

  it('sends every large batch unmeasured with a threshold of 0', () => {
    const pace = new OffloadPace(0);
    expect(pace.offload('any', large)).toBe(true);
    expect(pace.offload('any', MIN_POOL_BYTES - 1)).toBe(false);
  });
});

describe('SchemaGuard with validation threads', () => {
  it('answers the checks of a partition in the order they came, whichever finishes first', async () => {
    const { SchemaGuard } = await import('../../src/broker/schema-guard.js');
    const schema = { id: 7, topic: 'orders', subject: 'value' as const, version: 1, schema: ORDER_SCHEMA, registeredBy: 'admin', registeredAt: 0 };
    const validator = compileValidator(ORDER_SCHEMA);
    const registry = {
      governs: () => true,
      settingsOf: () => ({ onInvalid: 'reject' as const, deadLetterTopic: null }),
      latest: (_topic: string, subject: string) => (subject === 'value' ? schema : null),
      validator: () => validator,
    };
    // A pool whose verdicts are released by hand: the first (large) batch is held back.
    const releases: (() => void)[] = [];
    const pool = {
      run: (job: ValidationJob) =>
        new Promise((resolve) => releases.push(() => resolve(checkSection(job.section, job.subjects, () => validator, job.options)))),
      close: async () => {},
    };
    const guard = new SchemaGuard(registry as never, {} as never, {} as never, pool as never, new OffloadPace(0));
    const large = encodeRecords(Array.from({ length: 60 }, () => ({ key: null, value: Buffer.from(JSON.stringify(orderValue())), headers: [{ name: SCHEMA_ID_HEADER, value: Buffer.from('7') }] })));
    const small = encodeRecords([{ key: null, value: Buffer.from(JSON.stringify(orderValue())), headers: [{ name: SCHEMA_ID_HEADER, value: Buffer.from('7') }] }]);
    const answered: string[] = [];
    const first = guard.check({ name: 'p' }, 'orders', 0, large, false).then(() => answered.push('large'));
    const second = guard.check({ name: 'p' }, 'orders', 0, small, false).then(() => answered.push('small'));
    const otherPartition = guard.check({ name: 'p' }, 'orders', 1, small, false).then(() => answered.push('other partition'));
    await otherPartition;
    expect(answered).toEqual(['other partition']); // not held up by partition 0
    expect(releases).toHaveLength(1);
    releases[0]!();
    await Promise.all([first, second]);
    expect(answered).toEqual(['other partition', 'large', 'small']);
  });
});
