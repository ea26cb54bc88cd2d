/**
 * What a stress run measured and saw, as plain data: the facts the report is built from
 * (stress/report.ts), read from the run's buffers by the helpers here. Nothing here decides
 * a verdict.
 */
import type { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  type CpuGeometry,
  cpuBase,
  cpuLayout,
  ERRNO_SLOTS,
  HIST_BUCKETS,
  RUN_EPOCH,
  TIMELINE_SLOTS,
} from '../src/workers/run-layout.js';
import {
  type CheckGeometry,
  CPU_HELD,
  cpuOracleBase,
  SUB_FREES,
  SUB_LOST,
  SUB_MAYBE_LOST,
  SUB_READ,
  subOracleBase,
} from './check/check-layout.js';
import type { CheckerStats } from './check/checker.js';
import type { KindTally, ReportedViolation } from './check/violations.js';
import { violationTotal } from './check/violations.js';
import type { StressConfig } from './config.js';
import type { Subscription } from './notify/subscriptions.js';
import type { DeathSite } from './space-probe.js';

/** What the harness samples once per epoch. */
export interface Sample {
  /** Seconds since the start. */
  t: number;
  /** Operations each CPU did so far. */
  opsPerCpu: number[];
  /** Ids the CPUs hold. */
  liveIds: number;
  gracePeriods: number;
  violations: number;
}

/** Where a killed CPU was when it died. */
export type DeathPlace = keyof DeathSite | 'elsewhere';

/** A fault the harness injected, for the report's timeline. */
export interface RunEvent {
  /** Seconds since the start. */
  t: number;
  kind: 'kill' | 'stutter';
  /** For a stutter: seconds since the start when it ended. */
  until?: number;
  cpu?: number;
  /** For a kill: the critical section it was aimed at, if any. */
  aimedAt?: string | undefined;
  /** For a kill: where the CPU was when it died (each that applied). */
  diedIn?: DeathPlace[];
  /** For a kill: ids the CPU held when it died. */
  held?: number;
}

/** What one notifier subscription read over the run (its final drain included). */
export interface SubscriptionFacts {
  index: number;
  /** The set whose chain it is on, or null for the global chain. */
  chain: number | null;
  priority: number;
  /** The subscriber CPU that read it. */
  readerCpu: number;
  /** Entries it read (overflow entries included). */
  read: number;
  /** FREE events it read (global chain). */
  frees: number;
  /** Events its overflow entries counted lost. */
  lost: number;
  /** Events its killed readers may have taken without tallying (a bound). */
  maybeLost: number;
}

/** How many kills were aimed, and where the killed CPUs were when they died. */
export type KillSites = { aimed: number } & Record<keyof DeathSite, number>;

/** Everything a run measured and saw. */
export interface RunFacts {
  config: StressConfig;
  events: RunEvent[];
  elapsedSeconds: number;
  epochMs: number;
  /**
   * When each complete epoch ended, in seconds since the start; epoch e began when e - 1
   * ended (0 for the first). Usually e + 1 epochMs, later when the monitor woke up late.
   */
  epochEnds: number[];
  samples: Sample[];
  /** Per CPU, per op. */
  ops: number[][];
  /** Per CPU, per op, per errno slot (ERRNO_CODES). */
  errnos: number[][][];
  /** Per CPU, per op, per latency bucket. */
  hist: number[][][];
  /** Per CPU, operations in each complete epoch (the last, partial one left out). */
  timeline: number[][];
  violations: KindTally[];
  firstViolation: ReportedViolation | undefined;
  /** wallMs() at the start (violations' atMs are measured from it). */
  startWallMs: number;
  checker: CheckerStats | undefined;
  gracePeriods: number;
  rcuStalls: number;
  kills: number;
  killSites: KillSites;
  stutters: number;
  recoveredIds: number;
  deadHeldBound: number;
  problems: string[];
  spaceStats: ReturnType<IoasidSpace['stats']>;
  /** Shared memory of the space (its RCU's buffer included). */
  byteLength: number;
  /** The signal (or abort reason) that ended the run early, if any. */
  interrupted: string | undefined;
  /** The notifier subscriptions (empty without subscriber CPUs). */
  subscriptions: SubscriptionFacts[];
  /** Requests the custom allocator's hypervisor answered (0 without `--custom-allocator`). */
  hostRequests: number;
}

