import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a broker, for tests that cut connections at an
 * exact point. It relays bytes blindly: the TLS inside is end to end between client and broker,
 * so the proxy cannot read frames, and the client still verifies the broker's certificate (point it
 * at `https://localhost:<proxy port>`; the development server certificate names localhost).
 *
 * `dropNextReply()` models "the connection is cut after the broker did the work, before the client
 * heard about it": once armed, the first connection on which the client sends bytes and the broker
 * then answers has both sockets destroyed, and those broker bytes are never forwarded. The broker
 * sends PRODUCE_ACK only once the batch is durable, so with a PRODUCE as the armed request, this is
 * a lost ack of a stored batch.
 *
 * Because the proxy cannot tell frames apart, any broker-to-client bytes that follow client bytes
 * trigger the cut. The caller must therefore arm it only while the session is established and idle:
 * - after the TLS handshake, including the TLS 1.3 session tickets the server sends after it (a
 *   first request answered on the connection proves both are over);
 * - with no other request outstanding, and no subscription or group membership on the session (the
 *   broker pushes RECORDS and ASSIGNMENT frames unasked);
 * - with no WebSocket keep-alive due (a ping's pong is broker bytes after client bytes): give the
 *   client `keepAliveMs: 0`, or make sure the test ends well within the ping interval;
 * - with no TOKEN_EXPIRING due (the broker sends it unasked before the token expires): use a token
 *   that lives much longer than the test.
 */
export interface FaultProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `https://localhost:<port>`: the broker URL to give the client. */
  readonly url: string;
  /** Client connections accepted so far. */
  readonly accepted: number;
  /** Connections the proxy cut (dropNextReply). */
  readonly cut: number;
  /**
   * Arms the cut; resolves once it happened (the broker's reply was swallowed and both sockets
   * destroyed), rejects if the proxy closes first. Refused while already armed.
   */
  dropNextReply(): Promise<void>;
  /** New client connections are accepted but wait, unrelayed, until `retarget` or `release`. */
  hold(): void;
  /** Relays waiting and future connections again (to the current upstream). */
  release(): void;
  /** Sends new connections (and those waiting) to another upstream port, e.g. a restarted broker. */
  retarget(upstreamPort: number): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | null;
  /** The client sent bytes since the cut was armed. */
  clientSpoke: boolean;
}

interface Armed {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export async function startFaultProxy(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<FaultProxy> {
  let target = upstreamPort;
  let holding = false;
  let accepted = 0;
  let cut = 0;
  let armed: Armed | null = null;
  const pairs = new Set<Pair>();
  const waiting: Pair[] = [];

  const destroy = (pair: Pair): void => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  /** Relays `from` to `to`, honouring backpressure; `onData` may swallow a chunk by returning false. */
  const relay = (from: Socket, to: Socket, onData: (chunk: Buffer) => boolean): void => {
    from.on('data', (chunk: Buffer) => {
      if (!onData(chunk)) return;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  };

  const connectUpstream = (pair: Pair): void => {
    const upstream = connect({ host: upstreamHost, port: target });
    pair.upstream = upstream;
    upstream.on('error', () => destroy(pair));
    upstream.on('close', () => destroy(pair));
    upstream.once('connect', () => {
      relay(pair.client, upstream, () => {
        if (armed !== null) pair.clientSpoke = true;
        return true;
      });
      relay(upstream, pair.client, () => {
        if (armed === null || !pair.clientSpoke) return true;
        // The armed cut: this reply never reaches the client.
        const { resolve } = armed;
        armed = null;
        cut++;
        destroy(pair);
        resolve();
        return false;
      });
      pair.client.resume();
    });
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const pair: Pair = { client, upstream: null, clientSpoke: false };
    pairs.add(pair);
    client.on('error', () => destroy(pair));
    client.on('close', () => destroy(pair));
    if (holding) waiting.push(pair);
    else connectUpstream(pair);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the fault proxy has no TCP address');
  const port = address.port;

  const release = (): void => {
    holding = false;
    for (const pair of waiting.splice(0)) if (pairs.has(pair)) connectUpstream(pair);
  };

  return {
    port,
    url: `https://localhost:${port}`,
    get accepted() {
      return accepted;
    },
    get cut() {
      return cut;
    },
    dropNextReply() {
      if (armed !== null) return Promise.reject(new Error('the fault proxy is already armed'));
      for (const pair of pairs) pair.clientSpoke = false;
      return new Promise<void>((resolve, reject) => (armed = { resolve, reject }));
    },
    hold() {
      holding = true;
    },
    release,
    retarget(upstreamPortNext) {
      target = upstreamPortNext;
      release();
    },
    async close() {
      armed?.reject(new Error('the fault proxy closed before the armed cut happened'));
      armed = null;
      waiting.length = 0;
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
