/**
 * `sealbus audit verify`: checks an audit log (a JSON-lines export, a broker's data directory read
 * offline, or the running broker's export) against the audit public key, and against the head
 * verified last time, kept in a state file. Exit 0 when the log verifies, 1 on any problem, 2 when
 * it could not be checked at all (usage, files, connection).
 */
import { open } from 'node:fs/promises';
import type { AuditDirReport } from '../audit/audit-dir.js';
import type { AuditHead } from '../audit/chain.js';
import { MAX_AUDIT_LINE_BYTES, type AuditProblem, type AuditVerifyReport, verifyAuditLog } from '../audit/verify.js';
import { splitLines } from '../client/json-lines.js';
import { parseJson } from '../json/safe-json.js';
import type { Admin } from '../client/index.js';
import { type AuditKey, brokerKeys, readDataDirKey, readPublicKeyFile } from './audit-key-files.js';
import { type VerifiedState, defaultStateFile, laterHead, readVerifiedState, writeVerifiedLog } from './audit-state.js';
import { withAdmin } from './admin-client.js';
import type { ConnectionFlags } from './connection.js';

export interface VerifyFlags extends ConnectionFlags {
  /** On a shared store: whose chain to verify through the broker connected to. */
  broker?: string;
  data?: string;
  file?: string;
  pubkey?: string;
  partial?: boolean;
  state?: string;
  json?: boolean;
}

type KeySource = 'pubkey' | 'data-dir' | 'broker';

/** Where the records come from, and the keys found with them (not those given with --pubkey). */
interface LogInput {
  readonly entries: AsyncIterable<unknown>;
  /** Positions are lines of a JSON-lines text (a file, or the broker's export). */
  readonly lines: boolean;
  /** The broker's name, when the input knows it without reading the log. */
  readonly source: string | null;
  readonly found: { readonly from: Exclude<KeySource, 'pubkey'>; readonly keys: AuditKey[]; readonly file?: string } | null;
  readonly dirReport?: () => AuditDirReport;
}

export interface VerifyOutcome extends AuditVerifyReport {
  readonly source: string | null;
  readonly keySource: KeySource;
  readonly keyIds: readonly string[];
  readonly lastVerified: AuditHead | null;
  readonly stateFile: string;
  readonly stateUpdated: boolean;
  readonly hint: string | null;
  readonly data: AuditDirReport | null;
}

/** Thrown for what makes verification impossible (exit 2), as opposed to what it finds (exit 1). */
export class VerifyUsageError extends Error {}

function sourceOf(entry: unknown): string | null {
  let value = entry;
  if (typeof entry === 'string') {
    if (entry.length > MAX_AUDIT_LINE_BYTES) return null;
    try {
      value = parseJson(entry, 'audit line');
    } catch {
      return null;
    }
  }
  const source = typeof value === 'object' && value !== null ? (value as { source?: unknown }).source : undefined;
  return typeof source === 'string' ? source : null;
}

/**
 * Reads ahead to the first record that names its source (which keys the state file), and gives
 * back every entry, those read ahead included. The source is covered by the chain and the
 * checkpoints like everything else, so a forged one fails verification.
 */
