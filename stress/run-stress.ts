/**
 * One stress run: create the space and its shared sets, start the CPUs (piscina) and the
 * checker thread, steer them through shared memory (epochs, stutter, kills), then stop,
 * recover and verify, and return the report. Never throws for a broken allocator: the
 * report's verdict says it.
 *
 * ## Developer notes
 * The main thread only steers, samples and finally verifies; it takes no part in the run, so
 * a hang in the allocator shows up as a CPU that never stops (reported) rather than a frozen
 * harness. Killed CPUs are recovered at once (`releaseThread`), wherever they died; their ids
 * stay live until the end. End-of-run verification, in order: every CPU frees what it holds
 * and destroys its scratch set; each kill was recovered exactly once and no lock or GP_LOCK
 * is held; the harness frees the ids of killed CPUs and drops their references (at most what
 * they held, plus one in-flight alloc each) and destroys their scratch sets (the one each
 * owned, or one its setAlloc was creating); exact capacity accounting; every shared set
 * destroyed gives all capacity back; after a grace period every record is free again; no id
 * is left live, no SPID bound, and every shadow claim left was a killed CPU's on an id
 * recovered here.
 */
import { Worker } from 'node:worker_threads';
import { type IoasidOptions, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
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
  CPU_OPS,
  CPU_PARKED,
  CPU_PHASE,
  CPU_PHASES,
  CPU_RCU_SLOT,
  CPU_SCRATCH,
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
  SCRATCH_CREATING,
  STATE_PAUSE,
  STATE_RUN,
  STATE_STOP,
  STATUS_DEAD,
  STATUS_RUNNING,
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
import {
  CRITICAL_SECTIONS,
  type CriticalSection,
  type DeathSite,
  SpaceProbe,
} from './space-probe.js';
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
  killSites: KillSites;
  stutters: number;
  recoveredIds: number;
  deadHeldBound: number;
  cpuCrashes: string[];
  spaceStats: ReturnType<IoasidSpace['stats']>;
  byteLength: number;
}

/** How many kills were aimed, and where the killed CPUs were when they died. */
export type KillSites = { aimed: number } & Record<keyof DeathSite, number>;

/** What the end-of-run verification needs to know about the CPUs that were killed. */
interface Deaths {
  kills: number;
  /** Ids the killed CPUs may have left live: what each held, plus an alloc in flight. */
  heldBound: number;
  /** CPU indices that were killed at least once (owners of any shadow claim left). */
  cpus: Set<number>;
  /** Scratch sets killed CPUs owned when they died (CPU_SCRATCH; maybe destroyed since). */
  scratchSets: Set<number>;
  /** Killed CPUs that died inside setAlloc: each may have left one set nobody knows of. */
  diedCreating: number;
}

const SCRATCH_QUOTA = 16;
const MONITOR_MS = 50;
/** Least time between two kills. */
const KILL_EVERY_MS = 700;
/** How long an aimed kill waits for its CPU to hold a space lock or GP_LOCK. */
const AIM_MS = 20;
/** Polls (5 ms apart) for a CPU's task to publish its Rcu slot and threadId before a kill. */
const START_POLLS = 400;

/**
 * Most kills a run of `seconds` can make (at most one per KILL_EVERY_MS), capped at 1024 so
 * that the set table stays small enough for the checker to scan every few milliseconds (past
 * that, in runs of over 10 minutes, setAlloc may return a legal -ENOSPC more often).
 */
function maxKills(seconds: number): number {
  return Math.min(1024, Math.ceil((seconds * 1000) / KILL_EVERY_MS));
}

