import { defineConfig } from 'vitest/config';

// Three projects: unit (pure code, no sockets), integration (real processes and loopback
// sockets against the built CLI in dist/), e2e (whole-product runs as a user would: a real
// Prometheus scraping Flusso, the GUI in headless Chromium).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own Flusso processes on port 0-derived ports; run files one
          // at a time so two files never fight over CPU on the 2-core CI machine.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 90_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
