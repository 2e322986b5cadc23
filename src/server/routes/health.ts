import type { FastifyInstance } from 'fastify';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, string>>;
}

/**
 * `/healthz`: the process answers. `/readyz`: the store is open and the configuration loaded.
 * Both, and the JWKS, need a trusted client certificate but no token, so probes and clients that
 * fetch keys do not need credentials to mint credentials.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { readiness: () => Readiness; jwks: () => { keys: readonly object[] } },
): void {
  const certificateOnly = { config: { auth: 'certificate' as const } };
  app.get('/healthz', certificateOnly, async () => ({ status: 'ok' }));
  app.get('/readyz', certificateOnly, async (_request, reply) => {
    const readiness = deps.readiness();
    return reply.status(readiness.ready ? 200 : 503).send({ status: readiness.ready ? 'ready' : 'not-ready', checks: readiness.checks });
  });
  app.get('/.well-known/jwks.json', certificateOnly, async (_request, reply) => {
    return reply.header('cache-control', 'max-age=300').send(deps.jwks());
  });
}
