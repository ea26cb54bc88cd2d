/**
 * A run's clock starts once its workers run (src/workers/start-wait.ts): on a loaded machine
 * starting the worker threads can take longer than a short run, which must still do its
 * work. IOASID_SLOW_START_MS makes every worker of the three threaded harnesses (the stress
 * run's CPUs, the threaded hardware-model run's actors, the RCU torture's threads) start
 * 2.5 s late; each 1 s run must still have worked. Nothing about time is asserted: only that
 * the busy part did something.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testSeed } from './helpers/seed.js';

const CLI = fileURLToPath(new URL('../dist/stress/bin.js', import.meta.url));
const SLOW_START = { IOASID_SLOW_START_MS: '2500' };

/** Run the CLI (asked for its JSON report on stdout) with every worker starting late. */
function runSlowStart(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--quiet'], {
      env: { ...process.env, ...SLOW_START },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`exit ${code}: ${err}`));
      else resolve(JSON.parse(out) as Record<string, unknown>);
    });
  });
}

describe('a 1 s run whose workers start 2.5 s late still works', () => {
  const seed = String(testSeed('test/short_runs_work_after_a_slow_worker_start.test.ts'));

  it('the stress run (churn): its CPUs made operations', async () => {
    const r = await runSlowStart([
      '--scenario',
      'churn',
      '--seconds',
      '1',
      '--seed',
      seed,
      '--json',
      '-',
    ]);
    expect(r.verdict).toBe('PASS');
    const ops = (r.operations as { count: number }[]).reduce((n, o) => n + o.count, 0);
    expect(ops).toBeGreaterThan(0);
  });

  it('the threaded hardware-model run (host-sva): its processes submitted work', async () => {
    const r = await runSlowStart([
      '--scenario',
      'host-sva',
      '--seconds',
      '1',
      '--seed',
      seed,
      '--json',
      '-',
    ]);
    expect(r.verdict).toBe('PASS');
    // Submissions happen only in the busy part (the wind-down only unbinds and exits).
    expect((r.hardware as { submissions: number }).submissions).toBeGreaterThan(0);
  });

  it('the RCU torture: its readers read and its writers ended grace periods', async () => {
    const r = await runSlowStart([
      'torture',
      '--seconds',
      '1',
      '--seed',
      seed,
      '--kill-every',
      '0',
      '--json',
    ]);
    expect(r.verdict).toBe('SUCCESS');
    expect(r.reads as number).toBeGreaterThan(0);
    expect(r.gracePeriods as number).toBeGreaterThan(0);
  });
});
