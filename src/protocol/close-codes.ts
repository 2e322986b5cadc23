import { SealbusError, isErrorCode, specOf, type ErrorCode } from '../errors/index.js';
import { CLOSE_CODES, type CloseCode } from './constants.js';

/**
 * The close code the broker uses when an error ends a session; the close reason is the error code.
 * Chosen by the error's catalog status so that every path maps an error the same way.
 */
export function closeCodeForError(code: ErrorCode): CloseCode {
  const { status } = specOf(code);
  if (status === 401) return CLOSE_CODES.AUTHENTICATION;
  if (status === 403) return CLOSE_CODES.AUTHORIZATION;
  if (status === 503) return CLOSE_CODES.SHUTTING_DOWN;
  if (status >= 500) return CLOSE_CODES.INTERNAL_ERROR;
  return CLOSE_CODES.PROTOCOL;
}

/**
 * The error a client reports for a closed session: the catalog error named by the close reason
 * when there is one, else SEALBUS_ERR_CONNECTION_CLOSED (retriable) naming the code and reason.
 * A normal close (1000) still becomes CONNECTION_CLOSED: requests left pending did not complete.
 */
export function errorFromClose(code: number, reason: string): SealbusError {
  if (isErrorCode(reason) && code !== CLOSE_CODES.NORMAL) {
    return new SealbusError(reason, {}, { details: { closeCode: code } });
  }
  const described = reason === '' ? `close code ${code}` : `close code ${code} (${reason})`;
  return new SealbusError('SEALBUS_ERR_CONNECTION_CLOSED', { reason: described }, { details: { closeCode: code } });
}
