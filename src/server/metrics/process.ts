/**
 * prom-client's process metrics (CPU, memory, event loop lag, GC, file descriptors), collected
 * once per process in a registry of their own: each default collector starts monitors that are
 * never stopped, so every broker of a process (tests start many) shares the one set.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

let shared: Registry | undefined;

export function processRegistry(): Registry {
  if (shared === undefined) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
