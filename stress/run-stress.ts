/**
 * One stress run: create the space and its shared sets, start the CPUs (piscina) and the
 * checker thread, steer them through shared memory (epochs, stutter, kills), then stop,
 * recover and verify, and return the report. Never throws for a broken allocator: the
 * report's verdict says it.
 *
 * ## Developer notes
 * The main thread only steers, samples and finally verifies; it takes no part in the run, so
 * a hang in the allocator shows up as a CPU that never stops (reported) rather than a frozen
 * harness. End-of-run verification, in order: every CPU frees what it holds; the harness
 * recovers the ids of killed CPUs with freeAllInSet (at most what they held, plus one
 * in-flight alloc each); exact capacity accounting; every shared set destroyed gives all
 * capacity back; after a grace period every record is free again; no id is left live.
 */
import { Worker } from 'node:worker_threads';
import { type IoasidOptions, IoasidSpace, SetType } from '../src/core/ioasid.js';
import { Checker, type CheckerStats } from '../src/workers/checker.js';
import type { CheckerData } from '../src/workers/checker-worker.js';
import type { CpuPlan } from '../src/workers/cpu-loop.js';
import type { CpuTaskResult } from '../src/workers/cpu-worker.js';
import { CpuPool } from '../src/workers/pool.js';
import { Prng } from '../src/workers/prng.js';
import {
  CPU_ERRS,
  CPU_HELD,
  CPU_HIST,
  CPU_KILL_READY,
  CPU_KILL_REQUEST,
  CPU_OPS,
  CPU_PHASE,
  CPU_PHASES,
  CPU_RCU_SLOT,
  CPU_STATUS,
  CPU_THREAD,
  CPU_TIMELINE,
  cpuBase,
  HIST_BUCKETS,
  N_OPS,
  OPS,
  RUN_EPOCH,
  RUN_STATE,
  RUN_VIOLATIONS,
  type RunGeometry,
  runWords,
  STATE_PAUSE,
  STATE_RUN,
  STATE_STOP,
  STATUS_DEAD,
  shadowOwnerBase,
  shadowSetBase,
  TIMELINE_SLOTS,
  type ViolationKind,
} from '../src/workers/run-layout.js';
import {
  readFirstViolation,
  reportViolation,
  type Violation,
  violationCounts,
} from '../src/workers/violations.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { buildStressReport, type StressReport } from './report.js';
import type { Scenario } from './scenarios.js';
import { sleep, withTimeout } from './timers.js';

/** Deliberately broken allocator variants (IoasidOptions.fault), for the harness's self-test. */
export const BROKEN_ALLOCATORS = ['reclaim-without-gp', 'quota-check-then-act'] as const;
export type BrokenAllocator = (typeof BROKEN_ALLOCATORS)[number];

/** A scenario made concrete: its name, a seed, and optionally a broken allocator. */
export interface StressConfig extends Omit<Scenario, 'description'> {
  scenario: string;
  seed: number;
  /** @internal a deliberately broken allocator, to prove the checks can fail */
  broken?: BrokenAllocator | undefined;
}

/** What the harness samples once per epoch. */
export interface Sample {
  t: number;
  opsPerCpu: number[];
  liveIds: number;
  gracePeriods: number;
  violations: number;
}

/** A fault the harness injected, for the report's timeline. */
export interface RunEvent {
  t: number;
  kind: 'kill' | 'stutter';
  cpu?: number;
}

export interface RunFacts {
  config: StressConfig;
  events: RunEvent[];
  elapsedSeconds: number;
  epochMs: number;
  samples: Sample[];
  ops: number[][];
  errs: number[][];
  hist: number[][][];
  timeline: number[][];
  violationCounts: Record<ViolationKind, number>;
  firstViolation: Violation | undefined;
  firstWhy: string | undefined;
  checker: CheckerStats | undefined;
  gracePeriods: number;
  rcuStalls: number;
  kills: number;
  stutters: number;
  recoveredIds: number;
  deadHeldBound: number;
  cpuCrashes: string[];
  spaceStats: ReturnType<IoasidSpace['stats']>;
  byteLength: number;
}

