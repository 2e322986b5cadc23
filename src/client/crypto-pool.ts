/**
 * A small pool of worker threads for the per-record part of end-to-end encryption: sealing the values
 * of a batch (producer) and opening them (consumer), so that the main thread keeps encoding, sending
 * and acknowledging while the workers run secretbox. The per-batch part (wrapping or unwrapping the
 * content key, signing, verifying) stays on the main thread: see src/payload/envelope-stages.ts.
 *
 * A batch's values travel in one buffer, transferred to the worker and back (never copied); its
 * content key is copied into the message and zeroed here at once, and by the worker once used.
 * Workers start with the first batch large enough for them (or `start()`): small uses of the SDK never
 * start a thread. A batch sent while they boot waits in its thread's queue. They are unref'ed while idle, so that they never keep a process alive, and end with `close()`. A worker that dies fails the batches it held with
 * SEALBUS_ERR_CRYPTO_WORKER_FAILED; the next batch starts a new one in its place.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SealbusError } from '../errors/index.js';
import { openValues, sealValues, type ValueJob } from '../payload/envelope-stages.js';

/** Plain JavaScript, so it loads the same under tsx, vitest and plain node. */
const WORKER_URL = new URL('./crypto-worker.js', import.meta.url);

/** Values of fewer bytes are sealed or opened in the caller's thread: a round trip to a worker costs more than that much secretbox. */
export const MIN_POOL_BYTES = 16 * 1024;
export const MAX_CRYPTO_THREADS = 64;

export type CryptoOperation = 'seal' | 'open';

export interface JobResult {
  /** The job's bytes, sealed or opened in place. */
  readonly bytes: Buffer;
  /** open: the index of the first value that does not authenticate, else -1 (and always -1 for seal). */
  readonly failed: number;
}

interface PendingJob {
  readonly resolve: (result: JobResult) => void;
  readonly reject: (error: SealbusError) => void;
  readonly operation: CryptoOperation;
}

interface PoolThread {
  readonly worker: Worker;
  readonly jobs: Map<number, PendingJob>;
}

interface JobReply {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly failed: number;
}

function workerFailed(operation: CryptoOperation, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_CRYPTO_WORKER_FAILED', { operation: operation === 'seal' ? 'sealing' : 'opening', reason });
}

/**
 * The `threads` option of `encryption` and `decryption`: worker threads for secretbox; 0 keeps the
 * work on the main thread. SEALBUS_ERR_CONFIG_INVALID unless an integer in [0, 64]. The defaults,
 * measured with bench:encrypted on two cores: a producer's main thread encodes, sends and
 * acknowledges, so sealing leaves it a core (min(2, cores - 1): one worker there, as fast as two);
 * a consumer's main thread mostly waits, so opening takes min(2, cores) (two workers there: 0.81 of
 * raw secretbox against 0.70 with one).
 */
export function cryptoThreadsOption(value: number | undefined, file: string, key: string, use: 'seal' | 'open'): number {
  if (value === undefined) return Math.max(use === 'open' ? 1 : 0, Math.min(2, availableParallelism() - (use === 'open' ? 0 : 1)));
  if (!Number.isInteger(value) || value < 0 || value > MAX_CRYPTO_THREADS) {
    throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file, key, reason: `must be an integer in [0, ${MAX_CRYPTO_THREADS}] (0: no worker threads)` });
  }
  return value;
}

export class CryptoPool {
  readonly #url: URL;
  readonly #threads: (PoolThread | null)[];
  #nextId = 0;
  #closed = false;

