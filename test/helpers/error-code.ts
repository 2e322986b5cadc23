import { isSealbusError, type SealbusError } from '../../src/errors/index.js';

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

/** The SealbusError a promise rejects with; fails when it resolves, rethrows anything else. */
export async function rejectionOf(work: Promise<unknown>): Promise<SealbusError> {
  try {
    await work;
  } catch (err) {
    if (isSealbusError(err)) return err;
    throw err;
  }
  throw new Error('expected a SealbusError, the promise resolved');
}

/** The catalog code a function throws, or 'accepted'; anything that is not a SealbusError is rethrown. */
export function codeOfThrow(work: () => unknown): string {
  try {
    work();
    return 'accepted';
  } catch (err) {
    if (isSealbusError(err)) return err.code;
    throw err;
  }
}
