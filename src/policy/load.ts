import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SealbusError } from '../errors/index.js';
import { finding, policyInvalid } from './findings.js';
import { Policy } from './policy.js';
import { POLICY_LIMITS } from './schema.js';
import type { LintFinding, PolicySource } from './types.js';

const POLICY_FILE = /\.(ya?ml|json)$/;

export type ReadResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'read'; readonly sources: PolicySource[]; readonly findings: LintFinding[] };

function unreadable(file: string, err: unknown): SealbusError {
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new SealbusError('SEALBUS_ERR_POLICY_UNREADABLE', { file, reason }, { details: { file, reason } });
}

/** At most `limit + 1` bytes, so that an oversized file is refused without being read whole. */
async function readBounded(path: string, limit: number): Promise<Buffer> {
  // O_NONBLOCK: a FIFO named like a policy file must not hang the loader at open.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    const buffer = Buffer.alloc(Math.min(stats.size, limit) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * The policy files of `dir`: `*.yaml`, `*.yml` and `*.json` directly in it (not in
 * subdirectories), followed through symlinks as Kubernetes ConfigMap volumes need; hidden names
 * (editor swap files, ConfigMap's `..data`) are skipped. Problems that make a file unusable
 * (too large, not UTF-8) come back as findings; an unreadable directory throws.
 */
export async function readPolicySources(dir: string): Promise<ReadResult> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => POLICY_FILE.test(name) && !name.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw unreadable(dir, err);
  }
  const findings: LintFinding[] = [];
  if (names.length > POLICY_LIMITS.maxFiles) {
    findings.push(finding('limit', names[POLICY_LIMITS.maxFiles]!, 1, `the directory has ${names.length} policy files; the limit is ${POLICY_LIMITS.maxFiles}`));
    return { kind: 'read', sources: [], findings };
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const sources: PolicySource[] = [];
  for (const name of names) {
    let bytes: Buffer;
    try {
      bytes = await readBounded(join(dir, name), POLICY_LIMITS.maxFileBytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') continue; // a directory or device named like a policy file
      throw unreadable(name, err);
    }
    if (bytes.length > POLICY_LIMITS.maxFileBytes) {
      findings.push(finding('limit', name, 1, `the file is larger than the limit of ${POLICY_LIMITS.maxFileBytes} bytes`));
      continue;
    }
    try {
      sources.push({ file: name, text: decoder.decode(bytes) });
    } catch {
      findings.push(finding('unreadable', name, 1, 'the file is not valid UTF-8'));
    }
  }
  return { kind: 'read', sources, findings };
}

/**
 * Loads and compiles the policy set of `dir`. A missing or empty directory gives the empty policy
 * (deny all, never allow all); a bad file throws SEALBUS_ERR_POLICY_INVALID naming file and line.
 */
export async function loadPolicyDir(dir: string): Promise<Policy> {
  const read = await readPolicySources(dir);
  if (read.kind === 'missing') return Policy.empty();
  const first = read.findings[0];
  if (first !== undefined) throw policyInvalid(first);
  return Policy.compile(read.sources);
}
