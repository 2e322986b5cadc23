/**
 * What `sealbus audit verify` remembers between runs: per log (keyed by its `source`), the last
 * checkpoint verified and the audit key ids trusted. Passing that head back to verification is
 * what catches a log cut short together with its checkpoints, or restored from an older copy:
 * the log alone cannot tell. The file is private (0600) and replaced atomically.
 */
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isAuditHead, type AuditHead } from '../audit/chain.js';
import { PRIVATE_MODE, replaceFile } from '../auth/private-files.js';
import { jsonLimitReason, parseJson } from '../json/safe-json.js';

export interface VerifiedLog {
  /** The last checkpoint verified: the log must still hold it. */
  readonly lastVerified: AuditHead;
  /** The audit key ids trusted for this log (RFC 7638 thumbprints). */
  readonly keyIds: readonly string[];
  /** RFC 3339, when the state was last updated. */
  readonly verifiedAt: string;
}

export type VerifiedState = ReadonlyMap<string, VerifiedLog>;

const MAX_STATE_BYTES = 1024 * 1024;
const KEY_ID = /^[A-Za-z0-9_-]{43}$/;

/** `$XDG_STATE_HOME/sealbus/audit-verified.json`, else `~/.local/state/sealbus/audit-verified.json`. */
export function defaultStateFile(env: NodeJS.ProcessEnv = process.env, home: () => string = homedir): string {
  const base = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(home(), '.local', 'state');
  return join(base, 'sealbus', 'audit-verified.json');
}

function isVerifiedLog(value: unknown): value is VerifiedLog {
  if (typeof value !== 'object' || value === null) return false;
  const { lastVerified, keyIds, verifiedAt } = value as Record<string, unknown>;
  return (
    isAuditHead(lastVerified) &&
    Array.isArray(keyIds) &&
    keyIds.every((id) => typeof id === 'string' && KEY_ID.test(id)) &&
    typeof verifiedAt === 'string'
  );
}

/**
 * Reads the state file; a missing file is an empty state. A file others may write, too large, or
 * not of this shape throws: state that cannot be trusted must not be silently replaced, or a
 * rollback would pass unnoticed.
 */
export async function readVerifiedState(file: string): Promise<VerifiedState> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`cannot read the state file ${file}: ${(err as Error).message}`);
  }
  let text: string;
  try {
    const info = await handle.stat();
    if ((info.mode & 0o022) !== 0) throw new Error(`the state file ${file} is writable by group or others (mode ${(info.mode & 0o777).toString(8)}): run chmod 600`);
    if (info.size > MAX_STATE_BYTES) throw new Error(`the state file ${file} is larger than ${MAX_STATE_BYTES} bytes`);
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  let parsed: unknown;
  try {
    parsed = parseJson(text, 'state file');
  } catch (err) {
    throw new Error(`the state file ${file} ${jsonLimitReason(err) ?? 'is not JSON'}: fix or remove it (removing it forgets what was verified)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`the state file ${file} is not a JSON object`);
  const state = new Map<string, VerifiedLog>();
  for (const [source, entry] of Object.entries(parsed)) {
    if (!isVerifiedLog(entry)) throw new Error(`the state file ${file} has an invalid entry for ${JSON.stringify(source.slice(0, 256))}`);
    state.set(source, { lastVerified: { count: entry.lastVerified.count, headHash: entry.lastVerified.headHash }, keyIds: [...entry.keyIds], verifiedAt: entry.verifiedAt });
  }
  return state;
}

/** The later of two heads (the one covering more events); a verification never moves the state back. */
export function laterHead(a: AuditHead | undefined, b: AuditHead | null): AuditHead | undefined {
  if (b === null) return a;
  if (a === undefined) return b;
  return b.count >= a.count ? b : a;
}

/** Replaces the entry of `source` (mode 0600, atomically), keeping the others. */
export async function writeVerifiedLog(file: string, source: string, entry: VerifiedLog): Promise<void> {
  const current = await readVerifiedState(file);
  // fromEntries defines own properties: a source named __proto__ would otherwise set a prototype.
  const next: Record<string, VerifiedLog> = Object.fromEntries(new Map(current).set(source, entry));
  await replaceFile(file, `${JSON.stringify(next, null, 2)}\n`, PRIVATE_MODE);
}
