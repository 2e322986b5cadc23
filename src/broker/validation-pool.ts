/**
 * Worker threads that validate large batches for the schema guard, so that the broker's main
 * thread goes on reading frames, appending and acknowledging while records are parsed and checked
 * (docs/schemas.md). Each thread runs the same check as the main thread (src/schema/section-check.ts).
 *
 * Threads start with the first batch offered and answer only once they have loaded; until then, and
 * whenever a thread fails, `run` returns null or rejects and the caller checks the batch itself: a
 * produce never waits for a thread to boot and never fails because one died. Threads are unref'ed
 * while idle and end with `close()`.
 *
 * A hop to a thread must cost little next to the check it saves (a few µs per record), so a batch
 * is copied into a ring of shared memory that each thread has from its start (a copy of bytes,
 * nothing allocated), and a schema is sent to a thread once, not with every batch. Only a batch
 * larger than the ring's free space is posted as its own transferred copy.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EncodedRecords } from '../log/types.js';
import type { GovernedSubject, SectionCheckOptions, SectionVerdict } from '../schema/section-check.js';
import type { JsonSchema } from '../schema/schema-document.js';

const WORKER_URL = new URL('../schema/validation-worker.js', import.meta.url);

/** Batches smaller than this are checked on the main thread: the hop to a thread costs more. */
export const MIN_POOL_BYTES = 32 * 1024;
/**
 * A batch of MIN_POOL_BYTES or more goes to a thread only when its records are slow to check: when,
 * at the pace measured on that topic's recent batches on the main thread, a byte takes longer than
 * this. A hop costs about 1.3 µs of CPU per 1 KiB record counted over both threads (copy, messages,
 * wake-ups), which pays only where a core is idle and the check costs more: records a schema's shape
 * takes (fast-shape.ts) cost about 0.6 to 1 ns a byte in the broker, those that need the byte-level pass 3
 * or more, and ajv several times that (docs/schemas.md).
 */
export const MIN_POOL_NANOS_PER_BYTE = 2;
/** Of the batches a topic sends to threads, one in this many is checked in place, to measure the pace again. */
const MEASURE_EVERY = 32;
/** The pace is the fastest of this many last measurements: time on the clock only grows when the thread is preempted. */
const PACE_WINDOW = 8;
const MAX_PACED_TOPICS = 10_000;

interface Pace {
  /** ns per byte of the last PACE_WINDOW checks made in place (a ring). */
  readonly recent: Float64Array;
  next: number;
  /** Checks measured so far. */
  measured: number;
  offloaded: number;
}

/**
 * Per topic, how long checking a byte takes on the main thread, from the batches checked there:
 * whether the next large batch is worth a hop to a thread.
 */
export class OffloadPace {
  readonly #paces = new Map<string, Pace>();

  /** `nanosPerByte` 0 sends every large batch to a thread, unmeasured. */
  constructor(readonly nanosPerByte = MIN_POOL_NANOS_PER_BYTE) {}

  /** Whether a batch of `bytes` for `topic` should go to a thread (false: check it here, measured). */
  offload(topic: string, bytes: number): boolean {
    if (bytes < MIN_POOL_BYTES) return false;
    if (this.nanosPerByte === 0) return true;
    const pace = this.#paces.get(topic);
    // Until a window of checks is measured (the first ones run cold), everything is checked here.
    if (pace === undefined || pace.measured < PACE_WINDOW) return false;
    let fastest = Infinity;
    for (const nanosPerByte of pace.recent) fastest = Math.min(fastest, nanosPerByte);
    if (fastest < this.nanosPerByte) return false;
    return pace.offloaded++ % MEASURE_EVERY !== MEASURE_EVERY - 1;
  }

