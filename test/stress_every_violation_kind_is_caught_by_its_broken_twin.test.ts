/**
 * Every check of a stress run can fail: each violation kind (the exported list, so a kind
 * added without a broken twin fails here) has a broken twin, and each broken twin (the
 * exported list: one per check, several per kind) run on its home scenario must report its
 * kind by name, name what its first violation concerns (the operation, CPU, id and set,
 * as far as the twin's kind has them), say it is a broken run in text, JSON and HTML, and
 * give a replay line that reproduces it. Each twin runs on the first scenario that can catch
 * it, with `--custom-allocator` if it needs one
 * (test/stress_broken_twins_are_caught_or_refused.test.ts covers the others).
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

/**
 * The first built-in scenario that can catch `twin`, else the first that can with
 * `--custom-allocator` (no built-in scenario allocates through a custom group by default).
 */
function homeOf(twin: BrokenTwin): { scenario: string; customAllocator: boolean } {
  for (const customAllocator of [false, true]) {
    const scenario = Object.keys(SCENARIOS).find(
      (n) =>
        twin.cannotCatch({
          ...SCENARIOS[n]!,
          customAllocator: SCENARIOS[n]!.customAllocator || customAllocator,
        }) === undefined,
    );
    if (scenario) return { scenario, customAllocator };
  }
  throw new Error(`no built-in scenario can catch the broken twin ${twin.name}`);
}

describe('broken twins', () => {
  it('every violation kind has a broken twin', () => {
    const without = VIOLATION_KINDS.filter((k) => !BROKEN_TWINS.some((t) => t.trips === k));
    expect(without, 'violation kinds that no broken twin trips').toEqual([]);
  });

  it.each(
    BROKEN_TWINS.map((twin) => ({ name: twin.name, trips: twin.trips, twin })),
  )('--broken $name is reported by name ($trips), with what it concerns', async ({ twin }) => {
    const seed = testSeed(FILE);
    const kind = twin.trips;
    const { scenario, customAllocator } = homeOf(twin);
    const report = await runStress({
      ...SCENARIOS[scenario]!,
      scenario,
      seconds: 3,
      seed,
      broken: twin.name,
      ...(customAllocator ? { customAllocator } : {}),
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
    if (twin.says) expect(first.why, `${twin.name}: the check that caught it`).toMatch(twin.says);
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
    if (customAllocator) expect(report.replay).toContain('--custom-allocator');
  });
});
