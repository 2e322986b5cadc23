import { watch, type FSWatcher } from 'node:fs';
import { SealbusError, isSealbusError } from '../errors/index.js';
import { policyInvalid } from './findings.js';
import { readPolicySources } from './load.js';
import { Policy, policyVersion } from './policy.js';

export interface PolicyWatchHandlers {
  /** A new, valid policy set whose version differs from the one before. */
  onLoad(policy: Policy): void;
  /** The set on disk cannot be used; the caller keeps the policy it has. Reported once per distinct problem. */
  onError(error: SealbusError): void;
}

export interface PolicyWatchOptions {
  /** Quiet time after the last change before the set is read (default 200 ms). */
  readonly debounceMs?: number;
  /**
   * How often the set is re-read even without a file event (default 10 s; 0 turns it off), for
   * filesystems where fs.watch misses events and to re-watch a directory that was replaced.
   */
  readonly pollMs?: number;
  /**
   * The version the caller already runs. The watcher reads the set once it watches, and calls
   * onLoad if that differs, so a change between the caller's load and the watch is not lost.
   * Without it, that first read only sets the baseline.
   */
  readonly initialVersion?: string;
}

export interface PolicyWatcher {
  /** Resolves once the directory is watched and read for the first time. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Watches a policy directory and reloads the whole set after changes: files written in place,
 * replaced by rename (editors, `kubectl cp`), or swapped by a ConfigMap symlink update. A set that
 * fails to read, parse or validate goes to onError, never to onLoad. A directory that disappears is
 * an error too (not an empty, deny-all set), since that is what a directory being replaced looks
 * like; an existing directory without policy files loads as the deny-all policy.
 */
export function watchPolicyDir(dir: string, handlers: PolicyWatchHandlers, options: PolicyWatchOptions = {}): PolicyWatcher {
  const debounceMs = options.debounceMs ?? 200;
  const pollMs = options.pollMs ?? 10_000;
  let version: string | null = options.initialVersion ?? null;
  // Only the very first read may set the baseline silently: after a failed first read, the next
  // good set is news to the caller.
  let firstRead = true;
  let lastError: string | null = null;
  let closed = false;
  let watcher: FSWatcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;

  // Handlers are the caller's code: an exception there is the caller's bug and surfaces as such,
  // instead of silently stopping the reloads.
  const call = (work: () => void) => {
    try {
      work();
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  };

  const readOnce = async (): Promise<void> => {
    const baseline = firstRead && version === null;
    firstRead = false;
    let policy: Policy | null = null;
    try {
      const read = await readPolicySources(dir);
      if (read.kind === 'missing') {
        // A replaced directory is a new inode: drop the old watch so that the poll watches the new one.
        watcher?.close();
        watcher = null;
        throw new SealbusError('SEALBUS_ERR_POLICY_UNREADABLE', { file: dir, reason: 'the directory does not exist; the policy in force stays' });
      }
      const first = read.findings[0];
      if (first !== undefined) throw policyInvalid(first);
      // The poll re-reads the set every pollMs whether or not it changed: compiling a large set
      // takes the event loop for tens of milliseconds, so an unchanged one is not compiled again.
      if (baseline || policyVersion(read.sources) !== version) policy = Policy.compile(read.sources);
    } catch (err) {
      if (closed) return;
      const error = isSealbusError(err) ? err : new SealbusError('SEALBUS_ERR_POLICY_UNREADABLE', { file: dir, reason: (err as Error).message });
      const key = `${error.code} ${error.message}`;
      if (key !== lastError) {
        lastError = key;
        call(() => handlers.onError(error));
      }
      return;
    }
    if (closed) return;
    lastError = null;
    startWatching();
    if (policy === null) return; // the set in force, read again
    if (baseline) {
      version = policy.version;
    } else if (policy.version !== version) {
      version = policy.version;
      call(() => handlers.onLoad(policy));
    }
  };

  const reload = (): Promise<void> => {
    if (running !== null) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await readOnce();
      } while (again && !closed);
      running = null;
    })();
    return running;
  };

  const schedule = () => {
    if (closed) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void reload();
    }, debounceMs);
    timer.unref();
  };

  const startWatching = () => {
    if (watcher !== null || closed) return;
    try {
      const current = watch(dir, { persistent: false }, schedule);
      current.on('error', () => {
        // The directory went away (deleted or replaced): watch again on the next poll.
        current.close();
        if (watcher === current) watcher = null;
        schedule();
      });
      watcher = current;
    } catch {
      watcher = null; // not there yet; the poll tries again
    }
  };

  startWatching();
  const poll =
    pollMs > 0
      ? setInterval(() => {
          startWatching();
          void reload();
        }, pollMs).unref()
      : null;
  const ready = reload();

  return {
    ready,
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      if (poll !== null) clearInterval(poll);
      watcher?.close();
      watcher = null;
      await running;
    },
  };
}
