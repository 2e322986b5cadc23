import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { SealbusError } from '../errors/index.js';
import { parseJson } from '../json/safe-json.js';
import { CLOSE_CODES, DEFAULT_FRAME_LIMITS, SUBPROTOCOL, errorFromClose } from '../protocol/index.js';
import {
  resolveCredential,
  resolveTlsMaterial,
  webSocketUrl,
  type ConnectionOptions,
  type Credential,
  type TlsMaterial,
} from './connection-options.js';
import type { ConnectionEvents, FrameConnection, Transport } from './transport.js';

/** Options of `webSocketTransport`. */
export interface WebSocketTransportOptions {
  /** `wss://host:port/v1/ws` (or `ws://` against a test server). */
  readonly url: string;
  readonly token: Credential<string>;
  /** TLS material, resolved at each connection. */
  readonly tls?: () => Promise<TlsMaterial>;
  readonly handshakeTimeoutMs?: number;
  /** A connection with no answer to a ping for this long is considered dead. 0 disables pings. */
  readonly keepAliveMs?: number;
  readonly maxFrameBytes?: number;
}

const MAX_ERROR_BODY = 64 * 1024;

/** Reads the `{code, message}` body of a refused upgrade (401, 403, 503...). */
function errorFromResponse(response: IncomingMessage): Promise<SealbusError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      const status = response.statusCode ?? 0;
      try {
        const body = parseJson(Buffer.concat(chunks), 'refusal body') as { code?: unknown; message?: unknown } | null;
        if (typeof body?.code === 'string' && typeof body.message === 'string') {
          const retryAfter = Number(response.headers['retry-after']);
          const details = Number.isFinite(retryAfter) && retryAfter > 0 ? { details: { retryAfterMs: retryAfter * 1000 } } : {};
          resolve(SealbusError.fromWire({ code: body.code, message: body.message, ...details }));
          return;
        }
      } catch {
        // not JSON: described by its status below
      }
      resolve(new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: `the upgrade was refused with HTTP ${status}` }));
    };
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_ERROR_BODY) chunks.push(chunk);
    });
    response.on('end', done);
    response.on('error', done);
  });
}

/**
 * The WebSocket transport: subprotocol `sealbus.v1`, `Authorization: Bearer <token>` on the upgrade,
 * mutual TLS when `tls` is given, permessage-deflate off (payloads are usually encrypted, so
 * compression would only cost CPU), and pings to notice a dead peer.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  return {
    token: options.token,
    async connect(events: ConnectionEvents): Promise<FrameConnection> {
      const [token, tls] = await Promise.all([resolveCredential(options.token), options.tls?.()]);
      const socket = new WebSocket(options.url, SUBPROTOCOL, {
        headers: { authorization: `Bearer ${token}` },
        perMessageDeflate: false,
        // RFC 6455 masking protects browsers' intermediaries from script-crafted bytes; this is a
        // Node client over TLS, where no intermediary can read the frames, so a zero mask (which
        // ws sends without the XOR pass) saves a full copy of every produced byte.
        generateMask: zeroMask,
        maxPayload: options.maxFrameBytes ?? DEFAULT_FRAME_LIMITS.maxFrameBytes,
        handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
        ...(tls === undefined ? {} : { ca: tls.ca, cert: tls.cert, key: tls.key }),
      });
      socket.binaryType = 'nodebuffer';
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', (err) =>
          reject(new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: err.message }, { cause: err })),
        );
        socket.once('unexpected-response', (request, response) => {
          void errorFromResponse(response).then((err) => {
            request.destroy();
            reject(err);
          });
        });
      });
      return attach(socket, events, options.keepAliveMs ?? 30_000);
    },
  };
}

function attach(socket: WebSocket, events: ConnectionEvents, keepAliveMs: number): FrameConnection {
  let protocolError: SealbusError | null = null;
  let alive = true;
  const pinger =
    keepAliveMs > 0
      ? setInterval(() => {
          if (!alive) {
            socket.terminate();
            return;
          }
          alive = false;
          socket.ping();
        }, keepAliveMs).unref()
      : undefined;
  socket.on('pong', () => (alive = true));
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    alive = true;
    if (isBinary) {
      events.onFrame(data);
      return;
    }
    protocolError = new SealbusError('SEALBUS_ERR_PROTOCOL_FRAME', { reason: 'the broker sent a text frame' });
    socket.close(CLOSE_CODES.PROTOCOL, protocolError.code);
  });
  socket.on('error', () => {
    // 'close' always follows and reports the outcome.
  });
  socket.once('close', (code: number, reason: Buffer) => {
    clearInterval(pinger);
    events.onClose(protocolError ?? errorFromClose(code, reason.toString('utf8')));
  });
  return {
    send: (frame) => socket.send(frame),
    close: (code, reason) => socket.close(code, reason),
  };
}

/** The transport for `ConnectionOptions`: `wss://host:port/v1/ws` with mutual TLS. */
export function transportFor(connection: ConnectionOptions): Transport {
  return webSocketTransport({
    url: webSocketUrl(connection.url),
    token: connection.token,
    tls: () => resolveTlsMaterial(connection),
  });
}
