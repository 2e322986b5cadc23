import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { SealbusError } from '../../errors/index.js';
import { CLOSE_CODES, DEFAULT_FRAME_LIMITS, SUBPROTOCOL, WEBSOCKET_PATH } from '../../protocol/index.js';
import { principalOf } from '../context.js';
import type { SessionRegistry } from './registry.js';
import { Session, type SessionDeps } from './session.js';

export interface WebSocketDeps extends Pick<SessionDeps, 'broker' | 'authenticator' | 'limits' | 'clock' | 'metrics' | 'brokerLimits'> {
  readonly sessions: SessionRegistry;
}

/**
 * The streaming endpoint. The upgrade request has already been authenticated by the app's
 * onRequest hook (certificate and token); here it must also speak our subprotocol, and the broker
 * must have room for another session.
 */
export function registerWebSocketRoute(app: FastifyInstance, deps: WebSocketDeps): void {
  const frameLimits = {
    ...DEFAULT_FRAME_LIMITS,
    maxFrameBytes: deps.limits.maxFrameBytes,
    maxRecordsPerProduce: deps.limits.maxRecordsPerBatch,
  };
  app.get(
    WEBSOCKET_PATH,
    {
      websocket: true,
      preHandler: async (request) => {
        const offered = String(request.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim());
        if (!offered.includes(SUBPROTOCOL)) {
          throw new SealbusError('SEALBUS_ERR_PROTOCOL_VERSION', { version: offered.join(' ') || 'none', supported: SUBPROTOCOL });
        }
        if (deps.sessions.size >= deps.limits.maxSessions) {
          throw new SealbusError('SEALBUS_ERR_PROTOCOL_TOO_MANY_CONNECTIONS', { limit: deps.limits.maxSessions });
        }
      },
    },
    (socket, request) => {
      const { sessions, ...shared } = deps;
      const session = new Session(socket, request.raw.socket as TLSSocket, principalOf(request), request.certificate!, {
        ...shared,
        frameLimits,
        log: request.log,
      });
      if (!sessions.add(session)) {
        session.close(CLOSE_CODES.SHUTTING_DOWN, 'SEALBUS_ERR_PROTOCOL_TOO_MANY_CONNECTIONS');
        return;
      }
      socket.on('close', () => sessions.delete(session));
      // Pinged from now on: a peer that stops answering loses its session.
      deps.brokerLimits.webSockets.add(socket);
    },
  );
}