async function peekSource(entries: AsyncIterable<unknown>): Promise<{ source: string | null; entries: AsyncIterable<unknown> }> {
  const iterator = entries[Symbol.asyncIterator]();
  const ahead: unknown[] = [];
  let source: string | null = null;
  let done = false;
  while (source === null && ahead.length < 64) {
    const next = await iterator.next();
    if (next.done === true) {
      done = true;
      break;
    }
    ahead.push(next.value);
    source = sourceOf(next.value);
  }
  async function* all(): AsyncGenerator<unknown> {
    yield* ahead;
    try {
      while (!done) {
        const next = await iterator.next();
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return { source, entries: all() };
}

async function fileInput(file: string): Promise<LogInput> {
  let chunks: AsyncIterable<Buffer | string>;
  if (file === '-') {
    chunks = process.stdin;
  } else {
    try {
      chunks = (await open(file, 'r')).createReadStream();
    } catch (err) {
      throw new VerifyUsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  return { entries: splitLines(chunks, MAX_AUDIT_LINE_BYTES), lines: true, source: null, found: null };
}

async function dataInput(dir: string, needKey: boolean): Promise<LogInput> {
  const { readAuditDataDir } = await import('../audit/audit-dir.js');
  const found = needKey ? await readDataDirKey(dir) : null;
  if (needKey && found === null) throw new VerifyUsageError(`no audit key in ${dir}/audit: give the audit public key with --pubkey`);
  const reader = readAuditDataDir(dir);
  return {
    entries: reader.entries,
    lines: false,
    source: null,
    found: found === null ? null : { from: 'data-dir', keys: [found.key], file: found.file },
    dirReport: () => reader.report(),
  };
}

async function brokerInput(admin: Admin, needKeys: boolean, broker: string | undefined): Promise<LogInput> {
  const published = await admin.auditKeys(broker);
  return {
    entries: admin.exportAudit(broker === undefined ? {} : { broker }),
    lines: true,
    source: published.source,
    found: needKeys ? { from: 'broker', keys: await brokerKeys(published.keys) } : null,
  };
}

/** `position P (line L), seq S: KIND: detail`. */
export function formatProblem(problem: AuditProblem, lines: boolean): string {
  const where = lines ? `position ${problem.position} (line ${problem.position + 1})` : `position ${problem.position}`;
  return `${where}, seq ${problem.seq ?? '-'}: ${problem.kind}: ${problem.detail}`;
}

function startsLate(report: AuditVerifyReport): boolean {
  const first = report.problems[0];
  return first !== undefined && first.position === 0 && first.seq === 0 && (first.kind === 'deleted' || first.kind === 'truncated');
}

interface Trust {
  readonly keys: AuditKey[];
  readonly keySource: KeySource;
  /** The key ids to keep in the state file after a clean verification. */
  readonly pinAfter: readonly string[];
}

/** Which keys verify: --pubkey as given; found keys only those pinned before, or all on first use (with a warning). */
function trustedKeys(flagKeys: AuditKey[] | null, input: LogInput, pinned: readonly string[] | undefined, stateFile: string, warn: (line: string) => void): Trust {
  if (flagKeys !== null) return { keys: flagKeys, keySource: 'pubkey', pinAfter: flagKeys.map((k) => k.keyId) };
  const found = input.found!;
  if (pinned !== undefined && pinned.length > 0) {
    for (const key of found.keys) {
      if (!pinned.includes(key.keyId)) warn(`warning: the ${found.from === 'broker' ? 'broker' : 'data directory'} offers audit key ${key.keyId}, which is not pinned in ${stateFile}: checkpoints it signed are reported as unknown-key`);
    }
    return { keys: found.keys.filter((k) => pinned.includes(k.keyId)), keySource: found.from, pinAfter: pinned };
  }
  const ids = found.keys.map((k) => k.keyId).join(', ') || 'none';
  warn(
    found.from === 'data-dir'
      ? `warning: the public key was derived from ${found.file}, next to the data: it proves nothing against whoever can write the data directory. Keep the key printed by "sealbus audit key" off this machine and pass it with --pubkey (key id ${ids})`
      : `warning: the audit keys come from the broker itself (key id ${ids}) and were not pinned: a broker whose log was rewritten could present another key. They are pinned in ${stateFile} once the log verifies; better, keep the key printed by "sealbus audit key" off the machine and pass --pubkey`,
  );
  return { keys: found.keys, keySource: found.from, pinAfter: found.keys.map((k) => k.keyId) };
}

async function verifyInput(
  input: LogInput,
  flags: VerifyFlags,
  flagKeys: AuditKey[] | null,
  state: VerifiedState,
  stateFile: string,
  warn: (line: string) => void,
): Promise<VerifyOutcome> {
  const peeked = await peekSource(input.entries);
  // A log with no record names no source: with one log in the state, that one is meant, and an
  // emptied log is reported. Not for a partial log, which may be empty (an export --since now).
  const only = state.size === 1 && flags.partial !== true ? [...state.keys()][0]! : null;
  const source = input.source ?? peeked.source ?? only;
  const known = source === null ? undefined : state.get(source);
  const trust = trustedKeys(flagKeys, input, known?.keyIds, stateFile, warn);
  const report = await verifyAuditLog(peeked.entries, {
    publicKeys: trust.keys.map((k) => k.key),
    ...(flags.partial === true && { partial: true }),
    ...(known !== undefined && { lastVerified: known.lastVerified }),
  });
  const data = input.dirReport?.() ?? null;
  const ok = report.ok && (data === null || data.damaged.length === 0);
  const head = laterHead(known?.lastVerified, report.lastCheckpoint);
  let stateUpdated = false;
  if (ok && source !== null && head !== undefined) {
    await writeVerifiedLog(stateFile, source, { lastVerified: head, keyIds: trust.pinAfter, verifiedAt: new Date().toISOString() });
    stateUpdated = true;
  }
  const hint =
    flags.partial !== true && startsLate(report)
      ? 'the log does not start at seq 0: if older events were removed by retention, or this is an export made with --since, verify it with --partial'
      : null;
  return {
    ...report,
    ok,
    source,
    keySource: trust.keySource,
    keyIds: trust.keys.map((k) => k.keyId),
    lastVerified: known?.lastVerified ?? null,
    stateFile,
    stateUpdated,
    hint,
    data,
  };
}

function printOutcome(outcome: VerifyOutcome, lines: boolean, out: (line: string) => void, warn: (line: string) => void): void {
  const { data } = outcome;
  if (data?.tornTail != null) {
    warn(`note: torn tail in segment ${data.tornTail.segment} at byte ${data.tornTail.position} (${data.tornTail.bytes} bytes): a write the broker did not finish, which its recovery cuts; not a failure`);
  }
  for (const problem of outcome.problems) out(formatProblem(problem, lines));
  if (outcome.problemsOmitted > 0) out(`... and ${outcome.problemsOmitted} more problems not listed`);
  if (outcome.hint !== null) out(`hint: ${outcome.hint}`);
  const signed = outcome.lastCheckpoint?.count ?? 0;
  const counts = `${outcome.events} events, ${outcome.checkpoints} checkpoints, signed up to event ${signed}; unsigned tail: ${outcome.unsignedTail} events`;
  if (outcome.ok) {
    out(`ok: ${counts}`);
    if (outcome.stateUpdated) warn(`verified state of ${outcome.source} saved in ${outcome.stateFile}`);
  } else {
    // Damaged ranges of a data directory are among the problems already, as malformed entries.
    const total = Math.max(1, outcome.problems.length + outcome.problemsOmitted);
    const first = outcome.problems[0];
    out(`FAILED: ${total} problem${total === 1 ? '' : 's'}${first === undefined ? '' : `, the first at position ${first.position}`}; read ${counts}`);
  }
}

/** Runs the verification the flags describe and prints it; returns the exit code (0 ok, 1 problems). */
export async function runAuditVerify(flags: VerifyFlags, out: (line: string) => void, warn: (line: string) => void): Promise<number> {
  if (flags.data !== undefined && flags.file !== undefined) throw new VerifyUsageError('give at most one of --data and --file');
  if (flags.broker !== undefined && (flags.data !== undefined || flags.file !== undefined)) throw new VerifyUsageError('--broker reads through a running broker: not with --data or --file');
  if (flags.file !== undefined && flags.pubkey === undefined) {
    throw new VerifyUsageError('--file needs --pubkey: a log and a key from the same place prove nothing (sealbus audit key prints the key to keep)');
  }
  const stateFile = flags.state ?? defaultStateFile();
  const state = await readVerifiedState(stateFile).catch((err: Error) => {
    throw new VerifyUsageError(err.message);
  });
  const flagKeys = flags.pubkey === undefined ? null : await readPublicKeyFile(flags.pubkey).catch((err: Error) => {
    throw new VerifyUsageError(err.message);
  });
  const finish = (input: LogInput, outcome: VerifyOutcome): number => {
    if (flags.json === true) out(JSON.stringify(outcome, null, 2));
    else printOutcome(outcome, input.lines, out, warn);
    return outcome.ok ? 0 : 1;
  };
  if (flags.file !== undefined || flags.data !== undefined) {
    const input = flags.file !== undefined ? await fileInput(flags.file) : await dataInput(flags.data!, flagKeys === null);
    return finish(input, await verifyInput(input, flags, flagKeys, state, stateFile, warn));
  }
  return withAdmin(flags, async (admin) => {
    const input = await brokerInput(admin, flagKeys === null, flags.broker);
    return finish(input, await verifyInput(input, flags, flagKeys, state, stateFile, warn));
  });
}
