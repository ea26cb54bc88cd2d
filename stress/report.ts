/**
 * The stress report: one JSON-able object built from what a run measured, and its renderings
 * as a terminal table. (The HTML page is report-html.ts.)
 */
import {
  HIST_BUCKETS,
  histBucketFloor,
  N_OPS,
  OPS,
  VIOLATIONS,
  type ViolationKind,
} from '../src/workers/run-layout.js';
import type { KillSites, RunFacts, StressConfig } from './run-stress.js';

export interface OpReport {
  op: string;
  count: number;
  errors: number;
  opsPerSec: number;
  /** From sampled latencies (one op in 8), bucket midpoints, ns. */
  latencyNs: { p50: number; p90: number; p99: number; max: number; samples: number };
}

export interface InvariantReport {
  name: string;
  kind: ViolationKind;
  ok: boolean;
  violations: number;
}

export interface StressReport {
  tool: 'ioasid-stress';
  verdict: 'PASS' | 'FAIL';
  scenario: string;
  seed: number;
  replay: string;
  config: StressConfig;
  elapsedSeconds: number;
  throughput: { opsPerSec: number; perCpu: { cpu: number; ops: number; opsPerSec: number }[] };
  operations: OpReport[];
  latencyHistograms: Record<string, { bucketFloorNs: number[]; counts: number[] }>;
  gracePeriods: { completed: number; perSecond: number; stalls: number };
  invariants: InvariantReport[];
  firstViolation: {
    kind: ViolationKind;
    op: string;
    cpu: number;
    id: number;
    set: number;
    detail: number;
    atSeconds: number;
  } | null;
  problems: string[];
  faults: {
    kills: number;
    /** Aimed kills, and where the killed CPUs were when they died (read after their exit). */
    killSites: KillSites;
    stutters: number;
    recoveredIds: number;
    recoverableBound: number;
    events: RunFacts['events'];
  };
  checker: RunFacts['checker'];
  timeline: {
    epochMs: number;
    /** ops/s per CPU in each epoch */
    opsPerSecPerCpu: number[][];
    samples: { t: number; liveIds: number; gracePeriods: number; violations: number }[];
  };
  space: RunFacts['spaceStats'] & { byteLength: number };
}

const INVARIANTS: [ViolationKind, string][] = [
  ['id-live-twice', 'no id live twice'],
  ['quota-exceeded', 'no set over its quota, at any instant'],
  ['capacity-accounting', 'capacity accounting exact'],
  ['record-recycled-under-reader', 'no record recycled under a reader'],
  ['wrong-data', 'lookups return the data of the allocation they matched'],
  ['bad-result', 'every result matches the API contract'],
  ['leak', 'nothing leaked (after the final free-all and grace period)'],
];

export function buildStressReport(f: RunFacts): StressReport {
  const c = f.config;
  const secs = Math.max(f.elapsedSeconds, 1e-9);
  const totals = (rows: number[][], i: number): number => rows.reduce((a, r) => a + (r[i] ?? 0), 0);
  const perCpu = f.ops.map((row, cpu) => {
    const ops = row.reduce((a, x) => a + x, 0);
    return { cpu, ops, opsPerSec: Math.round(ops / secs) };
  });
  const operations: OpReport[] = [];
  const latencyHistograms: StressReport['latencyHistograms'] = {};
  for (let op = 0; op < N_OPS; op++) {
    const count = totals(f.ops, op);
    if (count === 0) continue;
    const counts = Array.from({ length: HIST_BUCKETS }, (_, b) =>
      f.hist.reduce((a, cpuHist) => a + (cpuHist[op]?.[b] ?? 0), 0),
    );
    operations.push({
      op: OPS[op]!,
      count,
      errors: totals(f.errs, op),
      opsPerSec: Math.round(count / secs),
      latencyNs: percentiles(counts),
    });
    const last = counts.findLastIndex((n) => n > 0);
    latencyHistograms[OPS[op]!] = {
      bucketFloorNs: counts.slice(0, last + 1).map((_, b) => Math.round(histBucketFloor(b))),
      counts: counts.slice(0, last + 1),
    };
  }
  const invariants = INVARIANTS.map(([kind, name]) => ({
    name,
    kind,
    violations: f.violationCounts[kind],
    ok: f.violationCounts[kind] === 0,
  }));
  const v = f.firstViolation;
  const failed = invariants.some((i) => !i.ok) || f.cpuCrashes.length > 0;
  const opsPerSecPerCpu = f.timeline.map((row) =>
    row.map((n) => Math.round((n * 1000) / f.epochMs)),
  );
  return {
    tool: 'ioasid-stress',
    verdict: failed ? 'FAIL' : 'PASS',
    scenario: c.scenario,
    seed: c.seed,
    replay: replayCommand(c),
    config: c,
    elapsedSeconds: round(f.elapsedSeconds, 3),
    throughput: { opsPerSec: Math.round(perCpu.reduce((a, p) => a + p.ops, 0) / secs), perCpu },
    operations,
    latencyHistograms,
    gracePeriods: {
      completed: f.gracePeriods,
      perSecond: Math.round(f.gracePeriods / secs),
      stalls: f.rcuStalls,
    },
    invariants,
    firstViolation: v
      ? {
          kind: v.kind,
          op: v.op,
          cpu: v.cpu,
          id: v.id,
          set: v.set,
          detail: v.detail,
          atSeconds: round(((v.epoch ?? 0) * f.epochMs) / 1000, 1),
        }
      : null,
    problems: f.cpuCrashes,
    faults: {
      kills: f.kills,
      killSites: f.killSites,
      stutters: f.stutters,
      recoveredIds: f.recoveredIds,
      recoverableBound: f.deadHeldBound,
      events: f.events.map((e) => ({ ...e, t: round(e.t, 2) })),
    },
    checker: f.checker,
    timeline: {
      epochMs: f.epochMs,
      opsPerSecPerCpu,
      samples: f.samples.map((s) => ({
        t: round(s.t, 2),
        liveIds: s.liveIds,
        gracePeriods: s.gracePeriods,
        violations: s.violations,
      })),
    },
    space: { ...f.spaceStats, byteLength: f.byteLength },
  };
}

