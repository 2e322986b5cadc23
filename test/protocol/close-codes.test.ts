import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, closeCodeForError, errorFromClose } from '../../src/protocol/index.js';

describe('close codes', () => {
  it.each([
    ['SEALBUS_ERR_AUTH_TOKEN_EXPIRED', 4001],
    ['SEALBUS_ERR_SESSION_EXPIRED', 4001],
    ['SEALBUS_ERR_FORBIDDEN', 4003],
    ['SEALBUS_ERR_PROTOCOL_FRAME', 4400],
    ['SEALBUS_ERR_PROTOCOL_VERSION', 4400],
    ['SEALBUS_ERR_PROTOCOL_FRAME_TOO_LARGE', 4400],
    ['SEALBUS_ERR_UNAVAILABLE', 4503],
    ['SEALBUS_ERR_INTERNAL', 1011],
  ] as const)('%s closes with %i', (code, closeCode) => {
    expect(closeCodeForError(code)).toBe(closeCode);
  });

  it('rebuilds the catalog error named by the close reason', () => {
    const err = errorFromClose(4001, 'SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    expect(err.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REVOKED');
    expect(err.retriable).toBe(false);
    expect(err.details).toEqual({ closeCode: 4001 });
  });

  it('reports any other close as a retriable SEALBUS_ERR_CONNECTION_CLOSED', () => {
    const abnormal = errorFromClose(1006, '');
    expect(abnormal.code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    expect(abnormal.retriable).toBe(true);
    expect(abnormal.message).toBe('The connection closed: close code 1006');
    expect(errorFromClose(CLOSE_CODES.NORMAL, 'SEALBUS_ERR_FORBIDDEN').code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    expect(errorFromClose(4503, 'bye').message).toBe('The connection closed: close code 4503 (bye)');
  });
});
