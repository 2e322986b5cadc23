import { isSealbusError } from '../../src/errors/index.js';

/** The catalog code a promise rejects with, or 'accepted'; anything that is not a SealbusError is rethrown. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    if (isSealbusError(err)) return err.code;
    throw err;
  }
}
