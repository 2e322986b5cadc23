import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/auth/certificate-authority.js';
import { issueCertificate } from '../../src/auth/certificate-issue.js';
import { auditQueryString, followAudit } from '../../src/client/admin-audit.js';
import type { HttpClient } from '../../src/client/https-client.js';
import { Admin, type AuditRecord, type ConnectionOptions } from '../../src/client/index.js';
import { SealbusError } from '../../src/errors/index.js';
import { codeOf } from '../helpers/error-code.js';
import { waitFor } from '../helpers/wait-for.js';

/** A fake broker: each test sets how `/v1/audit*` answers; every request's socket is remembered. */
let server: Server;
let connection: ConnectionOptions;
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
const sockets: Socket[] = [];
const urls: string[] = [];

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const serverCert = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['127.0.0.1'] } });
  const clientCert = await issueCertificate({ ca, commonName: 'auditor', client: true });
  server = createServer({ ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    sockets.push(req.socket);
    urls.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  connection = { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca: ca.certPem, cert: clientCert.certPem, key: clientCert.keyPem, token: 't' };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function event(seq: number): AuditRecord {
  return { type: 'sealbus.auth.success', sealbusseq: seq, data: { principal: 'alice' } };
}

describe('the audit query string', () => {
  it('encodes filters, times (ms, Date, RFC 3339) and paging', () => {
    expect(auditQueryString({})).toBe('');
    expect(auditQueryString({ principal: 'user:a&b', type: 'sealbus.auth.', decision: 'deny', since: new Date(5), until: '2026-01-01T00:00:00+02:00', from: 7, limit: 10, waitMs: 0 })).toBe(
      '?principal=user%3Aa%26b&decision=deny&type=sealbus.auth.&since=5&until=2026-01-01T00%3A00%3A00%2B02%3A00&from=7&limit=10&waitMs=0',
    );
  });
});

describe('Admin audit methods over HTTPS', () => {
  it('queries a page, and refuses an answer that is not one', async () => {
    handler = (req, res) => (req.url === '/v1/audit?principal=alice' ? json(res, 200, { events: [event(0)], next: 1, highWatermark: 1 }) : json(res, 200, { events: 'no' }));
    const admin = new Admin({ connection });
    try {
      expect(await admin.queryAudit({ principal: 'alice' })).toEqual({ events: [event(0)], next: 1, highWatermark: 1 });
      expect(await codeOf(admin.queryAudit({ principal: 'bob' }))).toBe('SEALBUS_ERR_INTERNAL');
    } finally {
      admin.close();
    }
  });

  it('follows with long polls from next on one kept-alive connection, and stops when aborted mid-poll', async () => {
    let polls = 0;
    handler = (req, res) => {
      polls += 1;
      const from = Number(new URL(req.url!, 'https://x').searchParams.get('from') ?? 0);
      // Two pages of history, then a poll that waits for the abort and never answers.
      if (from < 2) json(res, 200, { events: [event(from)], next: from + 1, highWatermark: 2 });
      else if (polls < 5) json(res, 200, { events: [], next: from, highWatermark: 2 });
    };
    sockets.length = 0;
    urls.length = 0;
    const admin = new Admin({ connection });
    const seen: AuditRecord[] = [];
    const stop = new AbortController();
    try {
      const following = admin.followAudit({ type: 'sealbus.auth.' }, (e) => seen.push(e), stop.signal, { waitMs: 1500 });
      await waitFor(() => polls >= 5, 'the fifth poll, which hangs');
      stop.abort();
      await expect(following).resolves.toBeUndefined();
    } finally {
      admin.close();
    }
    expect(seen.map((e) => e.sealbusseq)).toEqual([0, 1]);
    expect(urls[0]).toBe('/v1/audit?type=sealbus.auth.&waitMs=1500');
    expect(urls[1]).toBe('/v1/audit?type=sealbus.auth.&from=1&waitMs=1500');
    expect(urls.slice(2).every((url) => url.endsWith('from=2&waitMs=1500'))).toBe(true);
    // The broker records authentication per connection: a follow must not open one per poll.
    expect(new Set(sockets).size).toBe(1);
  });

  it('follow retries a retriable failure with backoff and rejects a final one', async () => {
    let calls = 0;
    const flaky: HttpClient = {
      request: async () => {
        calls += 1;
        if (calls === 1) throw new SealbusError('SEALBUS_ERR_UNAVAILABLE', { reason: 'restarting' });
        if (calls === 2) return { status: 200, body: { events: [event(0)], next: 1, highWatermark: 1 } };
        throw new SealbusError('SEALBUS_ERR_FORBIDDEN', { principal: 'a', action: 'read-audit', resource: 'the cluster' });
      },
      close: () => {},
    };
    const seen: AuditRecord[] = [];
    const following = followAudit(flaky, {}, (e) => seen.push(e), new AbortController().signal, { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 } });
    expect(await codeOf(following)).toBe('SEALBUS_ERR_FORBIDDEN');
    expect(seen).toHaveLength(1);
    expect(calls).toBe(3);
  });

  it('exports line by line however the body is chunked, and fails when the stream is cut short', async () => {
    const lines = [JSON.stringify(event(0)), JSON.stringify({ type: 'sealbus.audit.checkpoint', data: { note: 'é'.repeat(40) } }), JSON.stringify(event(1))];
    const body = Buffer.from(`${lines.join('\n')}\n`);
    handler = (req, res) => {
      if (req.url === '/v1/audit/export?since=1000') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        // Chunks that split lines and a two-byte character.
        for (let i = 0; i < body.length; i += 7) res.write(body.subarray(i, i + 7));
        res.end();
      } else if (req.url === '/v1/audit/export') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(`${lines[0]}\n${lines[1]!.slice(0, 10)}`);
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        json(res, 403, { code: 'SEALBUS_ERR_FORBIDDEN', message: 'no' });
      }
    };
    const admin = new Admin({ connection });
    try {
      const got: string[] = [];
      for await (const line of admin.exportAudit({ since: 1000 })) got.push(line);
      expect(got).toEqual(lines);
      const cut: string[] = [];
      const failed = codeOf((async () => { for await (const line of admin.exportAudit()) cut.push(line); })());
      expect(await failed).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
      expect(cut).toEqual([lines[0]]);
      expect(await codeOf(admin.auditKeys())).toBe('SEALBUS_ERR_FORBIDDEN');
    } finally {
      admin.close();
    }
  });
});
