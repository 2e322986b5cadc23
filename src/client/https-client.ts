import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { SealbusError, isErrorCode, isSealbusError, type ErrorCode } from '../errors/index.js';
import { JSON_LIMITS, parseJson } from '../json/safe-json.js';
import { brokerOrigin, brokerUrls, resolveCredential, resolveTlsMaterial, type ConnectionOptions, type TlsMaterial } from './connection-options.js';

export interface HttpResponse {
  readonly status: number;
  /** Parsed JSON, or null for an empty body. */
  readonly body: unknown;
}

/** What a request may carry besides its body. */
export interface HttpRequestOptions {
  /** Aborting destroys the request (and its connection); the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** A response whose body is read as it arrives, for answers too large to hold (exports). */
export interface HttpStreamResponse {
  readonly status: number;
  /** The body's bytes; iterating fails with SEALBUS_ERR_CONNECTION_CLOSED if the response is cut short. */
  readonly body: AsyncIterable<Buffer>;
}

/** JSON over HTTPS to the broker; the seam `Admin` is tested through. */
export interface HttpClient {
  request(method: string, path: string, body?: unknown, options?: HttpRequestOptions): Promise<HttpResponse>;
  /** A GET whose body is streamed; an error status rejects with the catalog error. Optional for custom clients. */
  stream?(path: string, options?: HttpRequestOptions): Promise<HttpStreamResponse>;
  close(): void;
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * A response is bounded by its size, so are its strings (base64 record values are long); the
 * depth has room for the page around a record value that the broker checked at the default depth.
 */
const RESPONSE_JSON = { maxTotalBytes: MAX_RESPONSE_BYTES, maxStringBytes: MAX_RESPONSE_BYTES, maxDepth: JSON_LIMITS.maxDepth + 8 } as const;

/** When an error body is not the catalog's `{code, message}` (a proxy in between), go by the status. */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  404: 'SEALBUS_ERR_NOT_FOUND',
  413: 'SEALBUS_ERR_REQUEST_TOO_LARGE',
  503: 'SEALBUS_ERR_UNAVAILABLE',
  504: 'SEALBUS_ERR_TIMEOUT',
};

/** Rebuilds the error of a failed response: the catalog code from the body, else one by status. */
export function errorFromResponse(status: number, body: unknown): SealbusError {
  if (typeof body === 'object' && body !== null) {
    const { code, message, details } = body as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof code === 'string' && typeof message === 'string') {
      const wire = typeof details === 'object' && details !== null ? { code, message, details: details as Record<string, unknown> } : { code, message };
      return SealbusError.fromWire(wire);
    }
  }
  const code = CODE_BY_STATUS[status];
  const message = `The broker answered HTTP ${status} without an error body`;
  return SealbusError.fromWire({ code: code !== undefined && isErrorCode(code) ? code : 'SEALBUS_ERR_INTERNAL', message });
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return String(a.ca ?? '') === String(b.ca ?? '') && String(a.cert) === String(b.cert) && String(a.key) === String(b.key);
}

/**
 * Whether a request reads what only the broker asked holds: its audit chain (the audit routes
 * without `broker`, docs/cluster.md). Those go to `url` only, never to a failover broker, which
 * would answer from its own chain (and a `from` position of one chain means nothing in another).
 */
function brokerLocal(path: string): boolean {
  const url = new URL(path, 'https://broker.invalid');
  return (url.pathname === '/v1/audit' || url.pathname.startsWith('/v1/audit/')) && !url.searchParams.has('broker');
}

/** How far one attempt got, to decide whether another broker may be asked. */
interface Attempt {
  /** The TLS handshake completed (or a kept-alive connection was reused): the request may have been sent. */
  opened: boolean;
  /** Response headers arrived: the broker answered. */
  answered: boolean;
}

/**
 * The HTTPS client of `ConnectionOptions`: mutual TLS through a keep-alive agent, the bearer token
 * on every request. Credentials are resolved per request, and a new agent replaces the old one
 * when the TLS material rotated, so long-lived admin clients keep working across rotations.
 *
 * With `failoverUrls`, requests go to the broker that last answered (`url` at first). A request
 * that fails before any answer moves on to the next broker, once round, when repeating it is
 * safe: a GET after any connection failure or timeout; another method only when no connection
 * could be opened (refused, reset or timed out before the TLS handshake completed), so nothing
 * was sent. Otherwise, and after a round without an answer, the error is the last broker's. Audit
 * reads without `broker` always go to `url` (see `brokerLocal`).
 */