const SCRATCH_QUOTA = 16;
const MONITOR_MS = 50;

/** Options the space is created with for this run. */
export function spaceOptionsFor(
  c: StressConfig,
): Partial<IoasidOptions> & { fault?: BrokenAllocator } {
  const cap = 2 ** c.pasidBits - 1;
  return {
    pasidBits: c.pasidBits,
    maxSets: c.sets + c.cpus * 2 + 4,
    // Records of freed ids wait a grace period before reuse: size the pool well above the ids
    // that can be live at once, so -ENOMEM stays a rare runtime condition.
    maxIoasids: Math.min(
      2 ** 20 - 2,
      Math.max(4096, 4 * Math.min(cap, c.cpus * (c.maxHeld + SCRATCH_QUOTA))),
    ),
    maxThreads: c.cpus * 4 + 8,
    policy: c.policy,
    fault: c.broken,
  };
}

/** Problems with a configuration, as messages for a usage error (empty when fine). */
export function checkConfig(c: StressConfig): string[] {
  const problems: string[] = [];
  const cap = 2 ** c.pasidBits - 1;
  const scratch = c.mix[OPS.indexOf('setAlloc')]! > 0 ? c.cpus * SCRATCH_QUOTA : 0;
  if (c.sets * c.quota + scratch > cap)
    problems.push(
      `--sets ${c.sets} x --quota ${c.quota}${scratch ? ` + ${scratch} for scratch sets` : ''} exceeds the ` +
        `capacity of a ${c.pasidBits}-bit PASID space (${cap})`,
    );
  if (c.mix.length !== N_OPS || c.mix.every((w) => w <= 0))
    problems.push('the mix has no positive weight');
  return problems;
}

export interface StressHooks {
  /** Called once per progress tick (about 4 per second). */
  onProgress?: ((s: Sample, facts: { kills: number; stutters: number }) => void) | undefined;
}