  /** `workerUrl` is for tests (a worker that crashes on demand). */
  constructor(threads: number, workerUrl: URL = WORKER_URL) {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_CRYPTO_THREADS) throw new RangeError(`a crypto pool has 1..${MAX_CRYPTO_THREADS} threads, not ${threads}`);
    this.#url = workerUrl;
    this.#threads = new Array<PoolThread | null>(threads).fill(null);
  }

  /** Worker threads running now. */
  get size(): number {
    return this.#threads.filter((thread) => thread !== null).length;
  }

  /** Starts every worker now, so that they boot before the first batches need them. */
  start(): void {
    if (this.#closed) return;
    for (let index = 0; index < this.#threads.length; index++) if (this.#threads[index] === null) this.#spawn(index);
  }

  /**
   * Seals or opens the values of `job` in a worker. Takes the job over: its buffer is transferred
   * (the result carries it back) and its content key is zeroed before this returns. Rejects with
   * SEALBUS_ERR_CRYPTO_WORKER_FAILED when the worker dies or the pool is closed.
   */
  run(operation: CryptoOperation, job: ValueJob): Promise<JobResult> {
    const key = new Uint8Array(job.contentKey);
    job.contentKey.fill(0);
    if (this.#closed) {
      key.fill(0);
      return Promise.reject(workerFailed(operation, 'the pool is closed'));
    }
    // Transferring a view of a shared ArrayBuffer (Node's small-Buffer pool) would take more than the job.
    const owned = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength;
    const bytes = owned ? job.bytes : new Uint8Array(job.bytes);
    const thread = this.#pick();
    const id = this.#nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      if (thread.jobs.size === 0) thread.worker.ref();
      thread.jobs.set(id, { resolve, reject, operation });
      try {
        thread.worker.postMessage({ id, operation, bytes, slots: job.slots, key }, [bytes.buffer as ArrayBuffer, key.buffer]);
      } catch (err) {
        key.fill(0);
        thread.jobs.delete(id);
        if (thread.jobs.size === 0) thread.worker.unref();
        reject(workerFailed(operation, `the batch could not be handed over: ${err instanceof Error ? err.message : String(err)}`));
      }
    });
  }

  /** Terminates every worker; jobs still running fail. Later jobs fail at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads.splice(0, this.#threads.length, ...this.#threads.map(() => null));
    await Promise.all(
      threads.map(async (thread) => {
        if (thread === null) return;
        this.#failJobs(thread, 'the pool was closed');
        await thread.worker.terminate();
      }),
    );
  }

  /** The least busy worker; a free place gets a new one. */
  #pick(): PoolThread {
    let best: PoolThread | null = null;
    for (let index = 0; index < this.#threads.length; index++) {
      const thread = this.#threads[index] ?? this.#spawn(index);
      if (thread.jobs.size === 0) return thread;
      if (best === null || thread.jobs.size < best.jobs.size) best = thread;
    }
    return best!;
  }

  #spawn(index: number): PoolThread {
    // No execArgv: the worker is plain JavaScript and needs no loader (tsx would only slow its start).
    const worker = new Worker(this.#url, { name: 'sealbus-crypto', execArgv: [] });
    const thread: PoolThread = { worker, jobs: new Map() };
    this.#threads[index] = thread;
    worker.on('message', (reply: JobReply) => {
      const job = thread.jobs.get(reply.id);
      if (job === undefined) return;
      thread.jobs.delete(reply.id);
      if (thread.jobs.size === 0) worker.unref();
      job.resolve({ bytes: Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength), failed: reply.failed });
    });
    worker.on('error', (err) => this.#lost(index, thread, `${err.name}: ${err.message}`));
    worker.on('messageerror', () => this.#lost(index, thread, 'a reply could not be read'));
    worker.on('exit', (code) => this.#lost(index, thread, `the thread exited with code ${code}`));
    // After the listeners: listening for messages refs the worker again.
    worker.unref();
    return thread;
  }

  /** A worker died (or can no longer be trusted to answer): its jobs fail, its place is free for a new one. */
  #lost(index: number, thread: PoolThread, reason: string): void {
    if (this.#threads[index] === thread) this.#threads[index] = null;
    this.#failJobs(thread, reason);
    void thread.worker.terminate();
  }

  #failJobs(thread: PoolThread, reason: string): void {
    const jobs = [...thread.jobs.values()];
    thread.jobs.clear();
    thread.worker.unref();
    for (const job of jobs) job.reject(workerFailed(job.operation, reason));
  }
}

/** Seals a job's values in a worker of `pool`, or in this thread without a pool or for a small batch (MIN_POOL_BYTES). */
export function sealValuesWith(pool: CryptoPool | null, job: ValueJob): Buffer | Promise<Buffer> {
  if (pool === null || job.bytes.length < MIN_POOL_BYTES) return sealValues(job);
  return pool.run('seal', job).then((result) => result.bytes);
}

/** Opens a job's values in a worker of `pool`, or in this thread without a pool or for a small batch (MIN_POOL_BYTES). */
export function openValuesWith(pool: CryptoPool | null, job: ValueJob): JobResult | Promise<JobResult> {
  if (pool === null || job.bytes.length < MIN_POOL_BYTES) return openValues(job);
  return pool.run('open', job);
}
