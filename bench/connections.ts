/**
 * Connection benchmark (`npm run bench:connections`): what an idle, authenticated WebSocket session
 * costs the broker. Starts a `sealbus dev` broker in its own process, opens N sessions to it (mutual
 * TLS, bound token, subprotocol), holds them, and prints the broker's resident memory (VmRSS of
 * /proc/<pid>/status) before and after, and per connection; then closes them all and prints it again.
 *
 * The broker's defaults allow 4,096 connections per source address and per principal, and 16,384 in
 * all: beyond 4,096 from here the refusals are counted and printed (that is the limit working).
 * Each connection is a file descriptor in this process and in the broker's: the script checks this
 * process's `ulimit -n` first (Node raises the soft limit to the hard one at start).
 *
 * Usage: npm run bench:connections [-- --connections 3000 --concurrency 50 --holdMs 3000]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SUBPROTOCOL, WEBSOCKET_PATH } from '../src/protocol/index.js';
import { fileDescriptorLimit } from '../src/server/limits/index.js';
import { benchArgs, startDevBroker } from './dev-broker.js';

const args = benchArgs({ connections: 3000, concurrency: 50, holdMs: 3000 });
const { connections: COUNT, concurrency: CONCURRENCY, holdMs: HOLD_MS } = args;

/** Resident set of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  if (line === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

function descriptorLimitOf(pid: number): number | null {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft === undefined ? null : soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const own = fileDescriptorLimit();
if (own !== null && own < COUNT + 100) {
  process.stderr.write(`ulimit -n is ${own}: too low for ${COUNT} connections (and their files). Raise it (ulimit -n ${COUNT + 1000}) or pass --connections.\n`);
  process.exit(1);
}

const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-connections-'));
const { child, connection } = await startDevBroker(dir);
const sockets: WebSocket[] = [];
try {
  const pid = child.pid!;
  const brokerLimit = descriptorLimitOf(pid);
  if (brokerLimit !== null && brokerLimit < COUNT + 256) process.stdout.write(`warning: the broker may open ${brokerLimit} files only\n`);
  const url = connection.url.replace(/^https:/, 'wss:') + WEBSOCKET_PATH;
  const resolve = async <T>(value: T | (() => T | Promise<T>)): Promise<T> => (typeof value === 'function' ? await (value as () => T | Promise<T>)() : value);
  const token = await resolve(connection.token!);
  const tls = { ca: await resolve(connection.ca!), cert: await resolve(connection.cert!), key: await resolve(connection.key!) };
  const refusals = new Map<string, number>();
  const openOne = (): Promise<void> =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, [SUBPROTOCOL], {
        ...tls,
        headers: { authorization: `Bearer ${token}` },
        perMessageDeflate: false,
      });
      const refused = (reason: string): void => {
        refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
        ws.terminate();
        resolve();
      };
      ws.once('open', () => {
        sockets.push(ws);
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => refused(`HTTP ${res.statusCode} ${(JSON.parse(body) as { code?: string }).code ?? ''}`));
      });
      ws.once('error', (err: NodeJS.ErrnoException) => {
        if (ws.readyState !== WebSocket.OPEN) refused(err.code ?? err.message);
      });
    });

  // Let the broker settle after its start (JIT, first allocations) before the baseline.
  await pause(1000);
  const before = rssOf(pid);
  const started = performance.now();
  for (let opened = 0; opened < COUNT; opened += CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, COUNT - opened) }, openOne));
  }
  const openSeconds = (performance.now() - started) / 1000;
  await pause(HOLD_MS);
  const held = rssOf(pid);
  const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  for (const ws of sockets) ws.close();
  await Promise.all(sockets.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : new Promise((resolve) => ws.once('close', resolve)))));
  await pause(HOLD_MS);
  const after = rssOf(pid);

  const lines = [
    `sessions asked         ${COUNT} (${CONCURRENCY} opening at a time)`,
    `sessions opened        ${sockets.length} in ${openSeconds.toFixed(1)} s (${Math.round(sockets.length / openSeconds)}/s); still open after ${HOLD_MS} ms: ${stillOpen}`,
    `refused                ${refusals.size === 0 ? 'none' : [...refusals].map(([reason, n]) => `${n} × ${reason}`).join(', ')}`,
    `broker RSS before      ${mib(before)}`,
    `broker RSS held        ${mib(held)}`,
    `per connection         ${sockets.length === 0 ? '-' : `${((held - before) / sockets.length / 1024).toFixed(1)} KiB`}`,
    `broker RSS after close ${mib(after)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const ws of sockets) ws.terminate();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  await rm(dir, { recursive: true, force: true });
}
