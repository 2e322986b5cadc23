import { type Command, InvalidArgumentError } from 'commander';
import { createPublicKey } from 'node:crypto';
import type { Admin, AuditQuery, AuditRecord } from '../../client/index.js';
import { isSealbusError } from '../../errors/index.js';
import { dataDirKeyFile, publicKeyPem, readDataDirKey } from '../audit-key-files.js';
import { runAuditVerify, type VerifyFlags } from '../audit-verify.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';
import { parseCount, parseDuration, parseTime } from '../options.js';

/** `1h`, `15m`, `7d` (that long ago), or a time as `parseTime` reads it. */
export function parseSince(value: string, now: () => number = Date.now): number {
  if (/^\d+[smhd]$/.test(value)) return now() - parseDuration(value) * 1000;
  return parseTime(value);
}

function parseLimit(value: string): number {
  const limit = parseCount(value);
  if (limit < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return limit;
}

function parseDecision(value: string): 'allow' | 'deny' {
  if (value !== 'allow' && value !== 'deny') throw new InvalidArgumentError('expected allow or deny');
  return value;
}

/** On a store shared by several brokers (docs/cluster.md), each writes its own chain. */
const BROKER_OPTION = ['--broker <id>', "on a shared store: this broker's chain (default: the broker connected to)"] as const;

interface QueryFlags extends ConnectionFlags {
  broker?: string;
  principal?: string;
  topic?: string;
  action?: string;
  decision?: 'allow' | 'deny';
  type?: string;
  since?: number;
  until?: number;
  limit?: number;
  json?: boolean;
  follow?: boolean;
}

// What a terminal would interpret: events are checked when written, but a stored log may have been altered.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function cell(value: unknown, width: number): string {
  const text = value === undefined || value === null ? '-' : String(value).replace(UNPRINTABLE, '?');
  return text.padEnd(width);
}

/** The fields of an event that say what happened beyond who, what and the decision. */
export function eventDetail(data: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (name: string, value: unknown): void => {
    if (value !== undefined && value !== null) parts.push(`${name}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`);
  };
  add('code', data.code);
  add('partition', data.partition);
  add('records', data.records);
  add('bytes', data.bytes);
  if (data.firstOffset !== undefined) add('offsets', data.lastOffset === undefined ? data.firstOffset : `${String(data.firstOffset)}..${String(data.lastOffset)}`);
  add('rule', data.rule);
  add('tokenId', data.tokenId);
  add('keyId', data.keyId);
  add('sourceIp', data.sourceIp);
  add('reason', data.reason);
  return parts.join(' ');
}

const COLUMNS = [
  ['TIME', 24],
  ['TYPE', 22],
  ['PRINCIPAL', 16],
  ['ACTION', 14],
  ['RESOURCE', 24],
  ['DECISION', 8],
] as const;

function tableRow(event: AuditRecord): string {
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<string, unknown>;
  const type = typeof event.type === 'string' ? event.type.replace(/^sealbus\./, '') : event.type;
  const values = [event.time, type, data.principal, data.action, data.resource ?? event.subject, data.decision];
  const cells = values.map((value, i) => cell(value, COLUMNS[i]![1]));
  return `${cells.join(' ')} ${eventDetail(data).replace(UNPRINTABLE, '?')}`.trimEnd();
}

function filterOf(flags: QueryFlags): AuditQuery {
  return {
    ...(flags.broker !== undefined && { broker: flags.broker }),
    ...(flags.principal !== undefined && { principal: flags.principal }),
    ...(flags.topic !== undefined && { topic: flags.topic }),
    ...(flags.action !== undefined && { action: flags.action }),
    ...(flags.decision !== undefined && { decision: flags.decision }),
    ...(flags.type !== undefined && { type: flags.type }),
    ...(flags.since !== undefined && { since: flags.since }),
    ...(flags.until !== undefined && { until: flags.until }),
  };
}

/** Prints every page of matching events (up to --limit); returns where the next page would start. */
async function printHistory(admin: Admin, flags: QueryFlags, print: (event: AuditRecord) => void): Promise<number | undefined> {
  const query = filterOf(flags);
  let from: number | undefined;
  let printed = 0;
  for (;;) {
    const limit = Math.min(1000, (flags.limit ?? Number.MAX_SAFE_INTEGER) - printed);
    if (limit <= 0) return from;
    const page = await admin.queryAudit({ ...query, limit, ...(from !== undefined && { from }) });
    for (const event of page.events.slice(0, limit)) print(event);
    printed += Math.min(limit, page.events.length);
    const stuck = page.events.length === 0 && page.next === from;
    from = page.next;
    if (page.next >= page.highWatermark || stuck) return from;
  }
}

/** Aborts on SIGINT or SIGTERM, which then end a follow with exit 0. */
function stopOnSignals(): { signal: AbortSignal; release: () => void } {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { signal: abort.signal, release: () => void (process.off('SIGINT', stop), process.off('SIGTERM', stop)) };
}

