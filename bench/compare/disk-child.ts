/**
 * The raw-disk row's process (forked by disk.ts): what any fsync-before-ack server pays at the
 * least, with no network, no protocol and no security. Each record is written to the end of one
 * file from the event loop (as sealbus writes small groups) and acknowledged after an fdatasync
 * that started after its write: group commit, one fdatasync in flight at a time, everything
 * written meanwhile sharing the next one (sealbus's append pipeline, without anything around it).
 *
 * Requests arrive by IPC as { id, op, ... } and are answered with { id, value } or { id, error }.
 */
import { closeSync, fdatasync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { atFixedRate, keepInFlight } from '../dev-broker.js';
import { BINARY_VALUE, RECORD_BYTES } from './workload.js';

const READ_BYTES = 1024 * 1024;

class GroupCommitFile {
  #position = 0;
  #unsynced: (() => void)[] = [];
  #syncing = false;
  #failure: Error | null = null;

  constructor(
    readonly path: string,
    readonly fd: number,
  ) {}

  append(record: Buffer): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    this.#position += writeSync(this.fd, record, 0, record.length, this.#position);
    return new Promise((resolve) => {
      this.#unsynced.push(resolve);
      this.#sync();
    });
  }

  #sync(): void {
    if (this.#syncing || this.#unsynced.length === 0) return;
    this.#syncing = true;
    const group = this.#unsynced;
    this.#unsynced = [];
    fdatasync(this.fd, (err) => {
      this.#syncing = false;
      if (err !== null) {
        // As the broker: an fsync error is final (the kernel may have dropped the pages).
        this.#failure = err;
        process.stderr.write(`raw disk: fdatasync failed: ${err.message}\n`);
        return;
      }
      for (const resolve of group) resolve();
      this.#sync();
    });
  }

  /** Reads the file from its start, 1 MiB at a time; returns records/s. */
  readAll(count: number): number {
    const started = performance.now();
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    let position = 0;
    for (;;) {
      const read = readSync(this.fd, buffer, 0, READ_BYTES, position);
      if (read === 0) break;
      position += read;
    }
    if (position < count * RECORD_BYTES) throw new Error(`read ${position} bytes back, expected ${count * RECORD_BYTES}`);
    return count / ((performance.now() - started) / 1000);
  }
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: disk-child DATA_DIR');
const files = new Map<string, GroupCommitFile>();

function fileOf(topic: string): GroupCommitFile {
  const file = files.get(topic);
  if (file === undefined) throw new Error(`no file for ${topic}: setup first`);
  return file;
}

type Request =
  | { id: number; op: 'setup' | 'drop'; topic: string }
  | { id: number; op: 'produce'; topic: string; count: number; yieldEvery: number }
  | { id: number; op: 'consume'; topic: string; count: number }
  | { id: number; op: 'latency'; topic: string; rate: number; seconds: number };

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'setup': {
      const path = join(dir!, `${request.topic}.log`);
      files.set(request.topic, new GroupCommitFile(path, openSync(path, 'wx+', 0o600)));
      return null;
    }
    case 'drop': {
      const file = fileOf(request.topic);
      closeSync(file.fd);
      rmSync(file.path, { force: true });
      files.delete(request.topic);
      return null;
    }
    case 'produce': {
      const file = fileOf(request.topic);
      return keepInFlight(request.count, () => file.append(BINARY_VALUE), request.yieldEvery);
    }
    case 'consume':
      return fileOf(request.topic).readAll(request.count);
    case 'latency': {
      const file = fileOf(request.topic);
      return atFixedRate(request.rate, request.seconds, () => file.append(BINARY_VALUE), 0);
    }
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    (value) => process.send!({ id: request.id, value }),
    (err: unknown) => process.send!({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.send!({ ready: true });
