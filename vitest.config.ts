import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Appliance tests launch qemu under TCG; two cores cannot run many at once.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
