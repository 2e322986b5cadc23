import { FileLogStore } from '../../src/log/file/file-log-store.js';
import type { LogStore } from '../../src/log/types.js';
import { makeTempDir } from './helpers/log-test-kit.js';
import { logStoreSuite } from './log-store-suite.js';

logStoreSuite('file', async ({ clock, defaults }) => {
  const temp = await makeTempDir();
  const make = async (): Promise<LogStore> => {
    const store = new FileLogStore({ dir: temp.dir, clock: clock.read, retentionCheckMs: 0, ...(defaults && { defaults }) });
    await store.open();
    return store;
  };
  let current = await make();
  return {
    get store() {
      return current;
    },
    reopen: async () => {
      await current.close();
      current = await make();
      return current;
    },
    cleanup: async () => {
      await current.close();
      await temp.remove();
    },
  };
});
