/**
 * The quotas and the per-principal connection limit on the HTTP side, as fastify hooks. They run
 * right after authentication (so they know the principal) and before the body is read, so a
 * refused client costs a header parse, not a body: 429 with the catalog code and `Retry-After` in
 * seconds, rounded up. Routes without a principal (health, metrics: certificate only) are not
 * counted here; the connection limits still hold them.
 *
 * Produce bytes are charged from `Content-Length` before the body is read, or counted as it is
 * read when the client sends none; fetched bytes are charged when the answer is sent, and a fetch
 * is refused while the consume quota is in debt.
 */
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, preParsingHookHandler } from 'fastify';
import type { SealbusError } from '../../errors/index.js';
import type { BrokerLimits } from './index.js';

const PRODUCE_ROUTE = '/v1/topics/:topic/records';
const FETCH_ROUTE = '/v1/topics/:topic/partitions/:partition/records';

function retryAfterSeconds(error: SealbusError): string {
  const ms = Number(error.details?.['retryAfterMs'] ?? 1000);
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

function contentLength(request: FastifyRequest): number | null {
  const header = request.headers['content-length'];
  if (header === undefined) return null;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

function payloadBytes(payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  return Buffer.isBuffer(payload) ? payload.length : 0;
}

/** Installs the hooks; call after the authentication hook and before the routes are registered. */
export function installHttpLimits(app: FastifyInstance, limits: BrokerLimits): void {
  const { quotas, connections } = limits;
  /** Produce requests without a length: their bytes are counted as the body is read. */
  const uncounted = new WeakSet<FastifyRequest>();

  const admit = (request: FastifyRequest, name: string): SealbusError | null => {
    const route = request.routeOptions.url;
    if (route === PRODUCE_ROUTE && request.method === 'POST') {
      const length = contentLength(request);
      if (length === null) uncounted.add(request);
      return quotas.admitProduce(name, length ?? 0);
    }
    if (route === FETCH_ROUTE && request.method === 'GET') return quotas.admitFetch(name);
    return quotas.admitRequest(name);
  };

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = request.principal;
    if (principal === null) return;
    const tooMany = connections.admitPrincipal(request.raw.socket, principal.name);
    if (tooMany !== null) {
      // The connection is the problem: it is not kept alive for another request.
      reply.header('connection', 'close');
      throw tooMany;
    }
    const refused = admit(request, principal.name);
    if (refused !== null) {
      reply.header('retry-after', retryAfterSeconds(refused));
      throw refused;
    }
  });

  const countBody: preParsingHookHandler = async (request, _reply, payload) => {
    if (!uncounted.has(request) || request.principal === null) return payload;
    const name = request.principal.name;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
      flush(done) {
        quotas.chargeProduce(name, bytes);
        done();
      },
    });
    payload.on('error', (err) => counter.destroy(err));
    return payload.pipe(counter);
  };

  const chargeFetched: onSendHookHandler = async (request, reply, payload) => {
    if (request.principal !== null && reply.statusCode === 200) quotas.chargeConsume(request.principal.name, payloadBytes(payload));
    return payload;
  };

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.url === PRODUCE_ROUTE && methods.includes('POST')) route.preParsing = [...asArray(route.preParsing), countBody];
    if (route.url === FETCH_ROUTE && methods.includes('GET')) route.onSend = [...asArray(route.onSend), chargeFetched];
  });
}

function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
