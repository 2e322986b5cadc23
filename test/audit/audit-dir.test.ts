import { createHash } from 'node:crypto';
import { appendFile, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_TOPIC, AuditLog, type AuditSigner, MalformedEntry, readAuditDataDir, verifyAuditLog } from '../../src/audit/index.js';
import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { dataPaths } from '../../src/log/file/paths.js';
import { rejectionOf } from '../helpers/error-code.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { SOURCE, testSigner } from './helpers.js';

const tempDir = useTempDirs('sealbus-audit-dir-');

/** A data directory whose audit log holds `events` events, one batch each, over 1 KiB segments. */
async function writeLog(events: number, options: { retentionBytes?: number } = {}): Promise<{ dir: string; signer: AuditSigner }> {
  const dir = await tempDir();
  const signer = await testSigner();
  const store = new FileLogStore({ dir, retentionCheckMs: 0 });
  await store.open();
  const log = await AuditLog.open({
    store,
    signer,
    source: SOURCE,
    checkpointEvents: 5,
    checkpointIntervalMs: 60_000,
    retentionMs: null,
    retentionBytes: options.retentionBytes ?? null,
    segmentBytes: 1024,
    maxPendingEvents: 100,
  });
  for (let i = 0; i < events; i++) await log.append({ type: 'sealbus.auth.success', data: { principal: `user:u${i}` } });
  await log.close();
  if (options.retentionBytes !== undefined) await store.enforceRetention();
  await store.close();
  return { dir, signer };
}

function partitionDir(dir: string): string {
  return dataPaths(dir).partition(AUDIT_TOPIC, 0);
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(partitionDir(dir))).filter((name) => name.endsWith('.log')).sort();
}

/** Every file under `dir` with its size, modification time and hash. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    files[path] = `${info.size} ${info.mtimeMs} ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
  }
  return files;
}

async function collect(entries: AsyncIterable<unknown>): Promise<unknown[]> {
  const all: unknown[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

async function readAndVerify(dir: string, signer: AuditSigner, options: { partial?: boolean } = {}) {
  const reader = readAuditDataDir(dir);
  const entries = await collect(reader.entries);
  const verified = await verifyAuditLog(entries, { publicKeys: [signer.publicKey], ...options });
  return { entries, verified, report: reader.report() };
}

describe('readAuditDataDir', () => {
  it('reads a log written by the file store, which verifies, and changes nothing', async () => {
    const { dir, signer } = await writeLog(30);
    expect((await segments(dir)).length).toBeGreaterThan(3);
    const before = await snapshot(dir);
    const { entries, verified, report } = await readAndVerify(dir, signer);
    expect(verified).toMatchObject({ ok: true, events: 30, checkpoints: 6, unsignedTail: 0, problems: [] });
    expect(entries).toHaveLength(36);
    expect(report).toEqual({ firstOffset: 0, records: 36, tornTail: null, damaged: [] });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('reports bytes appended after the last batch as a torn tail, and what precedes it verifies', async () => {
    const { dir, signer } = await writeLog(12);
    const last = join(partitionDir(dir), (await segments(dir)).at(-1)!);
    const size = (await stat(last)).size;
    await appendFile(last, Buffer.from('a write cut short by a crash'));
    const before = await snapshot(dir);
    const { verified, report } = await readAndVerify(dir, signer);
    expect(verified).toMatchObject({ ok: true, events: 12, problems: [] });
    expect(report.tornTail).toEqual({ segment: (await segments(dir)).at(-1)!, position: size, bytes: 28 });
    expect(report.damaged).toEqual([]);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('reports a last batch cut short as a torn tail: what precedes it verifies, with an unsigned tail', async () => {
    const { dir, signer } = await writeLog(12);
    const last = join(partitionDir(dir), (await segments(dir)).at(-1)!);
    const size = (await stat(last)).size;
    await truncate(last, size - 5);
    const { verified, report } = await readAndVerify(dir, signer);
    // The cut batch is the final checkpoint (events 10 and 11 were written before it, checkpoint 10 with them).
    expect(verified).toMatchObject({ ok: true, events: 12, unsignedTail: 2, lastCheckpoint: { count: 10 }, problems: [] });
    expect(report.tornTail).toMatchObject({ segment: (await segments(dir)).at(-1)! });
    expect(report.tornTail!.position + report.tornTail!.bytes).toBe(size - 5);
  });

  it('yields a MalformedEntry where a flipped byte broke a batch, and verification names that place', async () => {
    const { dir, signer } = await writeLog(20);
    const first = (await segments(dir))[0]!;
    const path = join(partitionDir(dir), first);
    const bytes = await readFile(path);
    const at = bytes.indexOf('user:u1"');
    bytes[at] = bytes[at]! ^ 0x20;
    await writeFile(path, bytes);
    const before = await snapshot(dir);
    const { entries, verified, report } = await readAndVerify(dir, signer);
    expect(entries[1]).toBeInstanceOf(MalformedEntry);
    expect((entries[1] as MalformedEntry).reason).toMatch(new RegExp(`^${AUDIT_TOPIC} segment ${first}, byte \\d+: \\d+ damaged bytes \\(checksum mismatch\\), offsets 1\\.\\.1 unreadable$`));
    expect(verified.ok).toBe(false);
    expect(verified.problems[0]).toMatchObject({ position: 1, kind: 'malformed' });
    expect(report.damaged).toEqual([{ segment: first, position: expect.any(Number) as number, bytes: expect.any(Number) as number, reason: expect.stringContaining('checksum mismatch') as string }]);
    expect(report.tornTail).toBeNull();
    expect(await snapshot(dir)).toEqual(before);
  });

  it('yields a MalformedEntry where a segment is missing between two others', async () => {
    const { dir, signer } = await writeLog(20);
    const names = await segments(dir);
    await unlink(join(partitionDir(dir), names[1]!));
    const { verified, report } = await readAndVerify(dir, signer);
    expect(verified.ok).toBe(false);
    expect(report.damaged).toHaveLength(1);
    expect(report.damaged[0]).toMatchObject({ segment: names[2], position: 0, bytes: 0 });
    expect(report.damaged[0]!.reason).toMatch(/^offsets \d+\.\.\d+ are missing before this segment$/);
  });

  it('reads a log whose start retention deleted, which verifies as partial', async () => {
    const { dir, signer } = await writeLog(20, { retentionBytes: 3000 });
    const { verified, report } = await readAndVerify(dir, signer, { partial: true });
    expect(report.firstOffset).toBeGreaterThan(0);
    expect(report.firstOffset).toBe(Number((await segments(dir))[0]!.slice(0, 20)));
    expect(verified).toMatchObject({ ok: true, unsignedTail: 0, problems: [] });
  });

  it('throws SEALBUS_ERR_TOPIC_NOT_FOUND for a directory without an audit topic, SEALBUS_ERR_REQUEST_INVALID for no directory', async () => {
    const dir = await tempDir();
    const missingTopic = await rejectionOf(collect(readAuditDataDir(dir).entries));
    expect(missingTopic.code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    expect(missingTopic.message).toBe(`Topic "${AUDIT_TOPIC}" does not exist`);
    expect(missingTopic.details).toEqual({ dataDir: dir, path: partitionDir(dir) });
    const missingDir = await rejectionOf(collect(readAuditDataDir(join(dir, 'nope')).entries));
    expect(missingDir.code).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(missingDir.message).toBe(`Invalid request: the data directory ${join(dir, 'nope')} does not exist`);
  });
});