function registerQuery(audit: Command): void {
  withConnectionOptions(
    audit
      .command('query')
      .description('list audit events matching the filters, oldest first (read-audit on the cluster)')
      .option(...BROKER_OPTION)
      .option('--principal <name>', 'events of this principal')
      .option('--topic <name>', 'events about this topic')
      .option('--action <action>', 'events of this policy action (produce, consume, create, ...)')
      .option('--decision <allow|deny>', 'authorization decisions that went this way', parseDecision)
      .option('--type <type>', 'an event type, or a prefix ending in "." (sealbus.auth.)')
      .option('--since <time>', 'from this time: 15m, 1h, 7d ago, an RFC 3339 time or ms since the epoch', (value) => parseSince(value))
      .option('--until <time>', 'before this time (same forms as --since)', (value) => parseSince(value))
      .option('--limit <n>', 'print at most this many events', parseLimit)
      .option('--json', 'one event per line as stored (JSON lines)')
      .option('--follow', 'after the matching history, keep printing new events until interrupted'),
  ).action(async (flags: QueryFlags, command: Command) => {
    if (flags.follow === true && flags.limit !== undefined) command.error('--limit does not go with --follow');
    await untilStdoutCloses(async (closed) => {
      let header = flags.json !== true;
      const print = (event: AuditRecord): void => {
        closed.throwIfAborted();
        if (header) {
          process.stdout.write(`${COLUMNS.map(([name, width]) => name.padEnd(width)).join(' ')} DETAIL\n`);
          header = false;
        }
        process.stdout.write(`${flags.json === true ? JSON.stringify(event) : tableRow(event)}\n`);
      };
      await withAdmin(flags, async (admin) => {
        const next = await printHistory(admin, flags, print);
        if (flags.follow !== true) {
          if (header) process.stderr.write('no matching events\n');
          return;
        }
        const { signal, release } = stopOnSignals();
        try {
          await admin.followAudit({ ...filterOf(flags), ...(next !== undefined && { from: next }) }, print, AbortSignal.any([signal, closed]));
        } finally {
          release();
        }
      });
      closed.throwIfAborted();
    });
  });
}

function isBrokenPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/**
 * Runs `work` with a signal that aborts when standard output's reader goes away (`| head`): the
 * command then ends quietly, like any Unix filter.
 */
async function untilStdoutCloses(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const abort = new AbortController();
  const onError = (err: Error): void => abort.abort(err);
  process.stdout.on('error', onError);
  try {
    await work(abort.signal);
  } catch (err) {
    if (!isBrokenPipe(err) && !isBrokenPipe(abort.signal.reason)) throw err;
  } finally {
    process.stdout.off('error', onError);
  }
}

function write(line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(line, (err) => (err == null ? resolve() : reject(err)));
  });
}

function registerExport(audit: Command): void {
  withConnectionOptions(
    audit
      .command('export')
      .description('write every audit record (events and checkpoints) as JSON lines to standard output, for verify --file')
      .option('--since <time>', 'from this time (15m, 1h, 7d ago, RFC 3339, ms): the export is then partial (verify --partial)', (value) => parseSince(value))
      .option(...BROKER_OPTION),
  ).action(async (flags: ConnectionFlags & { since?: number; broker?: string }) => {
    await untilStdoutCloses((signal) =>
      withAdmin(flags, async (admin) => {
        // One write in flight at a time: the broker's stream is read no faster than stdout drains.
        for await (const line of admin.exportAudit({ signal, ...(flags.since !== undefined && { since: flags.since }), ...(flags.broker !== undefined && { broker: flags.broker }) })) await write(`${line}\n`);
      }),
    );
  });
}

function registerVerify(audit: Command): void {
  withConnectionOptions(
    audit
      .command('verify')
      .description('verify the audit log (chain, signed checkpoints, no rollback since last time); exits 0 ok, 1 on any problem, 2 when it cannot check')
      .option('--file <file>', 'a JSON-lines export ("-": standard input); needs --pubkey')
      .option('--data <dir>', "a broker's data directory (store.dir), read offline")
      .option('--pubkey <file>', 'the audit public key: PEM (as "sealbus audit key" prints it) or JWK/JWKS JSON')
      .option('--partial', 'the log may start after seq 0 (retention, or an export made with --since)')
      .option(...BROKER_OPTION)
      .option('--state <file>', 'where the last verified checkpoint is kept (default $XDG_STATE_HOME/sealbus/audit-verified.json)')
      .option('--json', 'print the report as JSON'),
  ).action(async (flags: VerifyFlags) => {
    try {
      process.exitCode = await runAuditVerify(
        flags,
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
    } catch (err) {
      // Not a verdict on the log: it could not be read, or the key or state not used.
      process.stderr.write(`sealbus: ${isSealbusError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    }
  });
}

function registerKey(audit: Command): void {
  withConnectionOptions(
    audit
      .command('key')
      .description('print the audit public key (PEM), to keep off the machine for verify --pubkey')
      .option('--data <dir>', `read it from <dir>/audit/audit-ed25519.key instead of asking the broker`)
      .option(...BROKER_OPTION)
      .option('--json', 'print the source and keys as JWKs'),
  ).action(async (flags: ConnectionFlags & { data?: string; broker?: string; json?: boolean }, command: Command) => {
    if (flags.data !== undefined) {
      const found = await readDataDirKey(flags.data);
      if (found === null) command.error(`no audit key at ${dataDirKeyFile(flags.data)}`);
      if (flags.json === true) return printJson({ keys: [{ ...found.key.key.export({ format: 'jwk' }), kid: found.key.keyId }] });
      process.stdout.write(publicKeyPem(found.key.key));
      process.stderr.write(`key id ${found.key.keyId}\n`);
      return;
    }
    const published = await withAdmin(flags, (admin) => admin.auditKeys(flags.broker));
    if (flags.json === true) return printJson(published);
    for (const jwk of published.keys) {
      process.stdout.write(publicKeyPem(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' })));
      process.stderr.write(`key id ${jwk.kid} (${published.source})\n`);
    }
  });
}

/** `sealbus audit query|export|verify|key`. */
export function register(program: Command): void {
  const audit = program.command('audit').description('query, export and verify the tamper-evident audit log');
  registerQuery(audit);
  registerExport(audit);
  registerVerify(audit);
  registerKey(audit);
}