export async function runStress(
  config: StressConfig,
  hooks: StressHooks = {},
): Promise<StressReport> {
  const problems = checkConfig(config);
  if (problems.length > 0) throw new RangeError(`bad stress configuration: ${problems.join('; ')}`);
  const cpus = config.cpus;
  const space = IoasidSpace.create(spaceOptionsFor(config));
  const geometry: RunGeometry = {
    cpus,
    pasidBits: config.pasidBits,
    maxSets: spaceOptionsFor(config).maxSets!,
  };
  const run = new SharedArrayBuffer(runWords(geometry) * 4);
  const w = new Int32Array(run);
  const rng = new Prng(config.seed, 7);
  const sets: number[] = [];
  for (let i = 0; i < config.sets; i++) {
    const set = space.setAlloc(null, config.quota, SetType.NULL);
    if (set < 0) throw new Error(`could not create shared set ${i}: ${set}`);
    sets.push(set);
    Atomics.store(w, shadowSetBase(geometry, set) + 1, config.quota);
  }
  const freeRecords0 = space.stats().freeRecords;
  const epochMs = Math.max(100, Math.ceil((config.seconds * 1000) / TIMELINE_SLOTS));
  const running = new Int32Array(new SharedArrayBuffer(4));
  const checkerData: CheckerData = {
    space: space.handle,
    run,
    geometry,
    intervalMs: 5,
    runningCpus: running.buffer,
  };
  const checkerWorker = new Worker(
    workerModuleUrl(import.meta.url, '../src/workers/checker-worker.js'),
    {
      workerData: checkerData,
    },
  );
  const checkerDone = new Promise<CheckerStats | undefined>((resolve) => {
    checkerWorker.once('message', resolve);
    checkerWorker.once('error', () => resolve(undefined));
    checkerWorker.once('exit', () => resolve(undefined));
  });

  const pool = new CpuPool(cpus);
  const cpuCrashes: string[] = [];
  const alive = new Array<boolean>(cpus).fill(false);
  const tasks = new Map<number, Promise<void>>();
  const killing = new Set<number>();
  let generation = 0;
  const startCpu = (cpu: number): void => {
    const plan: CpuPlan = {
      cpu,
      seed: (config.seed + generation * 7919) | 0,
      geometry,
      mix: config.mix,
      sets,
      idMin: 1,
      idMax: 2 ** config.pasidBits - 1,
      maxHeld: config.maxHeld,
      scratchQuota: SCRATCH_QUOTA,
      generation,
      getterSleepOneIn: 256,
    };
    generation++;
    alive[cpu] = true;
    Atomics.add(running, 0, 1);
    const task = pool
      .run({ space: space.handle, run, plan })
      .then((_r: CpuTaskResult) => undefined)
      .catch((err: Error) => {
        if (!killing.has(cpu)) cpuCrashes.push(`cpu ${cpu} crashed: ${err.message}`);
      })
      .finally(() => {
        alive[cpu] = false;
        Atomics.sub(running, 0, 1);
      });
    tasks.set(cpu, task);
  };

  let kills = 0;
  let deadHeldBound = 0;
  const events: RunEvent[] = [];
  const killCpu = async (cpu: number): Promise<void> => {
    const base = cpuBase(cpu);
    Atomics.store(w, base + CPU_KILL_REQUEST, 1);
    for (let i = 0; i < 400 && Atomics.load(w, base + CPU_KILL_READY) === 0; i++) await sleep(5);
    if (Atomics.load(w, base + CPU_KILL_READY) === 0) return; // not safe to kill now; try later
    await sleep(rng.below(10)); // land anywhere in its lock-free operations
    killing.add(cpu);
    await pool.kill(cpu, Atomics.load(w, base + CPU_THREAD));
    await tasks.get(cpu);
    killing.delete(cpu);
    kills++;
    events.push({ t: (performance.now() - t0) / 1000, kind: 'kill', cpu });
    deadHeldBound += Atomics.load(w, base + CPU_HELD) + 1; // + an alloc in flight
    // The dead thread's RCU slot, its private record batch, any lock or half-done
    // allocation it held: the space recovers them all (its ids stay live until the end).
    space.releaseThread(Atomics.load(w, base + CPU_RCU_SLOT));
    Atomics.store(w, base + CPU_STATUS, STATUS_DEAD);
    Atomics.store(w, base + CPU_KILL_REQUEST, 0);
    Atomics.store(w, base + CPU_KILL_READY, 0);
    Atomics.store(w, base + CPU_HELD, 0);
    startCpu(cpu); // the scenario goes on with a fresh CPU in its place
  };

  Atomics.store(w, RUN_STATE, STATE_RUN);
  for (let cpu = 0; cpu < cpus; cpu++) startCpu(cpu);
  const t0 = performance.now();
  const endAt = t0 + config.seconds * 1000;
  const samples: Sample[] = [];
  const doKills = config.faults.includes('kill-cpu');
  const doStutter = config.faults.includes('stutter');
  let nextKill = doKills ? t0 + 700 + rng.below(600) : Number.POSITIVE_INFINITY;
  let nextStutter = doStutter ? t0 + 1500 : Number.POSITIVE_INFINITY;
  let stutterUntil = 0;
  let stutters = 0;
  let nextEpoch = t0 + epochMs;
  let nextProgress = t0 + 250;
  while (performance.now() < endAt && cpuCrashes.length === 0) {
    await sleep(MONITOR_MS);
    const now = performance.now();
    if (now >= nextEpoch) {
      nextEpoch += epochMs;
      Atomics.add(w, RUN_EPOCH, 1);
      samples.push(sample(w, space, cpus, (now - t0) / 1000));
    }
    if (stutterUntil > 0 && now >= stutterUntil) {
      Atomics.store(w, RUN_STATE, STATE_RUN);
      Atomics.notify(w, RUN_STATE);
      stutterUntil = 0;
    } else if (stutterUntil === 0 && now >= nextStutter && now + 400 < endAt) {
      Atomics.store(w, RUN_STATE, STATE_PAUSE);
      stutterUntil = now + 200 + rng.below(200);
      events.push({ t: (now - t0) / 1000, kind: 'stutter' });
      nextStutter = now + 1500 + rng.below(1000);
      stutters++;
    }
    if (stutterUntil === 0 && now >= nextKill && now + 500 < endAt) {
      await killCpu(rng.below(cpus));
      nextKill = performance.now() + 700 + rng.below(800);
    }
    if (hooks.onProgress && now >= nextProgress) {
      nextProgress += 250;
      hooks.onProgress(sample(w, space, cpus, (now - t0) / 1000), { kills, stutters });
    }
  }
  const elapsedSeconds = (performance.now() - t0) / 1000;
  samples.push(sample(w, space, cpus, elapsedSeconds));

  // Stop: CPUs give back what they hold and return; then the checker's final pass.
  Atomics.store(w, RUN_STATE, STATE_STOP);
  Atomics.notify(w, RUN_STATE);
  const stopped = await withTimeout(Promise.all(tasks.values()), 30_000);
  if (!stopped)
    for (let c = 0; c < cpus; c++)
      if (alive[c])
        cpuCrashes.push(
          `CPU ${c} did not stop within 30 s: it is ${CPU_PHASES[Atomics.load(w, cpuBase(c) + CPU_PHASE)]}`,
        );
  const checkerStats = await checkerDone;
  await checkerWorker.terminate();

  const recoveredIds = stopped
    ? verifyAtEnd(space, w, geometry, sets, freeRecords0, deadHeldBound, cpuCrashes)
    : 0;
  const facts: RunFacts = {
    config,
    events,
    elapsedSeconds,
    epochMs,
    samples,
    ...readCpuCounters(w, cpus),
    violationCounts: violationCounts(w),
    firstViolation: readFirstViolation(w),
    firstWhy: undefined,
    checker: checkerStats,
    gracePeriods: space.rcu.completedGracePeriods(),
    rcuStalls: space.rcu.stats().stalls,
    kills,
    stutters,
    recoveredIds,
    deadHeldBound,
    cpuCrashes,
    spaceStats: space.stats(),
    byteLength: space.byteLength + space.rcu.handle.buffer.byteLength,
  };
  await pool.destroy();
  return buildStressReport(facts);
}