/** Options the space is created with for this run. */
export function spaceOptionsFor(
  c: StressConfig,
): Partial<IoasidOptions> & { fault?: BrokenAllocator } {
  const cap = 2 ** c.pasidBits - 1;
  return {
    pasidBits: c.pasidBits,
    // A killed CPU leaves its scratch set until the end of the run (verifyAtEnd): one slot per
    // possible kill, so that setAlloc keeps finding slots in long runs with kills.
    maxSets: c.sets + c.cpus * 2 + 4 + (c.faults.includes('kill-cpu') ? maxKills(c.seconds) : 0),
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

  const deaths: Deaths = {
    kills: 0,
    heldBound: 0,
    cpus: new Set(),
    scratchSets: new Set(),
    diedCreating: 0,
  };
  const killSites: KillSites = {
    aimed: 0,
    setLock: 0,
    spidLock: 0,
    gracePeriod: 0,
    readSection: 0,
    halfDone: 0,
  };
  const probe = new SpaceProbe(space);
  const events: RunEvent[] = [];
  /**
   * Kill CPU `cpu` wherever it is, recover what it held, and start a fresh CPU in its place.
   * No handshake: the CPU may be inside any operation, holding the set or SPID lock, leading
   * a grace period or inside a read-side section (cpu-loop.ts "Kill safety"). The only wait is
   * for its task to have published its Rcu slot and threadId (STATUS_RUNNING), so that the
   * kill and `releaseThread` name this task's thread and not its predecessor's. One kill in
   * three is aimed at the set lock, the SPID lock or GP_LOCK (aimAt); the CPU may leave it
   * before the kill lands, so the report counts where each CPU really died.
   */
  const killCpu = async (cpu: number): Promise<void> => {
    const base = cpuBase(cpu);
    for (let i = 0; i < START_POLLS && Atomics.load(w, base + CPU_STATUS) !== STATUS_RUNNING; i++)
      await sleep(5);
    // Pairs with the task's STATUS_RUNNING store, which follows those of RCU_SLOT and THREAD.
    if (Atomics.load(w, base + CPU_STATUS) !== STATUS_RUNNING) return; // still starting: later
    const slot = Atomics.load(w, base + CPU_RCU_SLOT);
    const threadId = Atomics.load(w, base + CPU_THREAD);
    let aim: (() => void) | undefined;
    if (rng.below(3) === 0) {
      const target = CRITICAL_SECTIONS[rng.below(CRITICAL_SECTIONS.length)]!;
      aim = () => aimAt(probe, target, slot, threadId);
    }
    killing.add(cpu);
    const killed = await pool.kill(cpu, threadId, aim);
    if (!killed) {
      // Never expected: STATUS_RUNNING says this thread runs the task. Releasing its slot
      // without a kill would break a live thread, so stop the run instead.
      killing.delete(cpu);
      cpuCrashes.push(`cpu ${cpu}: no worker with threadId ${threadId} to kill`);
      return;
    }
    await tasks.get(cpu);
    killing.delete(cpu);
    deaths.kills++;
    deaths.cpus.add(cpu);
    if (aim) killSites.aimed++;
    events.push({ t: (performance.now() - t0) / 1000, kind: 'kill', cpu });
    // The thread has exited: where it died is exact until releaseThread (space-probe.ts).
    const site = probe.deathSite(slot, threadId);
    for (const k of Object.keys(site) as (keyof DeathSite)[]) if (site[k]) killSites[k]++;
    deaths.heldBound += Atomics.load(w, base + CPU_HELD) + 1; // + an alloc in flight
    const scratch = Atomics.load(w, base + CPU_SCRATCH);
    if (scratch === SCRATCH_CREATING) deaths.diedCreating++;
    else if (scratch > 0) deaths.scratchSets.add(scratch - 1);
    // The dead thread's RCU slot (and a grace period it led), its private record batch, a
    // set or SPID lock it held and any half-done alloc, reclaim or setAlloc: the space
    // recovers them all. Its ids stay live until the end (verifyAtEnd).
    space.releaseThread(slot);
    Atomics.store(w, base + CPU_PARKED, 0);
    Atomics.store(w, base + CPU_SCRATCH, 0);
    Atomics.store(w, base + CPU_STATUS, STATUS_DEAD);
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
  let nextKill = doKills ? t0 + KILL_EVERY_MS + rng.below(600) : Number.POSITIVE_INFINITY;
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
      nextKill = performance.now() + KILL_EVERY_MS + rng.below(800);
    }
    if (hooks.onProgress && now >= nextProgress) {
      nextProgress += 250;
      hooks.onProgress(sample(w, space, cpus, (now - t0) / 1000), {
        kills: deaths.kills,
        stutters,
      });
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
    ? verifyAtEnd(space, probe, w, geometry, sets, freeRecords0, deaths, cpuCrashes)
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
    kills: deaths.kills,
    killSites,
    stutters,
    recoveredIds,
    deadHeldBound: deaths.heldBound,
    cpuCrashes,
    spaceStats: space.stats(),
    byteLength: space.byteLength + space.rcu.handle.buffer.byteLength,
  };
  await pool.destroy();
  return buildStressReport(facts);
}

/**
 * Spin until the CPU with Rcu slot `slot` and `threadId` holds `target`, or AIM_MS passed;
 * the caller terminates it right after. The clock is read once per 64 probes, so the kill
 * follows the probe that saw the CPU inside as closely as this thread can. A grace period
 * lasts tens of microseconds and most such kills land inside it; a lock is held for well
 * under a microsecond, less than a terminate takes to land, so few do (the report says how
 * many). One target per kill: GP_LOCK, held most often, would otherwise take every aim.
 */
function aimAt(probe: SpaceProbe, target: CriticalSection, slot: number, threadId: number): void {
  const deadline = performance.now() + AIM_MS;
  for (let i = 1; ; i++) {
    if (probe.holds(target, slot, threadId)) return;
    if ((i & 63) === 0 && performance.now() >= deadline) return;
  }
}

/** Reports a leak found at the end of a run (as a problem and a `leak` violation). */
type Leak = (why: string, detail: number, set?: number, id?: number) => void;

/**
 * End-of-run verification (Developer notes). Runs with every CPU idle (its task returned) and
 * every killed one recovered. Returns how many ids were recovered from killed CPUs.
 *
 * Killed CPUs died anywhere, inside locks and grace periods included, so besides their ids
 * (which nobody else frees) they may have left: a scratch set, live or free-pending, empty or
 * not; shadow claims on ids they still held; references and SPIDs on those ids. Everything
 * else they held (locks, GP_LOCK, a half-done alloc, reclaim or setAlloc, records, capacity)
 * `releaseThread` took back, and this checks it did, exactly.
 */
function verifyAtEnd(
  space: IoasidSpace,
  probe: SpaceProbe,
  w: Int32Array<SharedArrayBuffer>,
  g: RunGeometry,
  sets: number[],
  freeRecords0: number,
  deaths: Deaths,
  problems: string[],
): number {
  const leak: Leak = (why, detail, set = -1, id = 0) => {
    problems.push(`leak: ${why}`);
    reportViolation(w, { kind: 'leak', op: 'check', cpu: -1, id, set, detail });
  };
  const checker = new Checker(space, w.buffer, g);
  checker.pass();
  checker.quiescentCheck();
  checkEveryKillRecovered(space, probe, deaths, leak);
  checkShadowCounts(space, w, g, deaths, leak);
  const recovered = recoverWhatKilledCpusLeft(space, sets, g, deaths, leak);
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
  // A kill inside attachSpid/detachSpid must not leave a binding once every id is gone.
  const spidEntries = probe.leftovers().spidEntries;
  if (spidEntries !== 0)
    leak(`${spidEntries} SPID bindings left after every id was freed`, spidEntries);
  checkShadowClaims(w, g, recovered, deaths, leak);
  return recovered.size;
}

/** Each kill was recovered exactly once, and no lock or GP_LOCK outlived its dead holder. */
function checkEveryKillRecovered(
  space: IoasidSpace,
  probe: SpaceProbe,
  deaths: Deaths,
  leak: Leak,
): void {
  const recovered = space.stats().threadsRecovered;
  const released = space.rcu.stats().released;
  if (recovered !== deaths.kills || released !== deaths.kills)
    leak(
      `${deaths.kills} CPUs killed, ${recovered} thread slots recovered, ${released} Rcu slots released`,
      deaths.kills - recovered,
    );
  const held = probe.leftovers();
  if (held.setLockOwner !== 0 || held.spidLockOwner !== 0 || held.gpLockOwner !== 0)
    leak(
      `locks held with every CPU idle: set lock by slot ${held.setLockOwner - 1}, SPID lock by ` +
        `slot ${held.spidLockOwner - 1}, GP_LOCK by thread ${held.gpLockOwner - 1} (-1 = free)`,
      1,
    );
}

/**
 * Shadow live counts against the shadow claims they count, per set, before the killed CPUs'
 * ids are freed (every live CPU has released all of its own). Not equal in general: a CPU
 * killed between the two words of a claim (alloc) leaves the count one below the claims of
 * that set, and one killed between those of a release (free, put, freeAllInSet) one above;
 * no other step leaves them apart (cpu-loop.ts "Kill safety"). So the differences add up to
 * at most one per kill.
 */
function checkShadowCounts(
  space: IoasidSpace,
  w: Int32Array<SharedArrayBuffer>,
  g: RunGeometry,
  deaths: Deaths,
  leak: Leak,
): void {
  const claims = new Array<number>(g.maxSets).fill(0);
  for (let id = 1; id < 2 ** g.pasidBits; id++) {
    if (Atomics.load(w, shadowOwnerBase(g) + id) === 0) continue;
    const set = space.inspect(id).set;
    if (set !== null) claims[set]!++; // a claim on a free id is reported by checkShadowClaims
  }
  let apart = 0;
  for (let set = 0; set < g.maxSets; set++)
    apart += Math.abs(Atomics.load(w, shadowSetBase(g, set)) - claims[set]!);
  if (apart > deaths.kills)
    leak(
      `shadow live counts differ from the shadow claims by ${apart} in all, with ${deaths.kills} CPUs killed`,
      apart - deaths.kills,
    );
}

/**
 * Free the ids killed CPUs left live in every set, drop their references, and destroy the
 * scratch sets they left; check that no more is left than they could have left. Returns the
 * ids reclaimed.
 */
function recoverWhatKilledCpusLeft(
  space: IoasidSpace,
  sets: number[],
  g: RunGeometry,
  deaths: Deaths,
  leak: Leak,
): Set<number> {
  const recovered = new Set<number>();
  let unknownSets = 0;
  for (let set = 0; set < g.maxSets; set++) {
    const info = space.setInfo(set);
    if (!info) continue;
    // Any set but the shared ones is a killed CPU's scratch set (a live CPU destroys its own
    // before it returns), created with SCRATCH_QUOTA: one it owned when it died, or one its
    // setAlloc created as it died (cpu-loop.ts "Kill safety").
    const scratch = !sets.includes(set);
    if (scratch) {
      if (!deaths.scratchSets.has(set)) unknownSets++;
      if (info.quota !== SCRATCH_QUOTA)
        leak(`set ${set} is neither shared nor a scratch set (quota ${info.quota})`, 1, set);
    }
    dropEveryReference(space, set, recovered);
    // A free-pending scratch set is destroyed with its last id.
    if (!space.setInfo(set)) continue;
    const n = space.freeAllInSet(set);
    if (n !== 0)
      leak(`freeAllInSet(${set}) found ${n} ids after every reference was dropped`, n, set);
    if (!scratch) continue;
    const r = space.setFree(set);
    if (r !== 0) leak(`setFree(${set}) of a killed CPU's empty scratch set returned ${r}`, 1, set);
  }
  if (recovered.size > deaths.heldBound)
    leak(
      `${recovered.size} ids still live after the CPUs returned theirs (killed CPUs could hold at most ${deaths.heldBound})`,
      recovered.size - deaths.heldBound,
    );
  if (unknownSets > deaths.diedCreating)
    leak(
      `${unknownSets} sets left that no killed CPU owned, but only ${deaths.diedCreating} died inside setAlloc`,
      unknownSets - deaths.diedCreating,
    );
  return recovered;
}

/**
 * A shadow claim left can only be a killed CPU's, on an id it still held (so one recovered at
 * the end): claims are made after alloc returned the id and released before the call that
 * reclaims it (cpu-loop.ts "Kill safety"). Not the converse, which is not sound: a killed CPU
 * may leave live ids unclaimed (cut between alloc and its claim, or after the releases of a
 * freeAllInSet); those are bounded by deaths.heldBound instead.
 */
function checkShadowClaims(
  w: Int32Array<SharedArrayBuffer>,
  g: RunGeometry,
  recovered: Set<number>,
  deaths: Deaths,
  leak: Leak,
): void {
  let shadowLeft = 0;
  let firstStray = 0;
  for (let id = 1; id < 2 ** g.pasidBits; id++) {
    const owner = Atomics.load(w, shadowOwnerBase(g) + id);
    if (owner === 0) continue;
    shadowLeft++;
    if (firstStray === 0 && (!recovered.has(id) || !deaths.cpus.has(owner - 1))) firstStray = id;
  }
  if (firstStray !== 0)
    leak(
      `shadow claim on id ${firstStray} by CPU ${Atomics.load(w, shadowOwnerBase(g) + firstStray) - 1}, ` +
        `not a killed CPU's id recovered at the end (${shadowLeft} claims left, ${recovered.size} ids recovered)`,
      1,
      -1,
      firstStray,
    );
}

/**
 * What a release path does for a dead owner (VFIO closing a dead VM's fd): free every id of
 * `set` and put every reference the dead holder still had, so free-pending ids are reclaimed.
 * Adds each id it reclaimed to `reclaimed`.
 */
function dropEveryReference(space: IoasidSpace, set: number, reclaimed: Set<number>): void {
  const ids: number[] = [];
  space.setForEachIoasid(set, (id) => ids.push(id));
  for (const id of ids) {
    const state = space.inspect(id).state;
    if (state === 'idle' || state === 'active') {
      if (space.inspect(id).refs === 1) {
        if (space.free(set, id) === 0) reclaimed.add(id);
        continue;
      }
      space.free(set, id);
    }
    while (space.inspect(id).state === 'free-pending')
      if (space.put(set, id) === 1) reclaimed.add(id);
  }
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
