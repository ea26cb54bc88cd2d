/**
 * The torture harness proves it can fail: each deliberately broken variant must be reported
 * as FAILURE, by the check that exists to catch it (CAUGHT_BY: the failure line names it).
 * Four break the RCU's grace periods (one of them a resumed grace period that forgets its
 * snapshot); one (qsbr only) counts every readLock as a quiescent state, an announcement made
 * before the reads it should follow; one ('short-wait') gives synchronize and callRcu a
 * cookie rule one grace period short of getState's; one breaks reclaim in the harness itself.
 * Each runs against every RCU flavor it applies to (marks, the default; mb; qsbr).
 *
 * The three cookie checks each have a twin here, asked for by name: "not satisfied after a
 * wait" in every 'short-wait' run (three of the four wait methods return one completion short
 * of a cookie taken before them); "a grace period ended inside a reader" and "satisfied inside
 * the writer's own section" ('skip-gp': the writer's pollState inside its own section runs a
 * grace period that waits for nobody) in some run of the grace-period breakages (the last
 * test), since the check that sees a breakage first stops the run.
 *
 * The runs are bounded by work, not time: a breakage shows only when a reader overlaps a
 * write, and at load 30 a writer managed 8 writes in 8 s, which missed 'early-recycle'. So a
 * run goes on until it is caught or has made MIN_WRITES writes; one that reaches its safety
 * cap first fails with "too little work", which this test does not count as caught.
 */
import { describe, expect, it } from 'vitest';
import {
  BROKEN_MODES,
  type BrokenMode,
  brokenModeProblem,
  formatTortureReport,
  runTorture,
  TORTURE_DEFAULTS,
} from '../stress/torture/run.js';
import { testSeed } from './helpers/seed.js';

const READER_COOKIE = 'a grace period ended inside a reader';
const WRITER_SECTION_COOKIE = "satisfied inside the writer's own section";
const WAIT_COOKIE = 'not satisfied after a wait';

/** Every reader check of a section, by the name its failure line gives it. */
const READER_CHECKS =
  /too-short grace period|spanning >= 2 grace periods|poisoned|recycled or torn|a grace period ended inside a reader: \d+/;

/**
 * The checks each broken mode must trip, as its failure line names them. A run stops at the
 * first breakage any check sees, and a breakage of grace periods may show first in any
 * reader check (Batch can count a completion that fell after the section's cookie check) or
 * in the writer's own section: those modes name one of those checks, and the last test below
 * asks that each cookie check was named by some run. 'short-wait' breaks no grace period,
 * only the waits: three of the four wait methods miss a cookie on every write.
 */
const GRACE_PERIOD_CHECKS = new RegExp(`${READER_CHECKS.source}|${WRITER_SECTION_COOKIE}: \\d+`);
const CAUGHT_BY: Record<BrokenMode, RegExp> = {
  'skip-gp': GRACE_PERIOD_CHECKS,
  'skip-nth': GRACE_PERIOD_CHECKS,
  'ignore-reader': GRACE_PERIOD_CHECKS,
  'lose-snapshot': GRACE_PERIOD_CHECKS,
  'early-qs': GRACE_PERIOD_CHECKS,
  'short-wait': new RegExp(`\\(.*${WAIT_COOKIE}: \\d+`),
  'early-recycle': /^\d+ reads of a poisoned \(freed\) record$/m,
};

/** Cookie checks some broken run's failures named, and how many broken runs there were. */
const namedCookieChecks = new Set<string>();
let brokenRuns = 0;

/** Writes a broken run makes before it may pass uncaught (it stops as soon as it is caught). */
const MIN_WRITES = 200;
/** The safety cap past the run's 5 s: a machine this slow fails the test, loudly. */
const MAX_EXTRA_SECONDS = 100;

describe('RCU torture, broken variants', () => {
  const seed = testSeed('test/rcu_torture_catches_every_broken_mode.test.ts');
  const cases = BROKEN_MODES.flatMap((broken) =>
    (['marks', 'mb', 'qsbr'] as const)
      .filter((flavor) => brokenModeProblem(broken, flavor) === undefined)
      .map((flavor) => ({ broken, flavor })),
  );
  it.each(cases)(
    'reports FAILURE for --broken $broken, $flavor flavor',
    async ({ broken, flavor }) => {
      const report = await runTorture({
        ...TORTURE_DEFAULTS,
        seconds: 5, // stops as soon as a reader sees the breakage
        minWrites: MIN_WRITES,
        maxExtraSeconds: MAX_EXTRA_SECONDS,
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
      expect(report.workShortfall).toBeNull();
      expect(report.verdict).toBe('FAILURE');
      expect(report.failures.join('\n')).toMatch(
        /too-short grace period|spanning >= 2 grace periods|poisoned|recycled or torn|cookie checks failed/,
      );
      // By name: a check that exists for this breakage.
      const failures = report.failures.join('\n');
      expect(failures).toMatch(CAUGHT_BY[broken]);
      for (const check of [READER_COOKIE, WRITER_SECTION_COOKIE, WAIT_COOKIE])
        if (failures.includes(`${check}: `)) namedCookieChecks.add(check);
      brokenRuns++;
      // Caught by a reader's or writer's check, not by a thread that crashed or stalled.
      expect(report.failures.join('\n')).not.toMatch(
        /crashed|stalled|did not stop|too little work/,
      );
    },
    60_000 + 1000 * MAX_EXTRA_SECONDS,
  );

  it('fails a run that ends at its safety cap owing work, and says so (never passes it)', async () => {
    const report = await runTorture({
      ...TORTURE_DEFAULTS,
      seconds: 1,
      minWrites: 2 ** 30, // more than any machine writes in 2 s
      maxExtraSeconds: 1,
      readers: 1,
      writers: 1,
      fakeWriters: 0,
      killEveryMs: 0,
      stutterEveryMs: 0,
      seed,
    });
    console.log(formatTortureReport(report));
    expect(report.verdict).toBe('FAILURE');
    expect(report.workShortfall).toMatch(/^too little work: \d+ of 1073741824 writes after /);
    expect(report.failures).toEqual([report.workShortfall]);
    expect(report.writes).toBeGreaterThan(0);
  });

  // Each cookie check's twin: 'skip-gp' meets the writer's in-section cookie with the grace
  // period its own poll runs (every write), the other grace-period breakages end grace
  // periods inside readers, 'short-wait' leaves a cookie unmet after a wait. Judged over all
  // the broken runs above (each of the first two is seen in nearly every run of its modes).
  it('every cookie check was named by some broken run', (ctx) => {
    if (brokenRuns < cases.length) ctx.skip(); // a filtered run (-t): not all modes ran
    expect([...namedCookieChecks].sort()).toEqual(
      [READER_COOKIE, WRITER_SECTION_COOKIE, WAIT_COOKIE].sort(),
    );
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
