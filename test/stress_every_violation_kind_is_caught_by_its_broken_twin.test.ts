/**
 * Every check of a stress run can fail: for each violation kind (the exported list, so a
 * kind added without a broken twin fails here), a run with a broken twin that trips it must
 * report that kind, name what its first violation concerns (the operation, CPU, id and set,
 * as far as the twin's kind has them), say it is a broken run in text, JSON and HTML, and
 * give a replay line that reproduces it. Each twin runs on the first scenario that can catch
 * it (test/stress_broken_twins_are_caught_or_refused.test.ts covers the others).
 */
import { describe, expect, it } from 'vitest';
import { BROKEN_TWINS, type BrokenTwin, twinRunSeconds } from '../stress/broken-twins.js';
import { VIOLATION_KINDS } from '../stress/check/invariants.js';
import { formatStressReport } from '../stress/report.js';
import { renderHtmlReport } from '../stress/report-html.js';
import { runStress } from '../stress/run-stress.js';
import { SCENARIOS } from '../stress/scenarios.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/stress_every_violation_kind_is_caught_by_its_broken_twin.test.ts';

/** The first built-in scenario that can catch `twin`. */
function homeOf(twin: BrokenTwin): string {
  const name = Object.keys(SCENARIOS).find((n) => twin.cannotCatch(SCENARIOS[n]!) === undefined);
  if (!name) throw new Error(`no built-in scenario can catch the broken twin ${twin.name}`);
  return name;
}

describe('broken twins', () => {
  it('every violation kind is reported, and named, when its broken twin runs', async () => {
    const seed = testSeed(FILE);
    const without = VIOLATION_KINDS.filter((k) => !BROKEN_TWINS.some((t) => t.trips === k));
    expect(without, 'violation kinds that no broken twin trips').toEqual([]);
    for (const kind of VIOLATION_KINDS) {
      const twin = BROKEN_TWINS.find((t) => t.trips === kind)!;
      const scenario = homeOf(twin);
      const report = await runStress({
        ...SCENARIOS[scenario]!,
        scenario,
        seconds: 3,
        seed,
        broken: twin.name,
      });
      const text = formatStressReport(report);
      console.log(text);
      const inv = report.invariants.find((i) => i.kind === kind)!;
      expect(inv.ok, `${twin.name} on ${scenario} must trip ${kind}`).toBe(false);
      expect(report.verdict).toBe('FAIL');
      expect(report.broken).toEqual({
        twin: twin.name,
        description: twin.description,
        trips: kind,
        caught: true,
      });
      const first = inv.first!;
      expect(first.why).not.toBe('');
      for (const field of twin.names)
        expect(first[field], `${twin.name}: the first ${kind} names its ${field}`).not.toBeNull();
      if (twin.ops) expect(twin.ops).toContain(first.op);
      if (first.cpu !== null) expect(first.cpu).toBeLessThan(report.config.cpus);
      // Caught online: it may run on until it is caught; at the end: it runs --seconds.
      expect(twinRunSeconds(twin, 3)).toBe(twin.seenAtEnd ? 3 : 30);
      expect(report.replay).toContain(`--broken ${twin.name}`);
      expect(report.replay).toContain(`--seed ${seed}`);
      expect(text).toMatch(new RegExp(`^BROKEN RUN: --broken ${twin.name}`));
      expect(text).toMatch(/VERDICT: FAIL \(the broken twin '.*' was caught, as it must be\)/);
      expect(renderHtmlReport(report)).toContain(`Broken run: <code>--broken ${twin.name}</code>`);
    }
  });
});