export function httpsClient(connection: ConnectionOptions, options: { timeoutMs?: number } = {}): HttpClient {
  const origins = brokerUrls(connection).map((url) => brokerOrigin(url));
  const timeoutMs = options.timeoutMs ?? 30_000;
  let agent: { material: TlsMaterial; agent: Agent } | null = null;
  /** Index in `origins` of the broker that last answered. */
  let current = 0;

  const agentFor = (material: TlsMaterial): Agent => {
    if (agent !== null && sameMaterial(agent.material, material)) return agent.agent;
    agent?.agent.destroy();
    agent = { material, agent: new Agent({ keepAlive: true, maxSockets: 8, ...material }) };
    return agent.agent;
  };

  type OnResponse<T> = (response: IncomingMessage, settle: { resolve: (value: T) => void; reject: (err: unknown) => void }, request: ClientRequest) => void;

  /** One attempt at `origin`; `attempt` records how far it got. */
  const sendTo = <T>(
    origin: URL,
    attempt: Attempt,
    method: string,
    path: string,
    payload: Buffer | undefined,
    signal: AbortSignal | undefined,
    token: string,
    material: TlsMaterial,
    onResponse: OnResponse<T>,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const request = httpsRequest(
        {
          agent: agentFor(material),
          protocol: 'https:',
          hostname: origin.hostname.replace(/^\[|\]$/g, ''),
          port: origin.port === '' ? 443 : Number(origin.port),
          method,
          path,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }),
          },
        },
        (response) => {
          attempt.answered = true;
          onResponse(response, { resolve, reject }, request);
        },
      );
      request.once('socket', (socket) => {
        // A new socket has not finished its handshake yet ('socket' comes a tick after it is made).
        if (request.reusedSocket) attempt.opened = true;
        else socket.once('secureConnect', () => (attempt.opened = true));
      });
      if (signal !== undefined) {
        const abort = (): void => void request.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal.addEventListener('abort', abort, { once: true });
        request.once('close', () => signal.removeEventListener('abort', abort));
      }
      request.setTimeout(timeoutMs, () =>
        request.destroy(new SealbusError('SEALBUS_ERR_TIMEOUT', { ms: timeoutMs, what: `${method} ${path}` })),
      );
      request.on('error', (err) => reject(signal?.aborted === true ? signal.reason : err instanceof SealbusError ? err : connectionError(err)));
      request.end(payload);
    });

  /**
   * Sends one request on the kept-alive agent, failing over as described above; `onResponse`
   * takes the response over once its headers arrive. Aborting `signal` destroys the request and
   * rejects with the signal's reason.
   */
  const send = async <T>(method: string, path: string, payload: Buffer | undefined, signal: AbortSignal | undefined, onResponse: OnResponse<T>): Promise<T> => {
    signal?.throwIfAborted();
    const [token, material] = await Promise.all([resolveCredential(connection.token), resolveTlsMaterial(connection)]);
    signal?.throwIfAborted();
    const pinned = brokerLocal(path);
    const first = pinned ? 0 : current;
    let failure: unknown;
    for (let tried = 0; tried < (pinned ? 1 : origins.length); tried++) {
      const candidate = (first + tried) % origins.length;
      const attempt: Attempt = { opened: false, answered: false };
      try {
        return await sendTo(origins[candidate]!, attempt, method, path, payload, signal, token, material, onResponse);
      } catch (err) {
        const repeatable = method === 'GET' || !attempt.opened;
        if (attempt.answered || signal?.aborted === true || !repeatable) throw err;
        failure = err;
      } finally {
        // A broker that answered, even with an error status, is the one to ask first next time.
        if (attempt.answered && !pinned) current = candidate;
      }
    }
    throw failure;
  };

  return {
    async request(method, path, body, requestOptions = {}) {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      return send<HttpResponse>(method, path, payload, requestOptions.signal, (response, { resolve, reject }, request) => {
        readWhole(response, request, (status, parsed) => (status >= 400 ? reject(errorFromResponse(status, parsed)) : resolve({ status, body: parsed })), reject);
      });
    },
    async stream(path, requestOptions = {}) {
      const { signal } = requestOptions;
      return send<HttpStreamResponse>('GET', path, undefined, signal, (response, { resolve, reject }, request) => {
        const status = response.statusCode ?? 0;
        if (status >= 400) {
          readWhole(response, request, (_, parsed) => reject(errorFromResponse(status, parsed)), reject);
          return;
        }
        resolve({ status, body: streamedBody(response, signal) });
      });
    },
    close() {
      agent?.agent.destroy();
      agent = null;
    },
  };
}

/** Reads a whole (bounded) JSON response: `done` gets the status and the parsed body, or null. */
function readWhole(response: IncomingMessage, request: ClientRequest, done: (status: number, parsed: unknown) => void, fail: (err: unknown) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) request.destroy(new Error(`response over ${MAX_RESPONSE_BYTES} bytes`));
    else chunks.push(chunk);
  });
  response.on('end', () => {
    const body = Buffer.concat(chunks);
    const status = response.statusCode ?? 0;
    let parsed: unknown = null;
    try {
      parsed = body.length === 0 ? null : parseJson(body, "broker's response", RESPONSE_JSON);
    } catch (err) {
      // An answer beyond the limits (an offset beyond 2^53 that JSON.parse would round) is refused,
      // never used; an error status, or a body that is not JSON at all, is judged by its status.
      if (status < 400 && isSealbusError(err, 'SEALBUS_ERR_JSON_LIMIT')) {
        fail(err);
        return;
      }
      parsed = null;
    }
    done(status, parsed);
  });
  response.on('error', (err) => fail(connectionError(err)));
}

/** A streamed body: a response cut short (the connection lost mid-way) fails instead of ending quietly. */
async function* streamedBody(response: IncomingMessage, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of response) yield chunk as Buffer;
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason;
    throw err instanceof SealbusError ? err : connectionError(err as Error);
  }
  if (!response.complete) throw connectionError(new Error('the response ended before it was complete'));
}

function connectionError(err: Error): SealbusError {
  return new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: err.message }, { cause: err });
}
