import { spawn } from 'node:child_process';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_TOPIC } from '../../src/audit/audit-reader.js';
import { Admin, type AuditRecord, type ConnectionOptions } from '../../src/client/index.js';
import { type HttpClient, httpsClient } from '../../src/client/https-client.js';
import { BATCH_HEADER_BYTES, decodeBatchHeader } from '../../src/log/record-batch.js';
import { SEALBUS_BIN, cliEnv, runCli } from '../helpers/cli.js';
import { codeOf } from '../helpers/error-code.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { adminPolicy } from '../helpers/policies.js';

const tempDir = useTempDirs('sealbus-audit-cli-');

const POLICIES = {
  'admin.yaml': adminPolicy(),
  'alice.yaml': `
version: 1
rules:
  - id: alice-works-on-topics
    effect: allow
    principals: [{name: alice}]
    resources: [{topic: ">"}, {cluster: true}]
    actions: [produce, consume, describe, create]
`,
};

/** `sealbus ARGS` left running (a follow): its output so far, and a way to stop it and get its exit code. */
function startCli(args: readonly string[], env: NodeJS.ProcessEnv): { output: () => string; stop: (signal: NodeJS.Signals) => Promise<number | null> } {
  const child = spawn(process.execPath, [SEALBUS_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    output: () => stdout + stderr,
    stop: async (signal) => {
      child.kill(signal);
      return exited;
    },
  };
}

function jsonLines(text: string): AuditRecord[] {
  return text.trim() === '' ? [] : text.trim().split('\n').map((line) => JSON.parse(line) as AuditRecord);
}

describe('sealbus audit against a running broker', () => {
  let t: TestBroker;
  let env: NodeJS.ProcessEnv;
  let connection: ConnectionOptions;

  beforeAll(async () => {
    t = await startTestBroker({ policies: POLICIES });
    env = cliEnv(t);
    connection = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token };
    expect((await t.request('POST', '/v1/topics', { body: { name: 'audit-orders', partitions: 1 } })).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('refuses a principal without read-audit (403 SEALBUS_ERR_FORBIDDEN) on every audit route, and in the CLI', async () => {
    const alice = await t.client('alice');
    for (const path of ['/v1/audit', '/v1/audit?principal=admin', '/v1/audit?nonsense=1', '/v1/audit/export', '/v1/audit/keys']) {
      const res = await t.request('GET', path, { credentials: alice });
      expect(res.status, path).toBe(403);
      expect(res.body.code, path).toBe('SEALBUS_ERR_FORBIDDEN');
      expect(JSON.stringify(res.body)).not.toContain('sealbus.');
    }
    const admin = new Admin({ connection: { ...connection, cert: alice.cert, key: alice.key, token: alice.token } });
    try {
      expect(await codeOf(admin.queryAudit())).toBe('SEALBUS_ERR_FORBIDDEN');
      expect(await codeOf(admin.auditKeys())).toBe('SEALBUS_ERR_FORBIDDEN');
      expect(await codeOf((async () => { for await (const line of admin.exportAudit()) void line; })())).toBe('SEALBUS_ERR_FORBIDDEN');
    } finally {
      admin.close();
    }
    const dir = await tempDir();
    await writeFile(join(dir, 'alice.crt'), alice.cert);
    await writeFile(join(dir, 'alice.key'), alice.key);
    const aliceEnv = { ...env, SEALBUS_CERT: join(dir, 'alice.crt'), SEALBUS_KEY: join(dir, 'alice.key'), SEALBUS_TOKEN: alice.token };
    const query = await runCli(['audit', 'query'], aliceEnv);
    expect(query.code).toBe(1);
    expect(query.stderr).toContain('SEALBUS_ERR_FORBIDDEN');
    const verify = await runCli(['audit', 'verify', '--state', join(dir, 'state.json')], aliceEnv);
    expect(verify.code).toBe(2);
    expect(verify.stderr).toContain('SEALBUS_ERR_FORBIDDEN');
  });

  it('queries with filters: as JSON lines, as a table, paged up to --limit', async () => {
    const alice = await t.client('alice');
    expect((await t.request('DELETE', '/v1/topics/audit-orders', { credentials: alice })).status).toBe(403);
    const created = await runCli(['audit', 'query', '--type', 'sealbus.admin.topic.create', '--topic', 'audit-orders', '--json'], env);
    expect(created.code).toBe(0);
    const [event, ...others] = jsonLines(created.stdout);
    expect(others).toEqual([]);
    expect(event).toMatchObject({ type: 'sealbus.admin.topic.create', source: t.broker.audit.source, data: { principal: 'admin', resource: 'topic:audit-orders' } });
    const denied = await runCli(['audit', 'query', '--principal', 'alice', '--decision', 'deny', '--since', '1h', '--json'], env);
    const actions = jsonLines(denied.stdout).map((e) => (e.data as Record<string, unknown>).action);
    // The read-audit attempts of the test before, then this delete.
    expect(actions.at(-1)).toBe('delete');
    expect(new Set(actions.slice(0, -1))).toEqual(new Set(['read-audit']));
    const table = await runCli(['audit', 'query', '--principal', 'alice', '--decision', 'deny', '--action', 'delete'], env);
    expect(table.code).toBe(0);
    const [header, row, ...rest] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^TIME\s+TYPE\s+PRINCIPAL\s+ACTION\s+RESOURCE\s+DECISION\s+DETAIL$/);
    expect(row).toMatch(/^\d{4}-\d\d-\d\dT\S+\s+authz\.decision\s+alice\s+delete\s+topic:audit-orders\s+deny\s+.*rule=default-deny/);
    expect(rest).toEqual([]);
    const nothing = await runCli(['audit', 'query', '--principal', 'nobody-at-all'], env);
    expect(nothing.stdout).toBe('');
    expect(nothing.stderr).toContain('no matching events');
    const limited = await runCli(['audit', 'query', '--limit', '3', '--json'], env);
    expect(jsonLines(limited.stdout).map((e) => e.sealbusseq)).toEqual([0, 1, 2]);
    const bad = await runCli(['audit', 'query', '--decision', 'maybe'], env);
    expect(bad.code).toBe(2);
  });

  it('follows: a topic created after the follow started shows up, and SIGINT ends it with exit 0', async () => {
    const follow = startCli(['audit', 'query', '--follow', '--json', '--type', 'sealbus.admin.topic.create'], env);
    await waitFor(() => follow.output().includes('"topic:audit-orders"'), 'the follow prints the history');
    expect((await t.request('POST', '/v1/topics', { body: { name: 'audit-followed', partitions: 1 } })).status).toBe(201);
    await waitFor(() => follow.output().includes('"topic:audit-followed"'), 'the follow prints the new event');
    expect(await follow.stop('SIGINT')).toBe(0);
    expect(jsonLines(follow.output()).map((e) => (e.data as Record<string, unknown>).resource)).toEqual(['topic:audit-orders', 'topic:audit-followed']);
  });

  it('an idle follow long-polls on one connection and records nothing more, however many polls', async () => {
    const http = httpsClient(connection);
    let polls = 0;
    const counting: HttpClient = {
      request: (method, path, body, options) => {
        if (path.startsWith('/v1/audit?')) polls += 1;
        return http.request(method, path, body, options);
      },
      close: () => http.close(),
    };
    const admin = new Admin({ connection, httpClient: counting });
    const seen: AuditRecord[] = [];
    const followStarted = Date.now();
    const stop = new AbortController();
    const following = admin.followAudit({ since: Date.now() - 60_000 }, (event) => seen.push(event), stop.signal, { waitMs: 200 });
    try {
      expect((await t.request('POST', '/v1/topics', { body: { name: 'audit-idle', partitions: 1 } })).status).toBe(201);
      await waitFor(() => seen.some((e) => e.subject === 'topic:audit-idle'), 'the follow sees the new topic');
      // Its own connection's authentication and read-audit decision are recorded once, within the first polls.
      const settled = polls + 3;
      await waitFor(() => polls >= settled, 'three more polls');
      const before = seen.length;
      const started = Date.now();
      const from = polls;
      await waitFor(() => polls >= from + 10, 'ten idle polls');
      expect(seen.length - before).toBe(0);
      // Long polls, not a busy loop: ten polls of 200 ms take about two seconds.
      expect(Date.now() - started).toBeGreaterThan(1500);
    } finally {
      stop.abort();
      await following;
      admin.close();
    }
    // One connection for every poll: read-audit was allowed (and recorded) once.
    const readAudit = seen.filter((e) => Date.parse(String(e.time)) >= followStarted && (e.data as Record<string, unknown>).action === 'read-audit');
    expect(readAudit).toHaveLength(1);
  });

  it('export | verify --file --pubkey, and verify against the broker itself with the state file', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state.json');
    const key = await runCli(['audit', 'key'], env);
    expect(key.code).toBe(0);
    expect(key.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    expect(key.stderr).toContain(`key id ${t.broker.audit.signer.keyId}`);
    await writeFile(join(dir, 'audit.pub'), key.stdout);
    const exported = await runCli(['audit', 'export'], env);
    expect(exported.code).toBe(0);
    await writeFile(join(dir, 'audit.jsonl'), exported.stdout);
    const lines = jsonLines(exported.stdout);
    expect(lines.some((record) => record.type === 'sealbus.audit.checkpoint')).toBe(true);
    const fromFile = await runCli(['audit', 'verify', '--file', join(dir, 'audit.jsonl'), '--pubkey', join(dir, 'audit.pub'), '--state', state], env);
    expect(fromFile.stdout).toMatch(new RegExp(`^ok: ${lines.filter((r) => r.type !== 'sealbus.audit.checkpoint').length} events, `));
    expect(fromFile.code).toBe(0);

    // Against the broker: its keys, pinned in the state by the --pubkey run, so no warning.
    const live = await runCli(['audit', 'verify', '--state', state, '--json'], env);
    expect(live.code).toBe(0);
    expect(JSON.parse(live.stdout)).toMatchObject({ ok: true, source: t.broker.audit.source, keySource: 'broker', keyIds: [t.broker.audit.signer.keyId], stateUpdated: true });
    expect(live.stderr).not.toContain('warning');

    // Without a state, the broker's keys are trusted on first use, with a warning, and pinned.
    const fresh = join(dir, 'fresh.json');
    const first = await runCli(['audit', 'verify', '--state', fresh], env);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('warning: the audit keys come from the broker itself');
    expect(JSON.parse(await readFile(fresh, 'utf8'))[t.broker.audit.source].keyIds).toEqual([t.broker.audit.signer.keyId]);

    // A state that pinned another key: the broker's checkpoints are signed by a key not trusted.
    const pinnedElsewhere = join(dir, 'other.json');
    await writeFile(pinnedElsewhere, JSON.stringify({ [t.broker.audit.source]: { lastVerified: { count: 0, headHash: '0'.repeat(64) }, keyIds: ['A'.repeat(43)], verifiedAt: new Date().toISOString() } }), { mode: 0o600 });
    const mismatch = await runCli(['audit', 'verify', '--state', pinnedElsewhere], env);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain(`offers audit key ${t.broker.audit.signer.keyId}, which is not pinned`);
    expect(mismatch.stdout).toMatch(/^position \d+ \(line \d+\), seq -: unknown-key: /);
  });
});

interface BatchPlace {
  readonly position: number;
  readonly baseOffset: number;
  readonly totalBytes: number;
}

function batchesOf(segment: Buffer): BatchPlace[] {
  const places: BatchPlace[] = [];
  for (let position = 0; position < segment.length; ) {
    const header = decodeBatchHeader(segment, position);
    if (header === null) break;
    places.push({ position, baseOffset: header.baseOffset, totalBytes: header.totalBytes });
    position += header.totalBytes;
  }
  return places;
}

describe('sealbus audit verify --data on a data directory a broker wrote', () => {
  let t: TestBroker;
  let stopped = false;
  let dataDir: string;

  beforeAll(async () => {
    t = await startTestBroker();
    dataDir = t.env.config.store.dir;
    for (const name of ['data-a', 'data-b', 'data-c']) {
      expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1 } })).status).toBe(201);
      expect((await t.request('POST', `/v1/topics/${name}/records`, { body: { records: [{ value: 'x' }] } })).status).toBe(200);
    }
    await t.broker.close();
    stopped = true;
  });
  afterAll(async () => {
    if (!stopped) await t?.broker.close();
    if (t !== undefined) await rm(t.env.dir, { recursive: true, force: true });
  });

  it('verifies ok with the key next to the data (and a warning), and with the key printed by audit key', async () => {
    const dir = await tempDir();
    const run = await runCli(['audit', 'verify', '--data', dataDir, '--state', join(dir, 'state.json')], { PATH: process.env.PATH, HOME: dir });
    expect(run.stdout).toMatch(/^ok: \d+ events, \d+ checkpoints, signed up to event \d+; unsigned tail: 0 events\n$/);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('proves nothing against whoever can write the data directory');
    const key = await runCli(['audit', 'key', '--data', dataDir], { PATH: process.env.PATH });
    expect(key.code).toBe(0);
    await writeFile(join(dir, 'audit.pub'), key.stdout);
    const pinned = await runCli(['audit', 'verify', '--data', dataDir, '--pubkey', join(dir, 'audit.pub'), '--state', join(dir, 'state.json')], { PATH: process.env.PATH, HOME: dir });
    expect(pinned.code).toBe(0);
    expect(pinned.stderr).not.toContain('warning');
  });

  it('names the position of a byte flipped in the middle of the audit segment', async () => {
    const partition = join(dataDir, 'topics', AUDIT_TOPIC, '0');
    const [segmentName] = (await readdir(partition)).filter((name) => name.endsWith('.log'));
    const file = join(partition, segmentName!);
    const segment = await readFile(file);
    const batches = batchesOf(segment);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    // A batch in the middle (not the last one, whose damage would read as a torn tail).
    const victim = batches[Math.floor(batches.length / 2)]!;
    const flipAt = victim.position + BATCH_HEADER_BYTES + Math.floor((victim.totalBytes - BATCH_HEADER_BYTES) / 2);
    segment[flipAt] = segment[flipAt]! ^ 0x20;
    await writeFile(file, segment);
    const dir = await tempDir();
    const args = ['audit', 'verify', '--data', dataDir, '--state', join(dir, 'state.json')];
    const run = await runCli(args, { PATH: process.env.PATH, HOME: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^position ${victim.baseOffset}, seq -: malformed: ${AUDIT_TOPIC.replace('.', '\\.')} segment ${segmentName!.replace('.', '\\.')}, byte ${victim.position}: `));
    expect(run.stdout).toContain(`FAILED: `);
    const json = await runCli([...args, '--json'], { PATH: process.env.PATH, HOME: dir });
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.problems[0]).toMatchObject({ position: victim.baseOffset, kind: 'malformed' });
    expect(report.data.damaged[0]).toMatchObject({ segment: segmentName, position: victim.position });
  });
});
