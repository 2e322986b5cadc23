import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { SealbusError } from '../errors/index.js';
import { parseJson } from '../json/safe-json.js';
import { CLOSE_CODES, DEFAULT_FRAME_LIMITS, SUBPROTOCOL, errorFromClose } from '../protocol/index.js';
import {
  MAX_BROKER_URLS,
  brokerUrls,
  invalidOption,
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
  /** `wss://host:port/v1/ws` (or `ws://` against a test server): the first URL tried. */
  readonly url: string;
  /**
   * Other brokers of the same cluster, in the form of `url`; see `ConnectionOptions.failoverUrls`
   * for when the next one is tried. At most `MAX_BROKER_URLS` with `url`.
   */
  readonly failoverUrls?: readonly string[];
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

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** A transport that can name the broker it connects to. */
export interface WebSocketTransport extends Transport {
  /**
   * The URL (as given in the options) of the broker the last connection was opened to: the one
   * the next connection tries first. `url` until a connection was opened.
   */
  readonly currentUrl: string;
}

/**
 * The WebSocket transport: subprotocol `sealbus.v1`, `Authorization: Bearer <token>` on the upgrade,
 * mutual TLS when `tls` is given, permessage-deflate off (payloads are usually encrypted, so
 * compression would only cost CPU), and pings to notice a dead peer.
 *
 * With `failoverUrls`, a connection is opened to the first URL that accepts one, starting from the
 * one that last did: a failure to reach a broker (a `retriable` error: refused, reset, TLS failure,
 * handshake timeout, or a retriable refusal such as 503) moves on to the next URL; after one round
 * without success the last such error is thrown (retriable: the caller's backoff applies). A
 * non-retriable refusal of the upgrade (401, 403...) is thrown at once, without trying the others:
 * they share the cluster's CA, issuer and policies, so they would refuse it as well.
 */
export function webSocketTransport(options: WebSocketTransportOptions): WebSocketTransport {
  if (options.failoverUrls !== undefined && !Array.isArray(options.failoverUrls)) {
    throw invalidOption('failoverUrls', 'must be an array of URLs', 'websocket transport options');
  }
  const urls = [options.url, ...(options.failoverUrls ?? [])];
  if (urls.length > MAX_BROKER_URLS) {
    throw invalidOption('failoverUrls', `names ${urls.length} brokers with url; at most ${MAX_BROKER_URLS}`, 'websocket transport options');
  }
  let current = 0;
  return {
    token: options.token,
    get currentUrl() {
      return urls[current]!;
    },
    async connect(events: ConnectionEvents): Promise<FrameConnection> {
      const [token, tls] = await Promise.all([resolveCredential(options.token), options.tls?.()]);
      let failure: unknown;
      for (let tried = 0; tried < urls.length; tried++) {
        const candidate = (current + tried) % urls.length;
        let socket: WebSocket;
        try {
          socket = await open(urls[candidate]!, token, tls, options);
        } catch (err) {
          // Not reachable (or not now): the next broker. Refused for good: every broker would say so.
          if (!(err instanceof SealbusError) || !err.retriable) throw err;
          failure = err;
          continue;
        }
        current = candidate;
        return attach(socket, events, options.keepAliveMs ?? 30_000);
      }
      throw failure;
    },
  };
}

/** Opens one WebSocket to `url`; rejects with a SealbusError (the broker's, for a refused upgrade). */
async function open(url: string, token: string, tls: TlsMaterial | undefined, options: WebSocketTransportOptions): Promise<WebSocket> {
  const socket = new WebSocket(url, SUBPROTOCOL, {
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
    socket.once('error', (err) => reject(new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: err.message }, { cause: err })));
    socket.once('unexpected-response', (request, response) => {
      void errorFromResponse(response).then((err) => {
        request.destroy();
        reject(err);
      });
    });
  });
  return socket;
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

/**
 * The transport for `ConnectionOptions`: `wss://host:port/v1/ws` with mutual TLS, failing over
 * between `url` and `failoverUrls` (see `webSocketTransport`). Its `currentUrl` is the
 * `https://` URL as given in `connection`.
 */
export function transportFor(connection: ConnectionOptions): WebSocketTransport {
  const urls = brokerUrls(connection);
  const webSocketUrls = urls.map((url) => webSocketUrl(url));
  const transport = webSocketTransport({
    url: webSocketUrls[0]!,
    failoverUrls: webSocketUrls.slice(1),
    token: connection.token,
    tls: () => resolveTlsMaterial(connection),
  });
  return {
    token: transport.token,
    connect: (events) => transport.connect(events),
    get currentUrl() {
      return urls[webSocketUrls.indexOf(transport.currentUrl)]!;
    },
  };
}
