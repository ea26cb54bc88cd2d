/**
 * The torture harness proves it can fail: each deliberately broken variant must be reported
 * as FAILURE. Four break the RCU's grace periods (one of them a resumed grace period that
 * forgets its snapshot); one (qsbr only) counts every readLock as a quiescent state, an
 * announcement made before the reads it should follow; one breaks reclaim in the harness
 * itself. Each runs against every RCU flavor it applies to (marks, the default; mb; qsbr).
 */
import { describe, expect, it } from 'vitest';
import {
  BROKEN_MODES,
  brokenModeProblem,
  formatTortureReport,
  runTorture,
  TORTURE_DEFAULTS,
} from '../stress/torture/run.js';
import { testSeed } from './helpers/seed.js';

describe('RCU torture, broken variants', () => {
  const seed = testSeed('test/rcu_torture_catches_every_broken_mode.test.ts');
  const cases = BROKEN_MODES.flatMap((broken) =>
    (['marks', 'mb', 'qsbr'] as const)
      .filter((flavor) => brokenModeProblem(broken, flavor) === undefined)
      .map((flavor) => ({ broken, flavor })),
  );
  it.each(cases)('reports FAILURE for --broken $broken, $flavor flavor', async ({
    broken,
    flavor,
  }) => {
    const report = await runTorture({
      ...TORTURE_DEFAULTS,
      seconds: 8, // stops as soon as a reader sees the breakage
      readers: 3,
      writers: 1,
      fakeWriters: 1,
      killEveryMs: 0,
      stutterEveryMs: 0,
      broken,
      flavor,
      seed,
    });
    console.log(formatTortureReport(report));
    expect(report.config.broken).toBe(broken);
    expect(report.config.flavor).toBe(flavor);
    expect(report.verdict).toBe('FAILURE');
    expect(report.failures.join('\n')).toMatch(
      /too-short grace period|spanning >= 2 grace periods|poisoned|recycled or torn|cookie checks failed/,
    );
    // Caught by a reader's or writer's check, not by a thread that crashed or stalled.
    expect(report.failures.join('\n')).not.toMatch(/crashed|stalled|did not stop/);
  });

  it('runs the qsbr twin (early-qs: a quiescent state announced at readLock) in the qsbr flavor only', () => {
    expect(cases).toContainEqual({ broken: 'early-qs', flavor: 'qsbr' });
    expect(brokenModeProblem('early-qs', 'marks')).toMatch(/early-qs.*--flavor qsbr/);
    expect(brokenModeProblem('early-qs', 'mb')).toMatch(/early-qs.*--flavor qsbr/);
    // Every other broken mode runs in every flavor, qsbr included.
    for (const b of BROKEN_MODES)
      if (b !== 'early-qs') expect(cases).toContainEqual({ broken: b, flavor: 'qsbr' });
  });
});