/**
 * End-of-run verification (Developer notes). Runs with no CPU alive. Returns how many ids
 * were recovered from killed CPUs.
 */
function verifyAtEnd(
  space: IoasidSpace,
  w: Int32Array<SharedArrayBuffer>,
  g: RunGeometry,
  sets: number[],
  freeRecords0: number,
  deadHeldBound: number,
  problems: string[],
): number {
  const leak = (why: string, detail: number, set = -1, id = 0): void => {
    problems.push(`leak: ${why}`);
    reportViolation(w, { kind: 'leak', op: 'check', cpu: -1, id, set, detail });
  };
  const checker = new Checker(space, w.buffer, g);
  checker.pass();
  checker.quiescentCheck();
  // Ids still live belong to killed CPUs: recover them, and no more than they could hold.
  let recovered = 0;
  for (let set = 0; set < g.maxSets; set++) {
    if (!space.setInfo(set)) continue;
    recovered += dropEveryReference(space, set);
    // A scratch set a killed CPU had already setFree'd is destroyed with its last id.
    if (!space.setInfo(set)) continue;
    const n = space.freeAllInSet(set);
    if (n !== 0)
      leak(`freeAllInSet(${set}) found ${n} ids after every reference was dropped`, n, set);
    if (!sets.includes(set)) space.setFree(set); // a scratch set left by a killed CPU
  }
  if (recovered > deadHeldBound)
    leak(
      `${recovered} ids still live after the CPUs returned theirs (killed CPUs could hold at most ${deadHeldBound})`,
      recovered - deadHeldBound,
    );
  for (const set of sets) {
    const info = space.setInfo(set);
    if (info?.count !== 0)
      leak(`set ${set} count ${info?.count} after freeAllInSet`, info?.count ?? -1, set);
  }
  checker.quiescentCheck();
  for (const set of sets) {
    const r = space.setFree(set);
    if (r !== 0) leak(`setFree(${set}) returned ${r} on an empty set`, r, set);
  }
  if (space.available() !== space.capacity())
    leak(
      `available ${space.available()} != capacity ${space.capacity()} with no set left`,
      space.capacity() - space.available(),
    );
  space.flushRecords();
  const st = space.stats();
  if (st.freeRecords !== freeRecords0 || st.liveRecords !== 0)
    leak(
      `${st.freeRecords} free records after a grace period, ${freeRecords0} at the start (${st.liveRecords} live, ${st.limboRecords} waiting)`,
      freeRecords0 - st.freeRecords,
    );
  const idMax = 2 ** g.pasidBits - 1;
  for (let id = 1; id <= idMax; id++) {
    if (space.inspect(id).state !== 'free') {
      leak(`id ${id} is ${space.inspect(id).state} after everything was freed`, 1, -1, id);
      break;
    }
  }
  // Shadow words left set can only be killed CPUs' ids, all recovered above.
  let shadowLeft = 0;
  for (let id = 1; id <= idMax; id++)
    if (Atomics.load(w, shadowOwnerBase(g) + id) !== 0) shadowLeft++;
  if (shadowLeft > recovered)
    leak(`${shadowLeft} shadow claims left, ${recovered} ids recovered`, shadowLeft - recovered);
  return recovered;
}

