import { MemoryLogStore } from '../../src/log/memory/memory-log-store.js';
import { logStoreSuite } from './log-store-suite.js';

logStoreSuite('memory', async ({ clock, defaults }) => {
  const store = new MemoryLogStore({ clock: clock.read, ...(defaults && { defaults }) });
  await store.open();
  return { store, cleanup: () => store.close() };
});
