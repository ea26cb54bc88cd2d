/**
 * The stress report, built from facts made by hand: a broken twin that was not caught fails
 * the run and says so; an interrupted run says so and asks for exit 128 + N; errno returns
 * are broken down by code; a violation names only what applies; the timeline holds complete
 * epochs only; the HTML page marks the first violation, shows the faults and the kills, and
 * its axes read in round numbers and ns/µs/ms.
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../src/core/ioasid/errno.js';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import { ERRNO_CODES, HIST_BUCKETS } from '../src/workers/run-layout.js';
import { VIOLATION_KINDS } from '../stress/check/invariants.js';
import type { KindTally, ReportedViolation } from '../stress/check/violations.js';
import type { RunFacts } from '../stress/facts.js';
import { exitCodeOf } from '../stress/interrupt.js';
import { N_OPS, opIndex } from '../stress/ops/index.js';
import {
  buildStressReport,
  describeViolation,
  duration,
  formatStressReport,
} from '../stress/report.js';
import { niceTicks, renderHtmlReport } from '../stress/report-html.js';
import { SCENARIOS } from '../stress/scenarios.js';

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

function facts(over: Partial<RunFacts> = {}): RunFacts {
  const space = IoasidSpace.create({ pasidBits: 4, maxSets: 2, maxIoasids: 16, maxThreads: 4 });
  const cpus = 2;
  const tallies: KindTally[] = VIOLATION_KINDS.map((kind) => ({
    kind,
    count: 0,
    byFinder: { cpu: 0, checker: 0, 'end-of-run': 0 },
    first: undefined,
  }));
  const ops = Array.from({ length: cpus }, () => zeros(N_OPS));
  ops[0]![opIndex('alloc')] = 100;
  ops[1]![opIndex('alloc')] = 100;
  const errnos = Array.from({ length: cpus }, () =>
    Array.from({ length: N_OPS }, () => zeros(ERRNO_CODES.length)),
  );
  errnos[0]![opIndex('alloc')]![ERRNO_CODES.indexOf(Errno.EDQUOT)] = 30;
  errnos[1]![opIndex('alloc')]![ERRNO_CODES.indexOf(Errno.ENOSPC)] = 10;
  const hist = Array.from({ length: cpus }, () =>
    Array.from({ length: N_OPS }, () => zeros(HIST_BUCKETS)),
  );
  hist[0]![opIndex('alloc')]![30] = 25;
  const r: RunFacts = {
    config: { ...SCENARIOS.default!, cpus, scenario: 'default', seed: 7, seconds: 1 },
    events: [
      { t: 0.3, kind: 'kill', cpu: 1, aimedAt: 'gracePeriod', diedIn: ['gracePeriod'], held: 4 },
      { t: 0.5, kind: 'stutter', until: 0.7 },
    ],
    elapsedSeconds: 1.05,
    epochMs: 100,
    epochEnds: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    samples: [
      { t: 0.5, opsPerCpu: [50, 50], liveIds: 3, gracePeriods: 10, violations: 0 },
      { t: 1.0, opsPerCpu: [100, 100], liveIds: 5, gracePeriods: 20, violations: 0 },
      { t: 1.05, opsPerCpu: [100, 100], liveIds: 5, gracePeriods: 20, violations: 0 },
    ],
    ops,
    errnos,
    hist,
    timeline: [
      [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
      [20, 0, 20, 0, 20, 0, 20, 0, 20, 0],
    ],
    violations: tallies,
    firstViolation: undefined,
    startWallMs: 1000,
    checker: { passes: 3, entriesChecked: 180, entriesMissed: 20, quiescentChecks: 1 },
    gracePeriods: 20,
    rcuStalls: 0,
    kills: 1,
    killSites: { aimed: 1, setLock: 0, spidLock: 0, gracePeriod: 1, readSection: 0, halfDone: 0 },
    stutters: 1,
    recoveredIds: 4,
    deadHeldBound: 5,
    problems: [],
    spaceStats: space.stats(),
    byteLength: space.byteLength,
    interrupted: undefined,
    subscriptions: [],
    hostRequests: 0,
    ...over,
  };
  space.detach();
  return r;
}

function violation(over: Partial<ReportedViolation>): ReportedViolation {
  return {
    kind: 'bad-result',
    op: 'free',
    cpu: 1,
    id: 17,
    set: 3,
    detail: -2,
    why: 'free(3, 17) returned -ENOENT: expected 0',
    foundBy: 'cpu',
    atMs: 1500,
    seq: 0,
    ...over,
  };
}

describe('the stress report', () => {
  it('fails a broken run whose twin was not caught, and says so', () => {
    const base = facts();
    const r = buildStressReport({
      ...base,
      config: { ...base.config, broken: 'free-fails-spuriously' },
    });
    expect(r.verdict).toBe('FAIL');
    expect(r.broken).toMatchObject({
      twin: 'free-fails-spuriously',
      trips: 'bad-result',
      caught: false,
    });
    expect(r.problems.join()).toMatch(/was NOT caught/);
    expect(formatStressReport(r)).toMatch(
      /VERDICT: FAIL \(the broken twin 'free-fails-spuriously' was NOT caught\)/,
    );
    expect(r.replay).toMatch(/--broken free-fails-spuriously$/);
    expect(exitCodeOf(r)).toBe(1);
  });

  it('passes a correct run, with exit 0', () => {
    const r = buildStressReport(facts());
    expect(r.verdict).toBe('PASS');
    expect(exitCodeOf(r)).toBe(0);
    expect(r.broken).toBeNull();
    expect(r.schemaVersion).toBe(1);
    expect(r.environment).toMatchObject({ node: process.version, packageVersion: '0.1.0' });
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ])('ends a run interrupted by %s with exit %i, and says so', (signal, code) => {
    const r = buildStressReport(facts({ interrupted: signal }));
    expect(r.interrupted).toEqual({ signal, atSeconds: 1.05 });
    expect(exitCodeOf(r)).toBe(code);
    expect(formatStressReport(r)).toMatch(new RegExp(`INTERRUPTED by ${signal} after 1.1 s`));
    expect(renderHtmlReport(r)).toMatch(new RegExp(`Interrupted by ${signal}`));
  });

  it('breaks errno returns down by code', () => {
    const r = buildStressReport(facts());
    const alloc = r.operations.find((o) => o.op === 'alloc')!;
    expect(alloc).toMatchObject({ count: 200, errors: 40, errnos: { EDQUOT: 30, ENOSPC: 10 } });
    expect(formatStressReport(r)).toMatch(/EDQUOT 15\.0%, ENOSPC 5\.0%/);
  });

  it('names only what a violation concerns, and when', () => {
    const v = buildStressReport(
      facts({
        firstViolation: violation({
          kind: 'capacity-accounting',
          op: null,
          cpu: null,
          id: null,
          set: null,
          foundBy: 'checker',
          why: 'capacity 15 - available 3 = 12 taken, but the quotas add up to 10',
        }),
      }),
    ).firstViolation!;
    expect(describeViolation(v)).toBe(
      'capacity-accounting found by the checker at 0.50 s: capacity 15 - available 3 = 12 taken, but the quotas add up to 10',
    );
    const w = buildStressReport(facts({ firstViolation: violation({}) })).firstViolation!;
    expect(describeViolation(w)).toBe(
      'bad-result in free on CPU 1 (id 17, set 3) at 0.50 s: free(3, 17) returned -ENOENT: expected 0',
    );
  });

  it('marks the first violation on the charts and lists the kills', () => {
    const html = renderHtmlReport(buildStressReport(facts({ firstViolation: violation({}) })));
    expect(html).toMatch(/<line [^>]*class="violation"><title>bad-result in free on CPU 1/);
    expect(html).toMatch(/class="kill"><title>0\.30 s: CPU 1 killed \(gracePeriod\)/);
    expect(html).toMatch(/<rect [^>]*class="stutter">/);
    expect(html).toMatch(
      /<td>GP_LOCK \(a grace period\)<\/td><td>leading a grace period \(GP_LOCK\)<\/td><td>4<\/td>/,
    );
    expect(html).toMatch(/missed 20<\/b> \(10\.0%/);
    expect(html).not.toMatch(/<script|src="http|href="http/);
  });

  it('keeps complete epochs only, with the total and the slowest and fastest CPU', () => {
    const r = buildStressReport(facts());
    expect(r.timeline.opsPerSec).toHaveLength(10);
    expect(r.timeline.opsPerSec[0]).toEqual({ t: 0.1, total: 300, min: 100, max: 200 });
    expect(r.timeline.opsPerSec[1]).toEqual({ t: 0.2, total: 100, min: 0, max: 100 });
    // An epoch the monitor ended late is as long as it really was; one not ended is left out.
    const late = buildStressReport(facts({ epochEnds: [0.1, 0.3, 0.4] }));
    expect(late.timeline.opsPerSec).toHaveLength(3);
    expect(late.timeline.opsPerSec[1]).toEqual({ t: 0.3, total: 50, min: 0, max: 50 });
  });

  it('reads axes in round numbers and latencies in ns, µs and ms', () => {
    expect(niceTicks(10.02, 5)).toEqual([0, 2.5, 5, 7.5, 10, 12.5]);
    expect(niceTicks(873_000, 4)).toEqual([0, 250_000, 500_000, 750_000, 1_000_000]);
    expect(niceTicks(3, 4)).toEqual([0, 1, 2, 3]);
    expect([duration(832), duration(4608), duration(18_874_368), duration(2.5e9)]).toEqual([
      '832 ns',
      '4.61 µs',
      '18.9 ms',
      '2.50 s',
    ]);
  });
});
