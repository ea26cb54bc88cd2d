/**
 * The stress report: one JSON-able object built from what a run measured (facts.ts), and its
 * rendering as a terminal table. (The HTML page is report-html.ts.) `schemaVersion` changes
 * whenever a field changes meaning or goes away; fields are only ever added within a version.
 */
import { ERRNO_CODES, HIST_BUCKETS, histBucketFloor } from '../src/workers/run-layout.js';
import { brokenTwin } from './broken-twins.js';
import type { Finder } from './check/check-layout.js';
import { INVARIANTS, type ViolationKind } from './check/invariants.js';
import { msBetween, type ReportedViolation, type Violation } from './check/violations.js';
import type { StressConfig } from './config.js';
import { HOST_GROUP } from './custom-host.js';
import { type Environment, environment } from './environment.js';
import type { KillSites, RunEvent, RunFacts, SubscriptionFacts } from './facts.js';
import { N_OPS, OP_NAMES } from './ops/index.js';
import { showResult } from './ops/view.js';

/** The report's schema version (see the module notes). */
export const STRESS_REPORT_SCHEMA_VERSION = 1;

/** One operation's totals. */
export interface OpReport {
  op: string;
  count: number;
  /** Calls that returned an errno. */
  errors: number;
  /** Those calls by errno name (only the codes that occurred). */
  errnos: Record<string, number>;
  opsPerSec: number;
  /** From sampled latencies (one op in 8), bucket midpoints, ns. */
  latencyNs: { p50: number; p90: number; p99: number; max: number; samples: number };
}

/** A violation as the report names it: only the fields that apply are non-null. */
export interface ViolationReport extends Violation {
  /** Seconds since the start of the run. */
  atSeconds: number;
}

/** One invariant's outcome. */
export interface InvariantReport {
  name: string;
  kind: ViolationKind;
  ok: boolean;
  /** Whether this run checked it (the notifier invariants need subscriber CPUs). */
  checked: boolean;
  violations: number;
  byFinder: Record<Finder, number>;
  /** The first violation of this kind, if any. */
  first: ViolationReport | null;
}

/** A run with a deliberately broken twin (`--broken`). */
export interface BrokenRunReport {
  twin: string;
  description: string;
  /** The violation kind it must trip. */
  trips: ViolationKind;
  /** It did: the harness sees this bug. */
  caught: boolean;
}

/** Throughput in one epoch: the total, and the slowest and fastest CPU. */
export interface EpochThroughput {
  /** Seconds since the start, at the end of the epoch. */
  t: number;
  total: number;
  min: number;
  max: number;
}

/** The report of one stress run. */
export interface StressReport {
  schemaVersion: typeof STRESS_REPORT_SCHEMA_VERSION;
  tool: 'ioasid-stress';
  environment: Environment;
  verdict: 'PASS' | 'FAIL';
  /** Set when a signal (or an abort) ended the run early: the report covers what ran. */
  interrupted: { signal: string; atSeconds: number } | null;
  /** Set for a run with a broken twin. */
  broken: BrokenRunReport | null;
  scenario: string;
  seed: number;
  /** The command that replays this run. */
  replay: string;
  config: StressConfig;
  elapsedSeconds: number;
  throughput: { opsPerSec: number; perCpu: { cpu: number; ops: number; opsPerSec: number }[] };
  operations: OpReport[];
  latencyHistograms: Record<string, { bucketFloorNs: number[]; counts: number[] }>;
  gracePeriods: { completed: number; perSecond: number; stalls: number };
  invariants: InvariantReport[];
  firstViolation: ViolationReport | null;
  problems: string[];
  faults: {
    kills: number;
    /** Aimed kills, and where the killed CPUs were when they died (read after their exit). */
    killSites: KillSites;
    stutters: number;
    recoveredIds: number;
    recoverableBound: number;
    events: RunEvent[];
  };
  checker: RunFacts['checker'];
  timeline: {
    epochMs: number;
    /** ops/s per CPU in each complete epoch */
    opsPerSecPerCpu: number[][];
    /** ops/s of all CPUs in each complete epoch, with the slowest and fastest CPU's */
    opsPerSec: EpochThroughput[];
    samples: { t: number; liveIds: number; gracePeriods: number; violations: number }[];
  };
  space: RunFacts['spaceStats'] & { byteLength: number };
  /** Runs with subscriber CPUs: what each subscription read (the space's own notifier
   * counters are in `space`). */
  notifications: { subscriptions: SubscriptionFacts[] } | null;
  /** Runs with `--custom-allocator`: the group every CPU allocated through. */
  customAllocator: {
    group: string;
    /** Requests its hypervisor thread answered over the mailboxes (allocs and frees). */
    hostRequests: number;
    deferredFrees: number;
    abandoned: number;
  } | null;
}