/**
 * What a release path does for a dead owner (VFIO closing a dead VM's fd): free every id of
 * `set` and put every reference the dead holder still had, so free-pending ids are reclaimed.
 * Returns how many ids were reclaimed.
 */
function dropEveryReference(space: IoasidSpace, set: number): number {
  const ids: number[] = [];
  space.setForEachIoasid(set, (id) => ids.push(id));
  let reclaimed = 0;
  for (const id of ids) {
    const state = space.inspect(id).state;
    if (state === 'idle' || state === 'active') {
      if (space.inspect(id).refs === 1) {
        if (space.free(set, id) === 0) reclaimed++;
        continue;
      }
      space.free(set, id);
    }
    while (space.inspect(id).state === 'free-pending') if (space.put(set, id) === 1) reclaimed++;
  }
  return reclaimed;
}

function sample(w: Int32Array, space: IoasidSpace, cpus: number, t: number): Sample {
  const opsPerCpu: number[] = [];
  let liveIds = 0;
  for (let c = 0; c < cpus; c++) {
    let ops = 0;
    for (let i = 0; i < N_OPS; i++) ops += Atomics.load(w, cpuBase(c) + CPU_OPS + i);
    opsPerCpu.push(ops);
    liveIds += Atomics.load(w, cpuBase(c) + CPU_HELD);
  }
  return {
    t,
    opsPerCpu,
    liveIds,
    gracePeriods: space.rcu.completedGracePeriods(),
    violations: Atomics.load(w, RUN_VIOLATIONS),
  };
}

function readCpuCounters(
  w: Int32Array,
  cpus: number,
): Pick<RunFacts, 'ops' | 'errs' | 'hist' | 'timeline'> {
  const range = <T>(n: number, f: (i: number) => T): T[] =>
    Array.from({ length: n }, (_, i) => f(i));
  const word = (c: number, offset: number): number => Atomics.load(w, cpuBase(c) + offset);
  const epochs = Math.min(TIMELINE_SLOTS, Atomics.load(w, RUN_EPOCH) + 1);
  return {
    ops: range(cpus, (c) => range(N_OPS, (i) => word(c, CPU_OPS + i))),
    errs: range(cpus, (c) => range(N_OPS, (i) => word(c, CPU_ERRS + i))),
    hist: range(cpus, (c) =>
      range(N_OPS, (op) => range(HIST_BUCKETS, (b) => word(c, CPU_HIST + op * HIST_BUCKETS + b))),
    ),
    timeline: range(cpus, (c) => range(epochs, (e) => word(c, CPU_TIMELINE + e))),
  };
}
