/**
 * Log store throughput against the disk's own ceiling (`npm run bench:log`).
 *
 * raw     writev + fdatasync of the very bytes the store writes, at the same batch size: the ceiling.
 * store   FileLogStore.append of 1 KiB records awaited one at a time (fsync policy `always`).
 * 64x1    64 concurrent appenders of one record each: group commit shares each fsync.
 * read    sequential read of everything written, 1 MiB per read.
 *
 * Each measurement runs RUNS times; medians are printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLogStore } from '../src/log/file/file-log-store.js';
import { nodeFileSystem } from '../src/log/file/fs-seam.js';
import { encodeBatchHeader, encodeRecords } from '../src/log/record-batch.js';
import type { EncodedRecords } from '../src/log/types.js';

const RUNS = 5;
const BUDGET_MS = 700;
const VALUE = Buffer.alloc(1024, 0x61);

interface Rate {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

const perSecond = (rate: Rate) => rate.records / rate.seconds;
const megabytesPerSecond = (rate: Rate) => rate.bytes / rate.seconds / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function batchOf(size: number): EncodedRecords {
  return encodeRecords(Array.from({ length: size }, () => ({ value: VALUE })));
}

async function withDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function raw(batchSize: number): Promise<Rate> {
  const records = batchOf(batchSize);
  return withDir(async (dir) => {
    const fd = await nodeFileSystem.open(join(dir, 'raw.log'), 'wx+');
    let position = 0;
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < BUDGET_MS) {
      const header = encodeBatchHeader({ baseOffset: count, timestamp: Date.now() }, records);
      await nodeFileSystem.writev(fd, [header, records.bytes], position);
      await nodeFileSystem.fdatasync(fd);
      position += header.length + records.bytes.length;
      count += batchSize;
    }
    const seconds = (performance.now() - start) / 1000;
    await nodeFileSystem.close(fd);
    return { records: count, bytes: position, seconds };
  });
}

async function withStore<T>(work: (store: FileLogStore) => Promise<T>): Promise<T> {
  return withDir(async (dir) => {
    const store = new FileLogStore({ dir, retentionCheckMs: 0 });
    await store.open();
    await store.createTopic('bench', { partitions: 1 });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  });
}

async function appendSequential(store: FileLogStore, batchSize: number): Promise<Rate> {
  const records = batchOf(batchSize);
  let count = 0;
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < BUDGET_MS) {
    await store.append('bench', 0, { records });
    count += batchSize;
    bytes += records.bytes.length + 46;
  }
  return { records: count, bytes, seconds: (performance.now() - start) / 1000 };
}

async function appendConcurrent(store: FileLogStore, appenders: number): Promise<Rate> {
  const records = batchOf(1);
  let count = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() - start < BUDGET_MS) {
        await store.append('bench', 0, { records });
        count++;
      }
    }),
  );
  return { records: count, bytes: count * (records.bytes.length + 46), seconds: (performance.now() - start) / 1000 };
}

async function readSequential(store: FileLogStore): Promise<Rate> {
  const highWatermark = (await store.describeTopic('bench')).partitions[0]!.highWatermark;
  let offset = 0;
  let bytes = 0;
  const start = performance.now();
  while (offset < highWatermark) {
    const result = await store.read('bench', 0, offset, { maxBytes: 1024 * 1024 });
    for (const batch of result.batches) bytes += batch.length;
    offset = result.nextOffset;
  }
  return { records: highWatermark, bytes, seconds: (performance.now() - start) / 1000 };
}

function line(name: string, rates: Rate[], ceiling?: Rate[]): string {
  const records = median(rates.map(perSecond));
  const megabytes = median(rates.map(megabytesPerSecond));
  let text = `${name.padEnd(28)} ${Math.round(records).toLocaleString('en-US').padStart(12)} records/s ${megabytes.toFixed(1).padStart(8)} MB/s`;
  if (ceiling !== undefined) text += `   ${(records / median(ceiling.map(perSecond))).toFixed(2)} of raw`;
  return text;
}

async function main(): Promise<void> {
  console.log(`log store benchmark: 1 KiB records, fsync always, ${RUNS} runs of ~${BUDGET_MS} ms each, medians\n`);
  const single: Rate[] = [];
  for (const batchSize of [1, 100, 1000]) {
    const rawRates: Rate[] = [];
    const storeRates: Rate[] = [];
    for (let run = 0; run < RUNS; run++) {
      rawRates.push(await raw(batchSize));
      storeRates.push(await withStore((store) => appendSequential(store, batchSize)));
    }
    if (batchSize === 1) single.push(...storeRates);
    console.log(line(`raw writev+fdatasync x${batchSize}`, rawRates));
    console.log(line(`store append batch ${batchSize}`, storeRates, rawRates));
  }
  const concurrent: Rate[] = [];
  const reads: Rate[] = [];
  for (let run = 0; run < RUNS; run++) {
    await withStore(async (store) => {
      concurrent.push(await appendConcurrent(store, 64));
      await appendSequential(store, 1000);
      reads.push(await readSequential(store));
    });
  }
  console.log(line('store 64 appenders x 1', concurrent));
  console.log(`${''.padEnd(28)} ${(median(concurrent.map(perSecond)) / median(single.map(perSecond))).toFixed(1)}x the single appender (batch 1)`);
  console.log(line('store sequential read', reads));
}

await main();
