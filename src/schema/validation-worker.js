// @ts-check
/**
 * A validation thread of the broker (src/broker/validation-pool.ts): checks the records section of
 * one batch at a time with the same code as the main thread (section-check.ts) and posts the
 * verdict back. The sources are TypeScript, so the thread registers tsx's loader first, as
 * bin/sealbus.js does.
 *
 * A job: { id, bytes: Uint8Array (transferred), count, subjects: [{ subject, schemaId, schema }],
 * options: { encrypted, firstInvalidOnly } }; the reply { id, verdict } or { id, error }.
 */
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

const port = parentPort;
if (port === null) throw new Error('validation-worker.js runs as a worker thread of the validation pool');

register();
const { checkSection } = await import('./section-check.js');
const { ValidatorCache } = await import('./validator.js');
const validators = new ValidatorCache();

port.on('message', (/** @type {any} */ job) => {
  try {
    const schemas = new Map(job.subjects.map((/** @type {any} */ s) => [s.schemaId, s.schema]));
    const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    const verdict = checkSection({ count: job.count, bytes }, job.subjects, (id) => validators.get(id, () => schemas.get(id)), job.options);
    port.postMessage({ id: job.id, verdict });
  } catch (err) {
    port.postMessage({ id: job.id, error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 500) : 'unknown error' });
  }
});
port.postMessage({ ready: true });
