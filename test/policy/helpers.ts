import { isSealbusError, type SealbusError } from '../../src/errors/index.js';
import { Policy, type Action, type PolicyContext, type PolicyRequest, type PolicySubject, type Resource } from '../../src/policy/index.js';

export const THUMBPRINT = 'q1MKPvoW6nL3wD6R0Qk8o0cD8a5p8G3nX2h5bJ7yT4E';

export function subject(name: string, extra: Partial<PolicySubject> = {}): PolicySubject {
  return { name, groups: [], spiffeId: null, certificate: null, tokenBound: false, scopes: null, ...extra };
}

export const topic = (name: string): Resource => ({ kind: 'topic', name });
export const group = (name: string): Resource => ({ kind: 'group', name });
export const CLUSTER: Resource = { kind: 'cluster' };

export function request(who: PolicySubject, action: Action, resource: Resource, context: Partial<PolicyContext> = {}): PolicyRequest {
  return { subject: who, action, resource, context: { sourceIp: null, ...context } };
}

/** A policy from one YAML text (indentation-tolerant: the common leading indent is removed). */
export function policyOf(text: string, file = 'test.yaml'): Policy {
  return Policy.compile([{ file, text: dedent(text) }]);
}

export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim() !== '').map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

/** The SealbusError `work` throws; fails the test when it throws nothing or something else. */
export function errorOf(work: () => unknown): SealbusError {
  try {
    work();
  } catch (err) {
    if (isSealbusError(err)) return err;
    throw err;
  }
  throw new Error('expected a SealbusError, nothing was thrown');
}

export { rejectionOf } from '../helpers/error-code.js';
export { useTempDirs } from '../helpers/temp-dirs.js';

/** Polls until `condition` holds, failing at the deadline. Never a fixed sleep. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
