import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Synthesis bundles Lambdas and tests start the AWS emulator and Spark: give them time.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores on CI machines: more workers only contend.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
