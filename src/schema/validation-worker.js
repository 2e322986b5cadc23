// @ts-check
/**
 * A validation thread of the broker (src/broker/validation-pool.ts): checks the records section of
 * one batch at a time with the same code as the main thread (section-check.ts) and posts the
 * verdict back. The sources are TypeScript, so the thread registers tsx's loader first, as
 * bin/sealbus.js does.
 *
 * A job: { id, ring: [start, length] (a place in the ring of shared memory the thread gets as
 * workerData) or bytes: Uint8Array (transferred), count, subjects: [{ subject, schemaId, schema? }],
 * options: { encrypted, firstInvalidOnly } }; the reply { id, verdict } or { id, error }. A schema
 * comes with the first job that names its id, and is kept.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

const port = parentPort;
if (port === null) throw new Error('validation-worker.js runs as a worker thread of the validation pool');

register();
const { checkSection } = await import('./section-check.js');
const { ValidatorCache } = await import('./validator.js');
const validators = new ValidatorCache();
/** @type {Map<number, any>} the schemas sent so far, by id */
const schemas = new Map();
/** @type {SharedArrayBuffer} */
const ring = workerData.ring;

port.on('message', (/** @type {any} */ job) => {
  try {
    for (const subject of job.subjects) if (subject.schema !== undefined) schemas.set(subject.schemaId, subject.schema);
    const bytes = job.ring !== undefined ? Buffer.from(ring, job.ring[0], job.ring[1]) : Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    const schemaOf = (/** @type {number} */ id) => {
      const schema = schemas.get(id);
      if (schema === undefined) throw new Error(`schema ${id} was never sent to this thread`);
      return schema;
    };
    const verdict = checkSection({ count: job.count, bytes }, job.subjects, (id) => validators.get(id, () => schemaOf(id)), job.options);
    port.postMessage({ id: job.id, verdict });
  } catch (err) {
    port.postMessage({ id: job.id, error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 500) : 'unknown error' });
  }
});
port.postMessage({ ready: true });
