import WebSocket from 'ws';
import { decodeBrokerFrame, encodeFrame, SUBPROTOCOL, type BrokerFrame, type ClientFrame } from '../../src/protocol/index.js';
import type { ClientCredentials, TestBroker } from './test-broker.js';

/** A WebSocket session driven frame by frame, for tests that play a misbehaving client. */
export interface RawSession {
  readonly ws: WebSocket;
  send(frame: ClientFrame): void;
  sendBytes(bytes: Buffer | string): void;
  /** The next frame matching `predicate` (all frames are queued, none is lost). */
  next(predicate?: (frame: BrokerFrame) => boolean, timeoutMs?: number): Promise<BrokerFrame>;
  closed(): Promise<{ code: number; reason: string }>;
  close(): void;
}

export type UpgradeResult = { ok: true; session: RawSession } | { ok: false; status: number; body: { code: string; message: string } };

export function openRawSession(
  t: TestBroker,
  credentials: Partial<ClientCredentials> | null = t.admin,
  options: { protocols?: string[] } = {},
): Promise<UpgradeResult> {
  const headers: Record<string, string> = {};
  if (credentials?.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
  const ws = new WebSocket(`wss://localhost:${t.broker.port}/v1/ws`, options.protocols ?? [SUBPROTOCOL], {
    ca: t.ca,
    ...(credentials?.cert !== undefined && { cert: credentials.cert }),
    ...(credentials?.key !== undefined && { key: credentials.key }),
    headers,
  });
  const frames: BrokerFrame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data: Buffer) => {
    frames.push(decodeBrokerFrame(data));
    for (const wake of waiters.splice(0)) wake();
  });
  const closedPromise = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters.splice(0)) wake();
    }),
  );
  const session: RawSession = {
    ws,
    send: (frame) => ws.send(encodeFrame(frame)),
    sendBytes: (bytes) => ws.send(bytes),
    async next(predicate = () => true, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = frames.findIndex(predicate);
        if (index >= 0) return frames.splice(index, 1)[0]!;
        if (ws.readyState === WebSocket.CLOSED) throw new Error('session closed before the expected frame');
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no matching frame before the deadline; frames waiting: ${frames.map((f) => f.type + ('code' in f ? ' ' + String(f.code) : '')).join(', ') || 'none'}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    closed: () => closedPromise,
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ok: true, session }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        ws.terminate();
        resolve({ ok: false, status: res.statusCode ?? 0, body: JSON.parse(body) });
      });
    });
    ws.once('error', (err) => {
      if (ws.readyState !== WebSocket.OPEN) reject(err);
    });
  });
}

/** Opens a raw session that must be accepted; throws with the broker's code when the upgrade is refused. */
export async function connectRawSession(t: TestBroker, credentials: Partial<ClientCredentials> | null = t.admin): Promise<RawSession> {
  const result = await openRawSession(t, credentials);
  if (!result.ok) throw new Error(`upgrade refused: ${result.body.code}`);
  return result.session;
}

/** Sends a request and returns its reply (or its ERROR), matched by requestId. */
export async function roundTrip(session: RawSession, frame: ClientFrame): Promise<BrokerFrame> {
  session.send(frame);
  return session.next((f) => 'requestId' in f && f.requestId === frame.requestId);
}
