import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { makeTempDir } from './helpers/log-test-kit.js';
import { logStoreSuite, reopenableHarness } from './log-store-suite.js';

logStoreSuite('file', async ({ clock, defaults }) => {
  const temp = await makeTempDir();
  return reopenableHarness(
    async () => new FileLogStore({ dir: temp.dir, clock: clock.read, retentionCheckMs: 0, ...(defaults && { defaults }) }),
    () => temp.remove(),
  );
});
