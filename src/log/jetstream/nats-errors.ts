import { errors as natsErrors } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { SealbusError, isSealbusError } from '../../errors/index.js';

/** JetStream API error codes sealbus acts on (nats-server's errors.json). */
const WRONG_LAST_SEQUENCE = 10071;
const WRONG_LAST_MSG_ID = 10070;
const STREAM_NOT_FOUND = 10059;
const MAX_REASON = 200;

/** What a failing call was about: a partition, or a named part of the store (`what`). */
export type Where = { readonly topic: string; readonly partition: number } | { readonly topic?: undefined; readonly what: string };

function describeWhere(where: Where): string {
  return where.topic === undefined ? where.what : `${where.topic}/${where.partition}`;
}

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/**
 * Refused by an expectation: another writer appended first (expected last sequence), or the
 * message before it in a pipelined run did not land (expected last message id). Nothing was stored.
 */
export function isRefusedInOrder(err: unknown): boolean {
  const code = apiCode(err);
  return code === WRONG_LAST_SEQUENCE || code === WRONG_LAST_MSG_ID;
}

function isStreamNotFound(err: unknown): boolean {
  return apiCode(err) === STREAM_NOT_FOUND;
}

/**
 * True when a publish may or may not have been stored (no answer came back). The publish is then
 * resolved by looking at the stream, never by guessing.
 */
export function isOutcomeUnknown(err: unknown): boolean {
  return (
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.ConnectionError ||
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.RequestError
  );
}

/** A short reason that names the failure without echoing anything the caller sent. */
export function reasonOf(err: unknown): string {
  const text = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}...` : text;
}

/** Maps a NATS failure to the store's error catalog; a SealbusError passes through. */
export function storeError(where: Where, err: unknown): SealbusError {
  if (isSealbusError(err)) return err;
  if (isStreamNotFound(err) && where.topic !== undefined) return new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: where.topic });
  return new SealbusError('SEALBUS_ERR_STORE_UNAVAILABLE', { what: describeWhere(where), reason: reasonOf(err) }, { cause: err });
}