  /** Records a check made here: `micros` for `bytes` (only large batches say anything about a hop). */
  measured(topic: string, bytes: number, micros: number): void {
    if (bytes < MIN_POOL_BYTES || this.nanosPerByte === 0) return;
    let pace = this.#paces.get(topic);
    if (pace === undefined) {
      if (this.#paces.size >= MAX_PACED_TOPICS) this.#paces.clear();
      pace = { recent: new Float64Array(PACE_WINDOW), next: 0, measured: 0, offloaded: 0 };
      this.#paces.set(topic, pace);
    }
    pace.recent[pace.next] = (micros * 1000) / bytes;
    pace.measured++;
    pace.next = (pace.next + 1) % PACE_WINDOW;
  }
}

/** Each thread's ring of shared memory for the batches it is given. */
export const RING_BYTES = 4 * 1024 * 1024;
export const MAX_VALIDATION_THREADS = 16;
const MAX_FAILED_STARTS = 3;

/** The `schemaValidation.threads` default: one per core beyond the first, at most 4. */
export function defaultValidationThreads(): number {
  return Math.min(4, Math.max(0, availableParallelism() - 1));
}

/** The pool `schemaValidation.threads` asks for: null for the default, 0 for none. */
export function validationPool(threads: number | null): ValidationPool | null {
  const count = threads ?? defaultValidationThreads();
  return count === 0 ? null : new ValidationPool(count);
}

export interface ValidationJob {
  readonly section: EncodedRecords;
  readonly subjects: readonly (GovernedSubject & { readonly schema: JsonSchema })[];
  readonly options: SectionCheckOptions;
}

interface Pending {
  readonly resolve: (verdict: SectionVerdict) => void;
  readonly reject: (error: Error) => void;
}

/** A batch's place in a thread's ring, held until the thread answers for it. */
interface Slot {
  readonly id: number;
  readonly start: number;
  readonly end: number;
  done: boolean;
}

interface Thread {
  readonly worker: Worker;
  ready: boolean;
  /** Set once, by the first of its error, messageerror and exit events. */
  lost: boolean;
  readonly jobs: Map<number, Pending>;
  readonly ring: Uint8Array;
  /** Places in the ring in the order they were taken (and, the thread answering in order, freed). */
  readonly slots: Slot[];
  /** Schema ids the thread has been sent. */
  readonly schemas: Set<number>;
}

/** Where a batch of `size` bytes fits in the ring after its taken places, or -1. */
function ringPlace(thread: Thread, size: number): number {
  const { slots, ring } = thread;
  if (slots.length === 0) return size <= ring.length ? 0 : -1;
  const oldest = slots[0]!.start;
  const newest = slots[slots.length - 1]!;
  const head = newest.end;
  if (newest.start >= oldest) {
    // Not wrapped: free space after the newest place, and before the oldest.
    if (head + size <= ring.length) return head;
    return size <= oldest ? 0 : -1;
  }
  // The ring has wrapped: the free space lies between the newest place and the oldest.
  return head + size <= oldest ? head : -1;
}

type Reply = { readonly ready: true } | { readonly id: number; readonly verdict: SectionVerdict } | { readonly id: number; readonly error: string };

export class ValidationPool {
  readonly #threads: (Thread | null)[];
  #nextId = 1;
  #closed = false;
  /** Threads that died before they loaded: after a few, none is started again (all checks stay inline). */
  #failedStarts = 0;
  #started = 0;

  constructor(threads: number, readonly workerUrl: URL = WORKER_URL) {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_VALIDATION_THREADS) throw new RangeError(`a validation pool has 1..${MAX_VALIDATION_THREADS} threads, not ${threads}`);
    this.#threads = new Array<Thread | null>(threads).fill(null);
  }

  /** Threads loaded and answering. */
  get ready(): number {
    return this.#threads.filter((thread) => thread?.ready === true).length;
  }