function violationReport(v: ReportedViolation, f: RunFacts): ViolationReport {
  return {
    kind: v.kind,
    op: v.op,
    cpu: v.cpu,
    id: v.id,
    set: v.set,
    detail: v.detail,
    why: v.why,
    foundBy: v.foundBy,
    atSeconds: round(Math.min(msBetween(f.startWallMs, v.atMs) / 1000, f.elapsedSeconds + 60), 3),
  };
}

/**
 * Build the report of a run.
 *
 * @param f - what the run measured and saw
 *
 * Context: main thread; pure but for the environment (clock, package.json).
 * @returns the report
 */
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
    const errnos: Record<string, number> = {};
    let errors = 0;
    ERRNO_CODES.forEach((code, slot) => {
      const n = f.errnos.reduce((a, cpu) => a + (cpu[op]?.[slot] ?? 0), 0);
      if (n === 0) return;
      errnos[code === 0 ? 'other' : showResult(-code).slice(1)] = n;
      errors += n;
    });
    operations.push({
      op: OP_NAMES[op]!,
      count,
      errors,
      errnos,
      opsPerSec: Math.round(count / secs),
      latencyNs: percentiles(counts),
    });
    const last = counts.findLastIndex((n) => n > 0);
    latencyHistograms[OP_NAMES[op]!] = {
      bucketFloorNs: counts.slice(0, last + 1).map((_, b) => Math.round(histBucketFloor(b))),
      counts: counts.slice(0, last + 1),
    };
  }
  const invariants: InvariantReport[] = INVARIANTS.map((inv) => {
    const t = f.violations.find((x) => x.kind === inv.kind)!;
    return {
      name: inv.title,
      kind: inv.kind,
      violations: t.count,
      byFinder: t.byFinder,
      ok: t.count === 0,
      checked: !('needsSubscribers' in inv) || c.subscribers > 0,
      first: t.first ? violationReport(t.first, f) : null,
    };
  });
  const twin = brokenTwin(c.broken);
  const problems = [...f.problems];
  const broken: BrokenRunReport | null = twin
    ? {
        twin: twin.name,
        description: twin.description,
        trips: twin.trips,
        caught: invariants.some((i) => i.kind === twin.trips && !i.ok),
      }
    : null;
  if (broken && !broken.caught && !f.interrupted)
    problems.push(
      `the broken twin '${broken.twin}' was NOT caught: no '${broken.trips}' violation was ` +
        'reported, so the harness cannot see this bug',
    );
  const failed = invariants.some((i) => !i.ok) || problems.length > 0;
  // Each epoch's ops over its real length (a late monitor wake-up makes an epoch longer).
  const length = (e: number): number =>
    Math.max(1e-6, f.epochEnds[e]! - (e > 0 ? f.epochEnds[e - 1]! : 0));
  const opsPerSecPerCpu = f.timeline.map((row) =>
    row.slice(0, f.epochEnds.length).map((n, e) => Math.round(n / length(e))),
  );
  const epochs = Math.min(f.epochEnds.length, ...opsPerSecPerCpu.map((r) => r.length));
  // The slowest and fastest op CPU (subscriber CPUs, the last ones, run no operation).
  const opCpus = opsPerSecPerCpu.slice(0, Math.max(1, c.cpus - c.subscribers));
  const opsPerSec: EpochThroughput[] = Array.from({ length: epochs }, (_, e) => {
    const col = opCpus.map((r) => r[e]!);
    return {
      t: round(f.epochEnds[e]!, 3),
      total: col.reduce((a, x) => a + x, 0),
      min: Math.min(...col),
      max: Math.max(...col),
    };
  });
  return {
    schemaVersion: STRESS_REPORT_SCHEMA_VERSION,
    tool: 'ioasid-stress',
    environment: environment(),
    verdict: failed ? 'FAIL' : 'PASS',
    interrupted: f.interrupted
      ? { signal: f.interrupted, atSeconds: round(f.elapsedSeconds, 3) }
      : null,
    broken,
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
    firstViolation: f.firstViolation ? violationReport(f.firstViolation, f) : null,
    problems,
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
      opsPerSec,
      samples: f.samples.map((s) => ({
        t: round(s.t, 2),
        liveIds: s.liveIds,
        gracePeriods: s.gracePeriods,
        violations: s.violations,
      })),
    },
    space: { ...f.spaceStats, byteLength: f.byteLength },
    notifications: c.subscribers > 0 ? { subscriptions: f.subscriptions } : null,
    customAllocator: c.customAllocator
      ? {
          group: HOST_GROUP,
          hostRequests: f.hostRequests,
          deferredFrees: f.spaceStats.allocatorDeferredFrees,
          abandoned: f.spaceStats.allocatorAbandoned,
        }
      : null,
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

