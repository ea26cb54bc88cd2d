/**
 * Scaling bench (issues 4 and 13): this project, the limits (a pure-compute control loop and
 * load+CAS) and the two baselines, each at 1, 2 and 4 CPUs (worker_threads), all measured in
 * the same run by the same harness (./parallel.ts: SAB barrier, fixed time, throughput =
 * total ops / wall time, and per CPU-second of the workers' threads; median of `reps` runs).
 * ./comparison.ts turns the figures into ratios and targets.
 *
 * The runs of every scenario and CPU count are interleaved (rep 1 of everything, then rep 2,
 * ...), so a burst of load from elsewhere on the machine hits the control loop and the
 * allocator alike: the control's 1 -> 2 CPU scaling is what this machine gave code of this
 * shape while the allocator was measured.
 *
 * What one operation is:
 * - `compute` (limit, the control loop): 32 dependent xorshift-multiply steps on a local,
 *   touching no memory: what the CPUs give code that shares nothing at all;
 * - `cas-own` / `cas-shared` (limit): one Atomics.load + successful compareExchange
 *   increment, on a word of the worker's own 64-byte line / on one word all workers share;
 * - `pair`: alloc(set, 1, max) + free, on one set per worker (`disjoint`), one set for all
 *   (`shared`), or one set per worker in a space per worker (`separate`: no word shared);
 *   the disjoint sets share one id space, as kernel PASID sets do;
 * - `find`: find(set, id) over 64 live ids of one set;
 * - `rcu-pair`: readLock + readUnlock; `synchronize`: one synchronize() per call, every
 *   worker calling it (concurrent callers share grace periods).
 * Baselines run `pair` and `find` with the same sets, ranges and ids.
 */
import { loadavg } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { MutexAllocator } from './baselines/mutex-allocator.js';
import { PostMessageAllocatorServer } from './baselines/postmessage-allocator.js';
import type { SeqAllocatorOptions } from './baselines/seq-allocator.js';
import { medianOf, type ParallelRun, runParallel, type WorkerInit } from './parallel.js';

export type ScalingWorkload =
  | 'compute'
  | 'cas-own'
  | 'cas-shared'
  | 'pair'
  | 'find'
  | 'rcu-pair'
  | 'synchronize';
export type Impl = 'limit' | 'project' | 'mutex' | 'postmessage';
export type Sets = 'disjoint' | 'shared' | 'separate' | 'n/a';

/** One scenario measured at one CPU count. */
export interface Measurement {
  impl: Impl;
  workload: ScalingWorkload;
  sets: Sets;
  cpus: number;
  /** total operations per second, all workers */
  opsPerSec: number;
  perCpu: number;
  /** the median run's raw figures */
  ops: number;
  wallNs: number;
  /** opsPerSec of every run that did not hang, ascending */
  samples: number[];
  /** operations that failed unexpectedly, summed over the runs */
  fails: number;
  /** allocations that found no free record (-ENOMEM) and waited for a grace period */
  gpWaits: number;
  /** runs terminated by the watchdog (a livelock in the code under test) */
  hungRuns: number;
  /** median over the runs of ops per CPU-second of the workers (NaN without schedstat) */
  opsPerCpuSec: number;
  /** the median run's CPU time / wall time, summed over its workers */
  busy: number;
  /** the median run's run-queue wait / wall time, summed over its workers */
  runqWait: number;
  /** median over the runs of the workers' own-line load+CAS ns, probed next to each window */
  casNs: number;
  /** median over the runs of CPU ns per op / that run's casNs (parallel.ts ParallelRun) */
  opCas: number;
  /**
   * Median ops per CPU-second over the "cheap-atomics" runs only: those whose casNs is within
   * CHEAP_CAS of the lowest casNs of the whole invocation (NaN: no such run). The figure the
   * code gives when the machine's locked ops are at their usual price (FINDINGS.md).
   */
  opsPerCpuSecCheap: number;
  /** how many runs that median is over, of `samples.length` */
  cheapRuns: number;
  /** the median run's CPUs' worth of this process's time and the machine's (parallel.ts) */
  processBusy: number;
  machineBusy: number;
  steal: number;
}

export interface ScalingOptions {
  cpus: number[];
  /** run time of each sample, ms */
  ms: number;
  reps: number;
  /** only scenarios whose name (see `scenarioName`) contains one of these '|'-separated parts */
  filter?: string;
  /** progress lines go here (stderr with --json) */
  log: (line: string) => void;
}

interface Scenario {
  impl: Impl;
  workload: ScalingWorkload;
  sets: Sets;
}

