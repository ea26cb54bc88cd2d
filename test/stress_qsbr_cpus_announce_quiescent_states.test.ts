/**
 * `--rcu qsbr`: the stress space runs the qsbr flavor, whose grace periods wait for every
 * online thread's next quiescent state. The CPU loops announce one after every operation and
 * go offline while parked and between tasks; the checker and the main thread stay offline
 * except while they work. Then a run passes every invariant, with kills and stutters, and its
 * grace periods keep completing while the CPUs run (the timeline's grace-period counts grow
 * in the epochs of the run, not only once the CPUs stop): a thread that forgot its duty would
 * hold every grace period, and with it the record pool, until the run ended.
 */
import { describe, expect, it } from 'vitest';
import { configFrom, STRESS_OPTIONS } from '../stress/cli.js';
import { parseOptions } from '../stress/options.js';
import { formatStressReport } from '../stress/report.js';
import { runStress } from '../stress/run-stress.js';
import { mixOf, SCENARIOS } from '../stress/scenarios.js';
import { testSeed } from './helpers/seed.js';

describe('stress with --rcu qsbr', () => {
  const seed = testSeed('test/stress_qsbr_cpus_announce_quiescent_states.test.ts');

  it('the CLI takes --rcu qsbr into the config', () => {
    const c = configFrom(parseOptions(STRESS_OPTIONS, ['--rcu', 'qsbr', '--seed', String(seed)]));
    expect(c.rcu).toBe('qsbr');
    expect(configFrom(parseOptions(STRESS_OPTIONS, [])).rcu).toBe('marks');
    expect(() => parseOptions(STRESS_OPTIONS, ['--rcu', 'srcu'])).toThrow(/--rcu/);
  });

  it('a run without stutters: grace periods complete while the CPUs run', async () => {
    // Only ops that never wait for a grace period (detachData, setFree and flushRecords do,
    // and going offline for that wait announces a quiescent state): here the loop's own
    // announcements are the only ones.
    const s = SCENARIOS.default!;
    const mix = mixOf({ alloc: 30, free: 25, find: 25, get: 10, put: 10 });
    const report = await runStress({
      ...s,
      scenario: 'default',
      mix,
      seconds: 3,
      seed,
      rcu: 'qsbr',
    });
    console.log(formatStressReport(report));
    expect(report.verdict).toBe('PASS');
    expect(report.replay).toContain('--rcu qsbr');
    expect(report.faults.stutters).toBe(0);
    expect(report.gracePeriods.stalls).toBe(0);
    // Grace periods completed in several epochs of the run, not only once the CPUs stopped
    // (the last sample is taken after the stop). Not every epoch: on a loaded machine all
    // CPUs can be off the CPU for a whole epoch.
    const gps = report.timeline.samples.map((x) => x.gracePeriods);
    const during = gps.slice(0, -1);
    const grew = during.slice(1).filter((g, i) => g > during[i]!).length;
    expect(grew).toBeGreaterThanOrEqual(3);
  });

  it('the faults scenario (kills mid-operation, stutters) passes every invariant', async () => {
    const s = SCENARIOS.faults!;
    const report = await runStress({ ...s, scenario: 'faults', seconds: 4, seed, rcu: 'qsbr' });
    console.log(formatStressReport(report));
    expect(report.problems).toEqual([]);
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(report.verdict).toBe('PASS');
    expect(report.faults.kills).toBeGreaterThan(0);
    expect(report.faults.stutters).toBeGreaterThan(0);
    expect(report.gracePeriods.completed).toBeGreaterThan(0);
  });
});
