import type { FastifyError, FastifyInstance } from 'fastify';
import { SealbusError, isSealbusError } from '../errors/index.js';

/**
 * Maps every failure to the catalog's `{code, message}` body and HTTP status. Fastify's own errors
 * (validation, body size, bad JSON) are translated; anything unexpected becomes
 * SEALBUS_ERR_INTERNAL with the request id, and its detail goes to the log only. `onAnswered`
 * sees the code of every error answered (metrics).
 */
export function installErrorHandling(app: FastifyInstance, limits: { maxBodyBytes: number }, onAnswered: (code: string) => void = () => {}): void {
  app.setErrorHandler((error: FastifyError | SealbusError | Error, request, reply) => {
    const mapped = toSealbusError(error, request.id, limits);
    onAnswered(mapped.code);
    if (mapped.code === 'SEALBUS_ERR_INTERNAL') {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ code: mapped.code }, 'request rejected');
    }
    if (mapped.status === 401) {
      reply.header('www-authenticate', 'Bearer realm="sealbus"');
      if (mapped.code.startsWith('SEALBUS_ERR_AUTH_CERT_')) reply.header('connection', 'close');
    }
    return reply.status(mapped.status).send(mapped.toWire());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new SealbusError('SEALBUS_ERR_NOT_FOUND', { method: request.method, url: request.url.split('?')[0] });
    onAnswered(error.code);
    return reply.status(error.status).send(error.toWire());
  });
}

export function toSealbusError(error: unknown, requestId: string, limits: { maxBodyBytes: number }): SealbusError {
  if (isSealbusError(error)) return error;
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown };
  if (fastifyError.validation !== undefined) {
    return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: fastifyError.message ?? 'invalid request' });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SealbusError('SEALBUS_ERR_REQUEST_TOO_LARGE', { limit: limits.maxBodyBytes });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: fastifyError.message ?? 'unreadable body' });
    default:
      break;
  }
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: (error as Error).message });
  }
  return new SealbusError('SEALBUS_ERR_INTERNAL', { requestId });
}