function percentiles(counts: number[]): OpReport['latencyNs'] {
  const samples = counts.reduce((a, b) => a + b, 0);
  const at = (p: number): number => {
    let seen = 0;
    const want = Math.max(1, Math.ceil(p * samples));
    for (let b = 0; b < counts.length; b++) {
      seen += counts[b]!;
      if (seen >= want) return Math.round((histBucketFloor(b) + histBucketFloor(b + 1)) / 2);
    }
    return 0;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), samples };
}

function round(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

export function replayCommand(c: StressConfig): string {
  const mix = OPS.map((op, i) => (c.mix[i] ? `${op}=${c.mix[i]}` : ''))
    .filter(Boolean)
    .join(',');
  const faults = c.faults.map((f) => ` --fault ${f}`).join('');
  return (
    `npm run stress -- --scenario ${c.scenario} --seed ${c.seed} --cpus ${c.cpus} --seconds ${c.seconds} ` +
    `--sets ${c.sets} --quota ${c.quota} --pasid-bits ${c.pasidBits} --policy ${c.policy} --mix ${mix}${faults}`
  );
}

/** The report as a terminal table. */
export function formatStressReport(r: StressReport): string {
  const out: string[] = [];
  const c = r.config;
  out.push(
    `ioasid-stress: scenario '${r.scenario}', ${c.cpus} CPUs, ${r.elapsedSeconds.toFixed(1)} s, ` +
      `${c.sets} sets x quota ${c.quota}, ${c.pasidBits}-bit PASIDs, policy ${c.policy}, seed ${r.seed}` +
      (c.faults.length ? `, faults: ${c.faults.join(', ')}` : ''),
  );
  out.push('');
  out.push(
    `  throughput ${fmt(r.throughput.opsPerSec)} ops/s   per CPU: ${r.throughput.perCpu.map((p) => fmt(p.opsPerSec)).join('  ')}`,
  );
  out.push(
    `  grace periods ${fmt(r.gracePeriods.completed)} (${fmt(r.gracePeriods.perSecond)}/s), stalls ${r.gracePeriods.stalls}` +
      `   kills ${r.faults.kills}, stutters ${r.faults.stutters}, ids recovered from killed CPUs ${r.faults.recoveredIds}` +
      ` (bound ${r.faults.recoverableBound})`,
  );
  if (r.faults.kills > 0) {
    const k = r.faults.killSites;
    out.push(
      `  killed CPUs (${k.aimed} kills aimed at a critical section) died holding the set lock ${k.setLock}, ` +
        `the SPID lock ${k.spidLock}, GP_LOCK ${k.gracePeriod}; in a read-side section ${k.readSection}; ` +
        `mid alloc/reclaim/setAlloc ${k.halfDone}`,
    );
  }
  if (r.checker)
    out.push(
      `  checker: ${fmt(r.checker.entriesChecked)} log entries checked online (${fmt(r.checker.entriesMissed)} overwritten before reading), ` +
        `${r.checker.passes} passes, ${r.checker.quiescentChecks} exact capacity checks in stutters`,
    );
  out.push('');
  const head = ['op', 'count', 'ops/s', 'errno', 'p50 ns', 'p90 ns', 'p99 ns', 'max ns'];
  const rows = r.operations.map((o) => [
    o.op,
    fmt(o.count),
    fmt(o.opsPerSec),
    `${((100 * o.errors) / o.count).toFixed(1)}%`,
    fmt(o.latencyNs.p50),
    fmt(o.latencyNs.p90),
    fmt(o.latencyNs.p99),
    fmt(o.latencyNs.max),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    `  ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`;
  out.push(line(head));
  for (const row of rows) out.push(line(row));
  out.push('');
  out.push('  invariants:');
  for (const inv of r.invariants)
    out.push(
      `    ${inv.ok ? 'ok  ' : 'FAIL'}  ${inv.name}${inv.ok ? '' : ` (${inv.violations} violations)`}`,
    );
  for (const p of r.problems) out.push(`  !!! ${p}`);
  if (r.firstViolation) {
    const v = r.firstViolation;
    const where = v.cpu < 0 ? 'found by the checker' : `in ${v.op} on CPU ${v.cpu}`;
    out.push(
      `  first violation: ${v.kind} ${where}, id ${v.id}, set ${v.set}, ` +
        `detail ${v.detail}, at ~${v.atSeconds} s`,
    );
    out.push(`  replay: ${r.replay}`);
  }
  out.push('');
  out.push(`VERDICT: ${r.verdict}`);
  return out.join('\n');
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Every violation kind has an invariant line (checked in tests: no silent kind). */
export const REPORTED_KINDS = INVARIANTS.map(([k]) => k);
export const ALL_KINDS = VIOLATIONS.filter((k) => k !== 'none');
