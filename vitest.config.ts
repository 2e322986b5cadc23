import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Crash and TLS tests start child processes and sockets; two workers match the 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
  },
});
