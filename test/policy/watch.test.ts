import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SealbusError } from '../../src/errors/index.js';
import { Policy, loadPolicyDir, watchPolicyDir, type PolicyWatcher } from '../../src/policy/index.js';
import { useTempDirs, waitUntil } from './helpers.js';

const tempDir = useTempDirs();
const rule = (id: string) =>
  `version: 1\nrules:\n  - id: ${id}\n    effect: allow\n    principals: [{ name: svc }]\n    resources: [{ topic: t }]\n    actions: [produce]\n`;

const open: PolicyWatcher[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((watcher) => watcher.close()));
});

function watched(dir: string, options: Parameters<typeof watchPolicyDir>[2] = {}) {
  const loads: Policy[] = [];
  const errors: SealbusError[] = [];
  const watcher = watchPolicyDir(dir, { onLoad: (policy) => loads.push(policy), onError: (error) => errors.push(error) }, { debounceMs: 20, pollMs: 0, ...options });
  open.push(watcher);
  const ids = () => loads.at(-1)?.rules.map((r) => r.id);
  return { loads, errors, watcher, ids };
}

describe('watchPolicyDir', () => {
  it('loads a new valid file and reports the new version', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.yaml'), rule('a'));
    const before = await loadPolicyDir(dir);
    const { loads, errors, watcher, ids } = watched(dir);
    await watcher.ready;
    await writeFile(join(dir, 'b.yaml'), rule('b'));
    await waitUntil(() => loads.length === 1, 'the new set is loaded');
    expect(ids()).toEqual(['a', 'b']);
    expect(loads[0]!.version).not.toBe(before.version);
    expect(loads[0]!.version).toBe((await loadPolicyDir(dir)).version);
    expect(errors).toEqual([]);
  });

  it('refuses an invalid file with file and line, keeps quiet until the set is good again', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.yaml'), rule('a'));
    const { loads, errors, watcher, ids } = watched(dir);
    await watcher.ready;
    await writeFile(join(dir, 'b.yaml'), `${rule('b')}    actions: [consume]\n`);
    await waitUntil(() => errors.length === 1, 'the bad set is reported');
    expect(errors[0]!.code).toBe('SEALBUS_ERR_POLICY_INVALID');
    expect(errors[0]!.details).toMatchObject({ file: 'b.yaml', line: 8, code: 'yaml' });
    expect(loads).toEqual([]);
    await writeFile(join(dir, 'b.yaml'), rule('b'));
    await waitUntil(() => loads.length === 1, 'the repaired set is loaded');
    // The only load is the repaired set: the bad one never reached onLoad.
    expect(ids()).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1);
  });

  it('sees a file replaced by rename, as editors save', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.yaml'), rule('old'));
    const { loads, watcher, ids } = watched(dir);
    await watcher.ready;
    await writeFile(join(dir, '.a.yaml.swp'), rule('new'));
    await rename(join(dir, '.a.yaml.swp'), join(dir, 'a.yaml'));
    await waitUntil(() => loads.length === 1, 'the renamed file is loaded');
    expect(ids()).toEqual(['new']);
  });

  it('sees a ConfigMap update (the ..data symlink swapped)', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'p.yaml'), rule('v1'));
    await symlink('..v1', join(dir, '..data'));
    await symlink(join('..data', 'p.yaml'), join(dir, 'p.yaml'));
    const { loads, watcher, ids } = watched(dir);
    await watcher.ready;
    await mkdir(join(dir, '..v2'));
    await writeFile(join(dir, '..v2', 'p.yaml'), rule('v2'));
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitUntil(() => loads.length === 1, 'the swapped set is loaded');
    expect(ids()).toEqual(['v2']);
  });

  it('loads the deny-all policy when the last file goes, but keeps the policy when the directory goes', async () => {
    const parent = await tempDir();
    const dir = join(parent, 'policies');
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), rule('a'));
    const { loads, errors, watcher } = watched(dir, { pollMs: 25 });
    await watcher.ready;
    await unlink(join(dir, 'a.yaml'));
    await waitUntil(() => loads.length === 1, 'the empty set is loaded');
    expect(loads[0]!.version).toBe(Policy.empty().version);
    await rm(dir, { recursive: true });
    await waitUntil(() => errors.length === 1, 'the missing directory is reported');
    expect(errors[0]!.code).toBe('SEALBUS_ERR_POLICY_UNREADABLE');
    expect(loads).toHaveLength(1);
    // A directory created again is watched again.
    await mkdir(dir);
    await writeFile(join(dir, 'b.yaml'), rule('b'));
    await waitUntil(() => loads.length === 2, 'the recreated directory is loaded');
    expect(loads[1]!.rules.map((r) => r.id)).toEqual(['b']);
  });

  it('reports a change made before it watched, when told the version in force', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.yaml'), rule('a'));
    const running = await loadPolicyDir(dir);
    await writeFile(join(dir, 'b.yaml'), rule('b'));
    const { loads, watcher, ids } = watched(dir, { initialVersion: running.version });
    await watcher.ready;
    expect(loads).toHaveLength(1);
    expect(ids()).toEqual(['a', 'b']);
    const unchanged = watched(dir, { initialVersion: loads[0]!.version });
    await unchanged.watcher.ready;
    expect(unchanged.loads).toEqual([]);
  });

  it('does not compile a set it reads again unchanged (the poll), only a changed one', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.yaml'), rule('a'));
    const running = await loadPolicyDir(dir);
    const compile = vi.spyOn(Policy, 'compile');
    try {
      const { loads, watcher, ids } = watched(dir, { initialVersion: running.version });
      await watcher.ready;
      expect(compile).not.toHaveBeenCalled();
      expect(loads).toEqual([]);
      await writeFile(join(dir, 'b.yaml'), rule('b'));
      await waitUntil(() => loads.length === 1, 'the changed set is loaded');
      expect(ids()).toEqual(['a', 'b']);
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
  });

  it('stops on close: a closed watcher sees nothing while another one does', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a.yaml'), rule('a'));
    const closed = watched(dir);
    const witness = watched(dir);
    await Promise.all([closed.watcher.ready, witness.watcher.ready]);
    await closed.watcher.close();
    await writeFile(join(dir, 'b.yaml'), rule('b'));
    await waitUntil(() => witness.loads.length === 1, 'the witness sees the change');
    await witness.watcher.close();
    expect(closed.loads).toEqual([]);
    expect(closed.errors).toEqual([]);
  });
});
