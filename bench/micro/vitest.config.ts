import { defineConfig } from 'vitest/config';

// Microbenchmarks only (npm run bench:micro): kept out of the root config so `vitest run`
// (npm test) never collects them, and so no test project runs them twice.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    benchmark: { include: ['bench/micro/**/*.bench.ts'] },
  },
});
