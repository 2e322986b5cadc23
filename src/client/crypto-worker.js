// @ts-check
/**
 * A thread of the SDK's crypto pool (crypto-pool.ts): seals or opens the values of one batch at a
 * time, in place, and sends the bytes back. Plain JavaScript importing only tweetnacl (through
 * envelope-values.js), so that it loads the same under tsx, vitest and plain node.
 *
 * A job: { id, operation: 'seal' | 'open', bytes: Uint8Array, slots: Int32Array, key: Uint8Array },
 * `bytes` transferred; the reply { id, bytes, failed } transfers it back (`failed`: the index of the
 * first value that did not open, else -1). The content key is zeroed once used. A job that throws
 * kills the thread: the pool fails that batch, and a new thread takes its place with the next one.
 */
import { parentPort } from 'node:worker_threads';
import { openValuesInPlace, sealValuesInPlace } from '../payload/envelope-values.js';

/**
 * @typedef {object} CryptoJob
 * @property {number} id
 * @property {'seal' | 'open'} operation
 * @property {Uint8Array} bytes
 * @property {Int32Array} slots
 * @property {Uint8Array} key
 */

const port = parentPort;
if (port === null) throw new Error('crypto-worker.js runs as a worker thread of the crypto pool');

port.on('message', (/** @type {CryptoJob} */ job) => {
  let failed = -1;
  try {
    if (job.operation === 'seal') sealValuesInPlace(job.bytes, job.slots, job.key);
    else if (job.operation === 'open') failed = openValuesInPlace(job.bytes, job.slots, job.key);
    else throw new Error(`unknown operation ${String(job.operation)}`);
  } finally {
    job.key.fill(0);
  }
  port.postMessage({ id: job.id, bytes: job.bytes, failed }, [/** @type {ArrayBuffer} */ (job.bytes.buffer)]);
});
