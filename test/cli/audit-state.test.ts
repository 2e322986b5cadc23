import { statSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultStateFile, laterHead, readVerifiedState, writeVerifiedLog } from '../../src/cli/audit-state.js';
import { useTempDirs } from '../helpers/temp-dirs.js';

const tempDir = useTempDirs('sealbus-audit-state-');
const head = (count: number) => ({ count, headHash: String(count % 10).repeat(64) });
const KEY_ID = 'k'.repeat(43);

describe('the audit verify state file', () => {
  it('lives under $XDG_STATE_HOME (absolute only), else ~/.local/state', () => {
    expect(defaultStateFile({ XDG_STATE_HOME: '/var/state' }, () => '/home/u')).toBe('/var/state/sealbus/audit-verified.json');
    expect(defaultStateFile({ XDG_STATE_HOME: 'relative' }, () => '/home/u')).toBe('/home/u/.local/state/sealbus/audit-verified.json');
    expect(defaultStateFile({}, () => '/home/u')).toBe('/home/u/.local/state/sealbus/audit-verified.json');
  });

  it('is empty when missing; keeps one entry per source; written 0600 in a 0700 folder', async () => {
    const dir = await tempDir();
    const file = join(dir, 'nested', 'state.json');
    expect((await readVerifiedState(file)).size).toBe(0);
    await writeVerifiedLog(file, 'sealbus://a', { lastVerified: head(5), keyIds: [KEY_ID], verifiedAt: '2026-01-01T00:00:00Z' });
    await writeVerifiedLog(file, 'sealbus://b', { lastVerified: head(7), keyIds: [], verifiedAt: '2026-01-02T00:00:00Z' });
    await writeVerifiedLog(file, 'sealbus://a', { lastVerified: head(9), keyIds: [KEY_ID], verifiedAt: '2026-01-03T00:00:00Z' });
    const state = await readVerifiedState(file);
    expect(state.get('sealbus://a')).toEqual({ lastVerified: head(9), keyIds: [KEY_ID], verifiedAt: '2026-01-03T00:00:00Z' });
    expect(state.get('sealbus://b')?.lastVerified).toEqual(head(7));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toHaveProperty(['sealbus://b', 'keyIds'], []);
  });

  it('refuses a state it cannot trust instead of starting afresh: not JSON, a bad entry, writable by others', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state.json');
    await writeFile(file, 'nope', { mode: 0o600 });
    await expect(readVerifiedState(file)).rejects.toThrow('is not JSON');
    await writeFile(file, JSON.stringify({ 'sealbus://a': { lastVerified: { count: -1, headHash: 'x' }, keyIds: [], verifiedAt: 'now' } }));
    await expect(readVerifiedState(file)).rejects.toThrow('invalid entry for "sealbus://a"');
    await writeFile(file, '{}');
    await chmod(file, 0o620);
    await expect(readVerifiedState(file)).rejects.toThrow('writable by group or others');
    await expect(writeVerifiedLog(file, 'sealbus://a', { lastVerified: head(1), keyIds: [], verifiedAt: 'now' })).rejects.toThrow('writable by group or others');
  });

  it('never moves back: the later of two heads', () => {
    expect(laterHead(undefined, null)).toBeUndefined();
    expect(laterHead(head(3), null)).toEqual(head(3));
    expect(laterHead(undefined, head(3))).toEqual(head(3));
    expect(laterHead(head(5), head(3))).toEqual(head(5));
    expect(laterHead(head(5), head(8))).toEqual(head(8));
  });
});