/**
 * The command that replays a run: every field of its configuration, its seed and its broken
 * twin.
 *
 * @param c - the run's configuration
 *
 * Context: pure.
 * @returns a shell command
 */
export function replayCommand(c: StressConfig): string {
  const mix = OP_NAMES.map((op, i) => (c.mix[i] ? `${op}=${c.mix[i]}` : ''))
    .filter(Boolean)
    .join(',');
  const faults = c.faults.map((f) => ` --fault ${f}`).join('');
  const broken = c.broken ? ` --broken ${c.broken}` : '';
  const hooks = ` --subscribers ${c.subscribers}${c.customAllocator ? ' --custom-allocator' : ''}`;
  const rcu = c.rcu && c.rcu !== 'marks' ? ` --rcu ${c.rcu}` : '';
  return (
    `npm run stress -- --scenario ${c.scenario} --seed ${c.seed} --cpus ${c.cpus} --seconds ${c.seconds} ` +
    `--sets ${c.sets} --quota ${c.quota} --pasid-bits ${c.pasidBits} --policy ${c.policy} --mix ${mix}${hooks}${faults}${broken}${rcu}`
  );
}

/**
 * Describe a violation in one line, naming only what applies.
 *
 * @param v - the violation
 *
 * Context: pure.
 * @returns e.g. "bad-result in free on CPU 2 (id 17, set 3) at 1.25 s: free(3, 17) returned -ENOENT: ..."
 */
export function describeViolation(v: ViolationReport): string {
  const where =
    v.cpu !== null
      ? `${v.op ? `in ${v.op} ` : ''}on CPU ${v.cpu}`
      : v.foundBy === 'checker'
        ? `found by the checker${v.op ? ` in ${v.op}` : ''}`
        : `found by the end-of-run verification`;
  const what = [v.id !== null ? `id ${v.id}` : '', v.set !== null ? `set ${v.set}` : '']
    .filter(Boolean)
    .join(', ');
  return `${v.kind} ${where}${what ? ` (${what})` : ''} at ${v.atSeconds.toFixed(2)} s: ${v.why}`;
}

/**
 * The errno returns of an operation, most frequent first.
 *
 * @param o - an operation's totals
 *
 * Context: pure.
 * @returns e.g. "EDQUOT 20.1%, ENOSPC 0.3%", or "" when none
 */
