/**
 * The stress harness end to end: every built-in scenario, run short on real piscina CPUs,
 * passes every invariant and produces a complete report (JSON-able, text and HTML).
 */
import { describe, expect, it } from 'vitest';
import { formatStressReport, type StressReport } from '../stress/report.js';
import { renderHtmlReport } from '../stress/report-html.js';
import { runStress } from '../stress/run-stress.js';
import { SCENARIOS } from '../stress/scenarios.js';
import { testSeed } from './helpers/seed.js';

function checkReportShape(r: StressReport): void {
  const copy = JSON.parse(JSON.stringify(r)) as StressReport;
  expect(copy.tool).toBe('ioasid-stress');
  expect(copy.invariants.map((i) => i.kind)).toEqual([
    'id-live-twice',
    'quota-exceeded',
    'capacity-accounting',
    'record-recycled-under-reader',
    'wrong-data',
    'bad-result',
    'leak',
    'notify-order',
    'notify-gating',
    'notify-missed',
    'notify-spurious',
  ]);
  // The notifier invariants are checked only with subscriber CPUs, and say so.
  for (const i of copy.invariants)
    expect(i.checked, i.kind).toBe(!i.kind.startsWith('notify-') || r.config.subscribers > 0);
  if (r.config.subscribers > 0) {
    const subs = copy.notifications!.subscriptions;
    expect(subs.length).toBeGreaterThan(0);
    for (const s of subs) expect(s.read, `subscription ${s.index} read nothing`).toBeGreaterThan(0);
    expect(subs.some((s) => s.frees > 0)).toBe(true);
    expect(copy.space.notifierEvents).toBeGreaterThan(0);
  } else expect(copy.notifications).toBeNull();
  expect(copy.customAllocator !== null).toBe(r.config.customAllocator);
  expect(copy.throughput.perCpu).toHaveLength(r.config.cpus);
  expect(copy.operations.length).toBeGreaterThan(0);
  for (const op of copy.operations) {
    expect(op.count).toBeGreaterThan(0);
    expect(op.latencyNs.p50).toBeLessThanOrEqual(op.latencyNs.p99);
  }
  expect(copy.timeline.samples.length).toBeGreaterThan(0);
  expect(copy.replay).toContain(`--seed ${r.seed}`);
}

describe('stress scenarios', () => {
  const seed = testSeed('test/stress_scenarios_pass_with_valid_reports.test.ts');
  it.each(
    Object.keys(SCENARIOS),
  )('scenario %s passes every invariant in a short run', async (name) => {
    const s = SCENARIOS[name]!;
    const report = await runStress({ ...s, scenario: name, seconds: 2, seed });
    console.log(formatStressReport(report));
    expect(report.problems).toEqual([]);
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(report.verdict).toBe('PASS');
    checkReportShape(report);
    expect(report.throughput.opsPerSec).toBeGreaterThan(0);
    if (s.faults.includes('kill-cpu')) expect(report.faults.kills).toBeGreaterThan(0);
    if (s.faults.includes('stutter')) expect(report.faults.stutters).toBeGreaterThan(0);
    const html = renderHtmlReport(report);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|src="http|href="http/);
  });
});
