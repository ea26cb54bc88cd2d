import { defineConfig } from 'vitest/config';

// Worker-based tests spawn real worker_threads from dist/ (built by `npm test`
// before vitest runs), so they need generous timeouts on the 2-core machines;
// no test asserts a wall-clock time. The log shows a test's output (its seed,
// the reports of the runs it made, a broken twin's expected FAIL lines) only
// when that test failed.
export default defineConfig({
  test: {
    silent: 'passed-only',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