export const SCENARIOS: readonly Scenario[] = [
  { impl: 'limit', workload: 'compute', sets: 'n/a' },
  { impl: 'limit', workload: 'cas-own', sets: 'n/a' },
  { impl: 'limit', workload: 'cas-shared', sets: 'n/a' },
  { impl: 'project', workload: 'pair', sets: 'disjoint' },
  { impl: 'project', workload: 'pair', sets: 'shared' },
  { impl: 'project', workload: 'pair', sets: 'separate' },
  { impl: 'project', workload: 'find', sets: 'shared' },
  { impl: 'project', workload: 'rcu-pair', sets: 'n/a' },
  { impl: 'project', workload: 'synchronize', sets: 'n/a' },
  { impl: 'mutex', workload: 'pair', sets: 'disjoint' },
  { impl: 'mutex', workload: 'pair', sets: 'shared' },
  { impl: 'mutex', workload: 'find', sets: 'shared' },
  { impl: 'postmessage', workload: 'pair', sets: 'disjoint' },
  { impl: 'postmessage', workload: 'pair', sets: 'shared' },
  { impl: 'postmessage', workload: 'find', sets: 'shared' },
];

/** A run's atomics count as at their usual price within this factor of the lowest casNs seen. */
const CHEAP_CAS = 1.2;
const PASID_BITS = 20;
const MAX_SETS = 16;
/** Quota of each disjoint set: far more than a worker ever holds (one id). */
const DISJOINT_QUOTA = 1000;
/** Live ids looked up by `find` (a power of two: workers index with a mask). */
const FIND_IDS = 64;
const SEQ_OPTIONS: SeqAllocatorOptions = { pasidBits: PASID_BITS, maxSets: MAX_SETS };

/** Anything with the allocator calls the setup needs. */
interface SetupTarget {
  setAlloc(quota: number): number;
  alloc(set: number, min: number, max: number, data: number): number;
  idMax: number;
}

/** The sets (per worker) and find ids of a scenario, created through `t`. */
function makeSets(t: SetupTarget, sc: Scenario, cpus: number): { sets: number[]; ids: number[] } {
  const shared = sc.sets !== 'disjoint';
  const one = shared ? t.setAlloc(0) : -1;
  const sets = Array.from({ length: cpus }, () => (shared ? one : t.setAlloc(DISJOINT_QUOTA)));
  const ids =
    sc.workload === 'find'
      ? Array.from({ length: FIND_IDS }, (_, i) => t.alloc(sets[0]!, 1, t.idMax, i + 1))
      : [];
  if (sets.some((s) => s < 0) || ids.some((id) => id < 0))
    throw new Error(`bench setup failed: sets ${sets}, ids ${ids}`);
  return { sets, ids };
}

function runOnce(sc: Scenario, cpus: number, ms: number): Promise<ParallelRun> {
  const here = import.meta.url;
  switch (sc.impl) {
    case 'limit': {
      const words = new SharedArrayBuffer((cpus + 1) * 64);
      const url = workerModuleUrl(here, './scaling-worker.js');
      return runParallel(url, cpus, ms, (index) => ({
        workerData: { workload: sc.workload, index, words },
      }));
    }
    case 'project': {
      const newSpace = () =>
        IoasidSpace.create({ pasidBits: PASID_BITS, maxSets: MAX_SETS, maxThreads: 8 });
      if (sc.sets === 'separate') {
        // One space per worker, one set in each: nothing shared but the process.
        const spaces = Array.from({ length: cpus }, newSpace);
        const sets = spaces.map((sp) => sp.setAlloc(null, DISJOINT_QUOTA, SetType.NULL));
        const url = workerModuleUrl(here, './scaling-worker.js');
        return runParallel(url, cpus, ms, (index) => ({
          workerData: {
            workload: sc.workload,
            index,
            handle: spaces[index]!.handle,
            set: sets[index],
          },
        })).finally(() => {
          for (const sp of spaces) sp.detach();
        });
      }
      const space = newSpace();
      const t: SetupTarget = {
        setAlloc: (q) => space.setAlloc(null, q, SetType.NULL),
        alloc: (s, lo, hi, data) => space.alloc(s, lo, hi, data),
        idMax: space.maxId,
      };
      const { sets, ids } = makeSets(t, sc, cpus);
      const url = workerModuleUrl(here, './scaling-worker.js');
      return runParallel(url, cpus, ms, (index) => ({
        workerData: { workload: sc.workload, index, handle: space.handle, set: sets[index], ids },
      })).finally(() => space.detach());
    }
    case 'mutex': {
      const a = MutexAllocator.create(SEQ_OPTIONS);
      const t: SetupTarget = {
        setAlloc: (q) => a.setAlloc(q),
        alloc: (s, lo, hi, data) => a.alloc(s, lo, hi, data),
        idMax: a.idMax,
      };
      const { sets, ids } = makeSets(t, sc, cpus);
      const url = workerModuleUrl(here, './baselines/mutex-worker.js');
      return runParallel(url, cpus, ms, (index) => ({
        workerData: { workload: sc.workload, buffer: a.buffer, set: sets[index], ids },
      }));
    }
    case 'postmessage': {
      const server = new PostMessageAllocatorServer(SEQ_OPTIONS);
      const seq = server.seq;
      const { sets, ids } = makeSets(seq, sc, cpus);
      const url = workerModuleUrl(here, './baselines/postmessage-worker.js');
      const init = (index: number): WorkerInit => {
        const { port1, port2 } = new MessageChannel();
        server.serve(port1);
        return {
          workerData: {
            workload: sc.workload,
            port: port2,
            set: sets[index],
            idMax: seq.idMax,
            ids,
          },
          transferList: [port2],
        };
      };
      return runParallel(url, cpus, ms, init).finally(() => server.close());
    }
  }
}