  /** Threads started so far, and how many of them died before they loaded. */
  get starts(): { readonly started: number; readonly failedBeforeReady: number } {
    return { started: this.#started, failedBeforeReady: this.#failedStarts };
  }

  /** Checks a section in a thread; null when none is ready (check it yourself). Rejects if the thread fails. */
  run(job: ValidationJob): Promise<SectionVerdict> | null {
    if (this.#closed) return null;
    const thread = this.#pick();
    if (thread === null) return null;
    const id = this.#nextId++;
    const source = job.section.bytes;
    // Each schema goes to a thread once; the thread keeps it by id.
    const subjects = job.subjects.map(({ subject, schemaId, schema }) => (thread.schemas.has(schemaId) ? { subject, schemaId } : { subject, schemaId, schema }));
    for (const { schemaId } of job.subjects) thread.schemas.add(schemaId);
    const message: Record<string, unknown> = { id, count: job.section.count, subjects, options: job.options };
    const transfer: ArrayBuffer[] = [];
    const start = ringPlace(thread, source.length);
    if (start >= 0) {
      thread.ring.set(source, start);
      thread.slots.push({ id, start, end: start + source.length, done: false });
      message.ring = [start, source.length];
    } else {
      // An exact copy, transferred: a view's whole underlying buffer would otherwise be cloned.
      const bytes = new Uint8Array(source.length);
      bytes.set(source);
      message.bytes = bytes;
      transfer.push(bytes.buffer);
    }
    return new Promise<SectionVerdict>((resolve, reject) => {
      thread.jobs.set(id, { resolve, reject });
      thread.worker.ref();
      thread.worker.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads.splice(0, this.#threads.length, ...this.#threads.map(() => null));
    await Promise.all(
      threads.map(async (thread) => {
        if (thread === null) return;
        this.#fail(thread, 'the pool was closed');
        await thread.worker.terminate();
      }),
    );
  }

  /** The ready thread with the fewest jobs; empty places get a thread (ready later). */
  #pick(): Thread | null {
    let best: Thread | null = null;
    for (let index = 0; index < this.#threads.length; index++) {
      const thread = this.#threads[index] ?? (this.#failedStarts < MAX_FAILED_STARTS ? this.#spawn(index) : null);
      if (thread === null || !thread.ready) continue;
      if (thread.jobs.size === 0) return thread;
      if (best === null || thread.jobs.size < best.jobs.size) best = thread;
    }
    return best;
  }

  #spawn(index: number): Thread {
    const ring = new SharedArrayBuffer(RING_BYTES);
    const worker = new Worker(this.workerUrl, { name: 'sealbus-validation', execArgv: [], workerData: { ring } });
    this.#started++;
    const thread: Thread = { worker, ready: false, lost: false, jobs: new Map(), ring: new Uint8Array(ring), slots: [], schemas: new Set() };
    this.#threads[index] = thread;
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        thread.ready = true;
        return;
      }
      const slot = thread.slots.find((taken) => taken.id === reply.id);
      if (slot !== undefined) slot.done = true;
      while (thread.slots[0]?.done === true) thread.slots.shift();
      const job = thread.jobs.get(reply.id);
      if (job === undefined) return;
      thread.jobs.delete(reply.id);
      if (thread.jobs.size === 0) worker.unref();
      if ('verdict' in reply) job.resolve(reply.verdict);
      else job.reject(new Error(`a validation thread failed: ${reply.error}`));
    });
    const lost = (reason: string): void => {
      if (thread.lost) return;
      thread.lost = true;
      if (this.#threads[index] === thread) this.#threads[index] = null;
      if (!thread.ready && !this.#closed) this.#failedStarts++;
      this.#fail(thread, reason);
      void worker.terminate();
    };
    worker.on('error', (err) => lost(`${err.name}: ${err.message}`));
    worker.on('messageerror', () => lost('a reply could not be read'));
    worker.on('exit', (code) => lost(`the thread exited with code ${code}`));
    worker.unref();
    return thread;
  }

  #fail(thread: Thread, reason: string): void {
    thread.ready = false;
    const jobs = [...thread.jobs.values()];
    thread.jobs.clear();
    thread.worker.unref();
    for (const job of jobs) job.reject(new Error(`a validation thread failed: ${reason}`));
  }
}
