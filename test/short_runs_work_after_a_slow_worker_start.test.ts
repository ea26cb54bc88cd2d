/**
 * A run's clock starts once its workers run (src/workers/start-wait.ts): on a loaded machine
 * starting the worker threads can take longer than a short run, which must still do its
 * work. IOASID_SLOW_START_MS makes every worker of the three threaded harnesses (the stress
 * run's CPUs, the threaded hardware-model run's actors, the RCU torture's threads) start
 * 2.5 s late; each 1 s run must still have worked. Nothing about time is asserted: only that
 * the busy part did something.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testSeed } from './helpers/seed.js';

const CLI = fileURLToPath(new URL('../dist/stress/bin.js', import.meta.url));
type Report = Record<string, unknown>;

const stressOps = (r: Report) =>
  (r.operations as { count: number }[]).reduce((n, o) => n + o.count, 0);
// Submissions happen only in the busy part (the wind-down only unbinds and exits).
const modelSubmissions = (r: Report) => (r.hardware as { submissions: number }).submissions;
const tortureWork = (r: Report) => Math.min(r.reads as number, r.gracePeriods as number);

describe('a 1 s run whose workers start 2.5 s late still works', () => {
  const seed = String(testSeed('test/short_runs_work_after_a_slow_worker_start.test.ts'));

  it.each([
    [
      'the stress run (churn): operations',
      ['--scenario', 'churn', '--json', '-'],
      'PASS',
      stressOps,
    ],
    [
      'the threaded hardware-model run (host-sva): submissions',
      ['--scenario', 'host-sva', '--json', '-'],
      'PASS',
      modelSubmissions,
    ],
    [
      'the RCU torture: reads and grace periods',
      ['torture', '--kill-every', '0', '--json'],
      'SUCCESS',
      tortureWork,
    ],
  ] as const)('%s', (_, args, verdict, work) => {
    const r = spawnSync(
      process.execPath,
      [CLI, ...args, '--seconds', '1', '--seed', seed, '--quiet'],
      {
        encoding: 'utf8',
        env: { ...process.env, IOASID_SLOW_START_MS: '2500' },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.verdict).toBe(verdict);
    expect(work(report)).toBeGreaterThan(0);
  });
});