/** Label of a scenario, e.g. "project pair (shared set)". */
export function scenarioName(sc: { impl: Impl; workload: ScalingWorkload; sets: Sets }): string {
  const sets = {
    disjoint: ' (disjoint sets)',
    shared: ' (one set)',
    separate: ' (separate spaces)',
    'n/a': '',
  }[sc.sets];
  return `${sc.impl} ${sc.workload}${sets}`;
}

/**
 * Measure every scenario at every CPU count. Repetitions go round all scenarios and CPU
 * counts (rep 1 of everything, then rep 2, ...), so a burst of load from elsewhere on the
 * machine hits every scenario alike instead of skewing one, and the control loop's figures
 * come from the same minutes as the allocator's.
 */
export async function measureScaling(o: ScalingOptions): Promise<Measurement[]> {
  const parts = (o.filter ?? '').split('|').filter((p) => p !== '');
  const chosen = SCENARIOS.filter(
    (sc) => parts.length === 0 || parts.some((p) => scenarioName(sc).includes(p)),
  );
  const runs = chosen.map(() => o.cpus.map((): ParallelRun[] => []));
  for (let rep = 0; rep < o.reps; rep++) {
    o.log(`  rep ${rep + 1} of ${o.reps} (load average ${loadavg()[0]!.toFixed(1)})`);
    for (const [s, sc] of chosen.entries())
      for (const [i, cpus] of o.cpus.entries()) runs[s]![i]!.push(await runOnce(sc, cpus, o.ms));
  }
  const out: Measurement[] = [];
  const cheapCas =
    CHEAP_CAS *
    Math.min(
      ...runs
        .flat(2)
        .map((r) => r.casNs)
        .filter(Number.isFinite),
    );
  for (const [s, sc] of chosen.entries()) {
    for (const [i, cpus] of o.cpus.entries()) {
      // Failures and hangs are findings about the code under test: reported, not fatal.
      const r = medianOf(runs[s]![i]!);
      const cheap = runs[s]![i]!.filter((x) => !x.hung && x.casNs <= cheapCas);
      out.push({
        ...sc,
        cpus,
        opsPerSec: r.opsPerSec,
        perCpu: r.opsPerSec / cpus,
        ops: r.ops,
        wallNs: r.wallNs,
        samples: r.samples,
        fails: r.fails,
        gpWaits: r.gpWaits,
        hungRuns: r.hungRuns,
        opsPerCpuSec: r.opsPerCpuSec,
        busy: r.busy,
        runqWait: r.runqWait,
        casNs: r.casNs,
        opCas: r.opCas,
        opsPerCpuSecCheap: medianOf(cheap).opsPerCpuSec,
        cheapRuns: cheap.length,
        processBusy: r.processBusy,
        machineBusy: r.machineBusy,
        steal: r.steal,
      });
      o.log(
        `  ${scenarioName(sc).padEnd(40)} ${String(cpus).padStart(2)} CPU  ${fmtRate(r.opsPerSec).padStart(10)} ops/s${note(r.fails, r.hungRuns, r.gpWaits)}`,
      );
    }
  }
  return out;
}

/** ", 39 failed ops, 2 runs hung, 3 grace-period waits" or "". */
export function note(fails: number, hungRuns: number, gpWaits = 0): string {
  const parts = [];
  if (fails > 0) parts.push(`${fails} failed ops`);
  if (gpWaits > 0) parts.push(`${gpWaits} allocs waited for a grace period`);
  if (hungRuns > 0) parts.push(`${hungRuns} run${hungRuns === 1 ? '' : 's'} hung`);
  return parts.length > 0 ? `  (${parts.join(', ')})` : '';
}

/** 1234567 -> "1.23 M". */
export function fmtRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}
