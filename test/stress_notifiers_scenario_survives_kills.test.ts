/**
 * The `notifiers` scenario with `--custom-allocator` (subscriber CPUs reading the global and
 * set chains at four priorities while the op CPUs allocate through a custom allocator group
 * backed by a hypervisor thread over a shared-memory mailbox) passes every invariant
 * with CPUs killed anywhere and every CPU stuttering: op CPUs killed inside an emit, a custom
 * allocator's call or a distribution, subscriber CPUs killed inside a read or a wait (the
 * harness kills one of them every third kill, the second kill first). Every subscription
 * keeps being read by the killed reader's replacement, and the end-of-run count of FREEs holds.
 */
import { describe, expect, it } from 'vitest';
import { formatStressReport } from '../stress/report.js';
import { runStress } from '../stress/run-stress.js';
import { SCENARIOS } from '../stress/scenarios.js';
import { testSeed } from './helpers/seed.js';

describe('the notifiers scenario', () => {
  it('passes with kill-cpu and stutter, subscriber CPUs killed too', async () => {
    const seed = testSeed('test/stress_notifiers_scenario_survives_kills.test.ts');
    const s = SCENARIOS.notifiers!;
    const report = await runStress({
      ...s,
      scenario: 'notifiers',
      seconds: 5,
      seed,
      faults: ['kill-cpu', 'stutter'],
      customAllocator: true,
    });
    console.log(formatStressReport(report));
    expect(report.problems).toEqual([]);
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(report.verdict).toBe('PASS');
    const firstReader = s.cpus - s.subscribers;
    const kills = report.faults.events.filter((e) => e.kind === 'kill');
    expect(kills.length).toBeGreaterThanOrEqual(2);
    expect(
      kills.some((e) => e.cpu! >= firstReader),
      'a subscriber CPU was killed',
    ).toBe(true);
    expect(
      kills.some((e) => e.cpu! < firstReader),
      'an op CPU was killed',
    ).toBe(true);
    for (const sub of report.notifications!.subscriptions) expect(sub.read).toBeGreaterThan(0);
    expect(report.customAllocator?.group).toBe('stress-host');
    expect(report.customAllocator!.hostRequests).toBeGreaterThan(0);
  });
});
