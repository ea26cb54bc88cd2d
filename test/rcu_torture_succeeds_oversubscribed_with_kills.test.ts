/**
 * The rcutorture port, short: 7 threads on the 2-core machine (oversubscribed), readers
 * killed mid-section and replaced, stutter, fake writers. It must end in SUCCESS with
 * nothing past bucket 1 of either histogram.
 */
import { describe, expect, it } from 'vitest';
import { formatTortureReport, runTorture, TORTURE_DEFAULTS } from '../stress/torture/run.js';
import { testSeed } from './helpers/seed.js';

describe.each(['marks', 'mb', 'qsbr'] as const)('RCU torture, correct RCU, %s flavor', (flavor) => {
  it('succeeds oversubscribed, with kills mid-section and stutter', async () => {
    const seed = testSeed('test/rcu_torture_succeeds_oversubscribed_with_kills.test.ts');
    const report = await runTorture({
      ...TORTURE_DEFAULTS,
      seconds: 5,
      readers: 4,
      writers: 1,
      fakeWriters: 2,
      killEveryMs: 400,
      // The kills asserted below are made even when a loaded machine slows every kill down.
      minKills: 4,
      // Likewise the grace periods asserted below (30 in 5 s at load 44 before this).
      minGracePeriods: 60,
      // Owed work ends the run as soon as it is done; this only caps a run that never gets it.
      maxExtraSeconds: 60,
      stutterEveryMs: 1500,
      stutterForMs: 200,
      flavor,
      seed,
    });
    console.log(formatTortureReport(report));
    expect(report.failures).toEqual([]);
    expect(report.verdict).toBe('SUCCESS');
    expect(report.readerPipe.slice(2).every((n) => n === 0)).toBe(true);
    expect(report.readerBatch.slice(2).every((n) => n === 0)).toBe(true);
    // It really exercised what it claims to.
    expect(report.reads).toBeGreaterThan(10_000);
    expect(report.readerPipe[1]).toBeGreaterThan(0);
    expect(report.gracePeriods).toBeGreaterThan(50);
    expect(report.kills).toBeGreaterThan(3);
    expect(report.stutters).toBeGreaterThan(0);
    expect(Object.values(report.waitsByMethod).every((n) => n > 0)).toBe(true);
    expect(report.nestedSections).toBeGreaterThan(0);
  });
});
