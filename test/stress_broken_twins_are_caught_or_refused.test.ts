/**
 * A broken run is caught wherever it runs, or refused: every broken twin on every built-in
 * scenario either is reported (its violation kind) in a short run, or the configuration is
 * rejected up front (checkConfig, which the CLI turns into exit 2) with the reason. A twin
 * that a scenario runs but cannot see would print PASS and prove nothing.
 */
import { describe, expect, it } from 'vitest';
import { BROKEN_TWINS } from '../stress/broken-twins.js';
import { checkConfig, runStress } from '../stress/run-stress.js';
import { SCENARIOS } from '../stress/scenarios.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/stress_broken_twins_are_caught_or_refused.test.ts';
const cases = BROKEN_TWINS.flatMap((twin) =>
  Object.keys(SCENARIOS).map((scenario) => ({ twin: twin.name, trips: twin.trips, scenario })),
);

describe('broken twins on every scenario', () => {
  const seed = testSeed(FILE);
  it.each(cases)('$twin on $scenario: caught as $trips, or refused', async ({
    twin,
    trips,
    scenario,
  }) => {
    const config = { ...SCENARIOS[scenario]!, scenario, seconds: 2, seed, broken: twin };
    const refused = checkConfig(config);
    if (refused.length > 0) {
      expect(refused.join('\n')).toMatch(new RegExp(`--broken ${twin} cannot be caught`));
      await expect(runStress(config)).rejects.toThrow(/cannot be caught/);
      return;
    }
    const report = await runStress(config);
    expect(
      report.invariants.find((i) => i.kind === trips)?.ok,
      `${twin} on ${scenario}, seed ${seed}: ${trips} not reported`,
    ).toBe(false);
    expect(report.broken?.caught).toBe(true);
  });
});