/**
 * What each subscription read.
 *
 * @param check - the check buffer
 * @param g - its geometry
 * @param subs - the run's subscriptions
 * @param firstReader - the CPU index of reader 0 (the subscriber CPUs are the last ones)
 *
 * Context: main thread, at the end of the run.
 * @returns one entry per subscription
 */
export function readSubscriptionFacts(
  check: Int32Array<SharedArrayBuffer>,
  g: CheckGeometry,
  subs: readonly Subscription[],
  firstReader: number,
): SubscriptionFacts[] {
  return subs.map((s) => {
    const o = subOracleBase(g, s.index);
    return {
      index: s.index,
      chain: s.chain,
      priority: s.prio,
      readerCpu: firstReader + s.reader,
      read: Atomics.load(check, o + SUB_READ),
      frees: Atomics.load(check, o + SUB_FREES),
      lost: Atomics.load(check, o + SUB_LOST),
      maybeLost: Atomics.load(check, o + SUB_MAYBE_LOST),
    };
  });
}

/**
 * Sample the run now.
 *
 * @param run - the run buffer
 * @param check - the check buffer
 * @param g - the run's geometry
 * @param space - the space
 * @param t - seconds since the start
 *
 * Context: main thread; a snapshot of counters the CPUs keep adding to.
 * @returns the sample
 */
export function sample(
  run: Int32Array<SharedArrayBuffer>,
  check: Int32Array<SharedArrayBuffer>,
  g: CpuGeometry,
  space: IoasidSpace,
  t: number,
): Sample {
  const at = cpuLayout(g.nOps);
  const opsPerCpu: number[] = [];
  let liveIds = 0;
  for (let c = 0; c < g.cpus; c++) {
    let ops = 0;
    for (let i = 0; i < g.nOps; i++) ops += Atomics.load(run, cpuBase(g, c) + at.ops + i);
    opsPerCpu.push(ops);
    liveIds += Atomics.load(check, cpuOracleBase(c) + CPU_HELD);
  }
  return {
    t,
    opsPerCpu,
    liveIds,
    gracePeriods: space.rcu.completedGracePeriods(),
    violations: violationTotal(check),
  };
}

/**
 * Every CPU's counters.
 *
 * @param run - the run buffer
 * @param g - its geometry
 * @param completeEpochs - how many epochs of the timeline are complete (the current one,
 *   still being added to, is left out)
 *
 * Context: main thread, once the CPUs stopped.
 * @returns ops, errno returns, latency histograms and the timeline, per CPU
 */
export function readCpuCounters(
  run: Int32Array<SharedArrayBuffer>,
  g: CpuGeometry,
  completeEpochs: number,
): Pick<RunFacts, 'ops' | 'errnos' | 'hist' | 'timeline'> {
  const at = cpuLayout(g.nOps);
  const range = <T>(n: number, f: (i: number) => T): T[] =>
    Array.from({ length: n }, (_, i) => f(i));
  const word = (c: number, offset: number): number => Atomics.load(run, cpuBase(g, c) + offset);
  const epochs = Math.min(TIMELINE_SLOTS, Atomics.load(run, RUN_EPOCH), completeEpochs);
  return {
    ops: range(g.cpus, (c) => range(g.nOps, (i) => word(c, at.ops + i))),
    errnos: range(g.cpus, (c) =>
      range(g.nOps, (op) => range(ERRNO_SLOTS, (s) => word(c, at.errnos + op * ERRNO_SLOTS + s))),
    ),
    hist: range(g.cpus, (c) =>
      range(g.nOps, (op) => range(HIST_BUCKETS, (b) => word(c, at.hist + op * HIST_BUCKETS + b))),
    ),
    timeline: range(g.cpus, (c) => range(epochs, (e) => word(c, at.timeline + e))),
  };
}