export function describeErrnos(o: OpReport): string {
  return Object.entries(o.errnos)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${((100 * n) / o.count).toFixed(1)}%`)
    .join(', ');
}

/**
 * What the subscriptions read, in one phrase.
 *
 * @param r - the report of a run with subscriber CPUs
 *
 * Context: pure.
 * @returns e.g. "notifier: 8 subscriptions read by CPUs 4-5: 812,345 entries (40,123 FREE on the global chain), 2,341 events lost in overflow entries; the space distributed 310,222 events"
 */
export function describeNotifications(r: StressReport): string {
  const subs = r.notifications?.subscriptions ?? [];
  const sum = (f: (s: SubscriptionFacts) => number) => subs.reduce((a, s) => a + f(s), 0);
  const cpus = [...new Set(subs.map((s) => s.readerCpu))].sort((a, b) => a - b);
  return (
    `notifier: ${subs.length} subscriptions read by CPU${cpus.length > 1 ? 's' : ''} ${cpus.join(', ')}: ` +
    `${fmt(sum((s) => s.read))} entries (${fmt(sum((s) => s.frees))} FREE on the global chain), ` +
    `${fmt(sum((s) => s.lost))} events lost in overflow entries; the space distributed ` +
    `${fmt(r.space.notifierEvents)} events`
  );
}

/**
 * The kill sites in one phrase.
 *
 * @param k - the kill sites
 *
 * Context: pure.
 * @returns e.g. "the set lock 0, the SPID lock 1, GP_LOCK 3; in a read-side section 2; mid alloc/reclaim/setAlloc 1"
 */
export function describeKillSites(k: KillSites): string {
  return (
    `the set lock ${k.setLock}, the SPID lock ${k.spidLock}, GP_LOCK ${k.gracePeriod}; ` +
    `in a read-side section ${k.readSection}; mid alloc/reclaim/setAlloc ${k.halfDone}`
  );
}

/**
 * The report as a terminal table.
 *
 * @param r - the report
 *
 * Context: pure.
 * @returns its text (ends with the VERDICT line)
 */
export function formatStressReport(r: StressReport): string {
  const out: string[] = [];
  const c = r.config;
  if (r.broken)
    out.push(
      `BROKEN RUN: --broken ${r.broken.twin} (${r.broken.description}); it must be caught as ` +
        `'${r.broken.trips}'`,
    );
  out.push(
    `ioasid-stress: scenario '${r.scenario}', ${c.cpus} CPUs, ${r.elapsedSeconds.toFixed(1)} s, ` +
      `${c.sets} sets x quota ${c.quota}, ${c.pasidBits}-bit PASIDs, policy ${c.policy}, RCU ${c.rcu ?? 'marks'}, seed ${r.seed}` +
      (c.faults.length ? `, faults: ${c.faults.join(', ')}` : ''),
  );
  if (r.interrupted)
    out.push(
      `INTERRUPTED by ${r.interrupted.signal} after ${r.interrupted.atSeconds.toFixed(1)} s: ` +
        `a partial run (replay with --seed ${r.seed})`,
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
  if (r.faults.kills > 0)
    out.push(
      `  killed CPUs (${r.faults.killSites.aimed} kills aimed at a critical section) died holding ` +
        describeKillSites(r.faults.killSites),
    );
  if (r.notifications) out.push(`  ${describeNotifications(r)}`);
  if (r.customAllocator)
    out.push(
      `  custom allocator '${r.customAllocator.group}' (every CPU's member, and the harness's): ` +
        `${fmt(r.customAllocator.hostRequests)} requests answered by its hypervisor thread, ` +
        `${r.customAllocator.deferredFrees} frees done again for killed CPUs, ` +
        `${r.customAllocator.abandoned} ids abandoned inside a killed CPU's alloc`,
    );
  if (r.checker)
    out.push(
      `  checker: ${fmt(r.checker.entriesChecked)} log entries checked online, ${fmt(r.checker.entriesMissed)} missed ` +
        `(overwritten before it read them), ${r.checker.passes} passes, ${r.checker.quiescentChecks} exact capacity checks in stutters`,
    );
  out.push('');
  const head = ['op', 'count', 'ops/s', 'errno', 'p50', 'p90', 'p99', 'max', 'errno returns'];
  const rows = r.operations.map((o) => [
    o.op,
    fmt(o.count),
    fmt(o.opsPerSec),
    `${((100 * o.errors) / o.count).toFixed(1)}%`,
    duration(o.latencyNs.p50),
    duration(o.latencyNs.p90),
    duration(o.latencyNs.p99),
    duration(o.latencyNs.max),
    describeErrnos(o),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    `  ${cells.map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`.trimEnd();
  out.push(line(head));
  for (const row of rows) out.push(line(row));
  out.push('');
  out.push('  invariants:');
  for (const inv of r.invariants) {
    out.push(
      `    ${!inv.checked ? 'n/a ' : inv.ok ? 'ok  ' : 'FAIL'}  ${inv.name}${inv.ok ? '' : ` (${inv.violations} violations)`}`,
    );
    // Each broken invariant's first violation (the run's first one is printed below).
    if (inv.first && inv.kind !== r.firstViolation?.kind)
      out.push(`          first: ${describeViolation(inv.first)}`);
  }
  for (const p of r.problems) out.push(`  !!! ${p}`);
  if (r.firstViolation) out.push(`  first violation: ${describeViolation(r.firstViolation)}`);
  if (r.firstViolation || r.broken) out.push(`  replay: ${r.replay}`);
  out.push('');
  out.push(`VERDICT: ${r.verdict}${verdictNote(r)}`);
  return out.join('\n');
}

function verdictNote(r: StressReport): string {
  const notes: string[] = [];
  if (r.broken)
    notes.push(
      r.broken.caught
        ? `the broken twin '${r.broken.twin}' was caught, as it must be`
        : `the broken twin '${r.broken.twin}' was NOT caught`,
    );
  if (r.interrupted) notes.push(`interrupted by ${r.interrupted.signal}: a partial run`);
  return notes.length ? ` (${notes.join('; ')})` : '';
}

/**
 * A latency for a reader: ns below 1 µs, then µs, then ms, with 3 significant digits.
 *
 * @param ns - nanoseconds
 *
 * Context: pure.
 * @returns e.g. "832 ns", "4.61 µs", "18.9 ms"
 */
export function duration(ns: number): string {
  const sig = (x: number): string =>
    x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${sig(ns / 1e3)} µs`;
  if (ns < 1e9) return `${sig(ns / 1e6)} ms`;
  return `${sig(ns / 1e9)} s`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
