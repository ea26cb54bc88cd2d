/**
 * The fleet of a stress run: the CPUs (a piscina pool running stress/cpu/cpu-worker.ts),
 * started, killed wherever they are and replaced, and finally stopped; with what each kill
 * left for the end-of-run verification to account for.
 *
 * ## Developer notes
 * A kill needs no handshake with its CPU: the CPU may be inside any operation, holding the
 * set or SPID lock, leading a grace period or inside a read-side section (cpu-view.ts "Kill
 * safety"). The only wait is for its task to have published its Rcu slot and threadId
 * (STATUS_RUNNING), so that the kill and `releaseThread` name this task's thread and not its
 * predecessor's. One kill in three is aimed at the set lock, the SPID lock or GP_LOCK; the
 * CPU may leave it before the kill lands, so where it really died is read after its exit.
 */
import type { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import type { CpuTaskResult } from '../src/workers/cpu-task.js';
import { CpuPool } from '../src/workers/pool.js';
import type { Prng } from '../src/workers/prng.js';
import {
  CPU_PARKED,
  CPU_PHASE,
  CPU_PHASES,
  CPU_RCU_SLOT,
  CPU_STATUS,
  CPU_THREAD,
  type CpuGeometry,
  cpuBase,
  STATUS_DEAD,
  STATUS_IDLE,
  STATUS_RUNNING,
} from '../src/workers/run-layout.js';
import { untilStarted } from '../src/workers/start-wait.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { CPU_HELD, CPU_SCRATCH, cpuOracleBase, SCRATCH_CREATING } from './check/check-layout.js';
import type { StressCpuPlan } from './cpu/cpu-worker.js';
import type { DeathPlace, KillSites, RunEvent } from './facts.js';
import { settleKilledFreer, settleKilledReader } from './notify/verify-events.js';
import {
  CRITICAL_SECTIONS,
  type CriticalSection,
  type DeathSite,
  type SpaceProbe,
} from './space-probe.js';
import { sleep, withTimeout } from './timers.js';

/** What the end-of-run verification needs to know about the CPUs that were killed. */
export interface Deaths {
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

/** How long an aimed kill waits for its CPU to hold a space lock or GP_LOCK. */
const AIM_MS = 20;
/** Polls (5 ms apart) for a CPU's task to publish its Rcu slot and threadId before a kill. */
const START_POLLS = 400;
const TASK_MODULE = workerModuleUrl(import.meta.url, './cpu/cpu-worker.js');

/** The CPUs of one run. */
export class Fleet {
  readonly #pool: CpuPool<StressCpuPlan>;
  readonly #space: IoasidSpace;
  readonly #probe: SpaceProbe;
  readonly #run: Int32Array<SharedArrayBuffer>;
  readonly #check: Int32Array<SharedArrayBuffer>;
  readonly #g: CpuGeometry;
  readonly #planFor: (cpu: number, generation: number) => StressCpuPlan;
  readonly #alive: boolean[];
  /** The plan of each CPU's current task. */
  readonly #plans: StressCpuPlan[] = [];
  readonly #tasks = new Map<number, Promise<void>>();
  readonly #killing = new Set<number>();
  #generation = 0;
  /** How many CPUs are running: one word the checker thread reads. */
  readonly running = new Int32Array(new SharedArrayBuffer(4));
  /** Crashes and CPUs that did not stop: any of them fails the run. */
  readonly problems: string[] = [];
  readonly deaths: Deaths = {
    kills: 0,
    heldBound: 0,
    cpus: new Set(),
    scratchSets: new Set(),
    diedCreating: 0,
  };
  readonly killSites: KillSites = {
    aimed: 0,
    setLock: 0,
    spidLock: 0,
    gracePeriod: 0,
    readSection: 0,
    halfDone: 0,
  };

  /**
   * @param space - the space the CPUs attach
   * @param probe - reads where a killed CPU died
   * @param run - the run buffer
   * @param check - the check buffer
   * @param g - the run's geometry
   * @param planFor - the plan of CPU `cpu`'s `generation`-th task
   *
   * Context: main thread; starts the worker threads (not their tasks).
   */
  constructor(
    space: IoasidSpace,
    probe: SpaceProbe,
    run: SharedArrayBuffer,
    check: SharedArrayBuffer,
    g: CpuGeometry,
    planFor: (cpu: number, generation: number) => StressCpuPlan,
  ) {
    this.#pool = new CpuPool(g.cpus, TASK_MODULE);
    this.#space = space;
    this.#probe = probe;
    this.#run = new Int32Array(run);
    this.#check = new Int32Array(check);
    this.#g = g;
    this.#planFor = planFor;
    this.#alive = new Array<boolean>(g.cpus).fill(false);
  }

  /**
   * Start a task on every CPU.
   *
   * @returns nothing
   */
  startAll(): void {
    for (let cpu = 0; cpu < this.#g.cpus; cpu++) this.#start(cpu);
  }

  /**
   * Wait until every CPU's first task runs (STATUS_RUNNING), so that a run's `--seconds`
   * are seconds of work: on a loaded machine, starting the worker threads and loading their
   * modules can take longer than a short run (a 2 s run once did no operation at all).
   * A crash, an abort or a CPU still not started after `START_WAIT_MS` ends the wait (the
   * crash is already in `problems`; a CPU that does not start is added there).
   *
   * @param signal - ends the wait early (the run is being interrupted)
   *
   * Context: main thread, after `startAll`.
   * @returns nothing
   */
  async started(signal?: AbortSignal): Promise<void> {
    // IDLE until the task's STATUS_RUNNING store (it may be DONE or DEAD already).
    const problem = await untilStarted({
      count: this.#g.cpus,
      started: (cpu) => Atomics.load(this.#run, cpuBase(this.#g, cpu) + CPU_STATUS) !== STATUS_IDLE,
      failed: () => this.problems.length > 0,
      signal,
      name: (cpu) => `cpu ${cpu}`,
    });
    if (problem) this.problems.push(problem);
  }

  #start(cpu: number): void {
    const plan = this.#planFor(cpu, this.#generation++);
    this.#plans[cpu] = plan;
    this.#alive[cpu] = true;
    Atomics.add(this.running, 0, 1);
    const task = this.#pool
      .run({
        space: this.#space.handle,
        run: this.#run.buffer,
        geometry: this.#g,
        cpu,
        plan,
      })
      .then((_r: CpuTaskResult) => undefined)
      .catch((err: Error) => {
        if (!this.#killing.has(cpu)) this.problems.push(`cpu ${cpu} crashed: ${err.message}`);
      })
      .finally(() => {
        this.#alive[cpu] = false;
        Atomics.sub(this.running, 0, 1);
      });
    this.#tasks.set(cpu, task);
  }

  /**
   * Kill CPU `cpu` wherever it is, recover what it held, and start a fresh CPU in its place.
   *
   * @param cpu - which CPU
   * @param rng - the harness's PRNG (whether and where to aim)
   * @param t - seconds since the start (for the event)
   *
   * Context: main thread; awaits the thread's exit.
   * @returns the kill's event, or undefined when the CPU was still starting (no kill)
   */
  async kill(cpu: number, rng: Prng, t: number): Promise<RunEvent | undefined> {
    const run = this.#run;
    const base = cpuBase(this.#g, cpu);
    for (let i = 0; i < START_POLLS && Atomics.load(run, base + CPU_STATUS) !== STATUS_RUNNING; i++)
      await sleep(5);
    // Pairs with the task's STATUS_RUNNING store, which follows those of RCU_SLOT and THREAD.
    if (Atomics.load(run, base + CPU_STATUS) !== STATUS_RUNNING) return undefined;
    const slot = Atomics.load(run, base + CPU_RCU_SLOT);
    const threadId = Atomics.load(run, base + CPU_THREAD);
    let aimedAt: CriticalSection | undefined;
    if (rng.below(3) === 0) aimedAt = CRITICAL_SECTIONS[rng.below(CRITICAL_SECTIONS.length)]!;
    const aim = aimedAt && (() => aimAt(this.#probe, aimedAt, slot, threadId));
    this.#killing.add(cpu);
    const killed = await this.#pool.kill(cpu, threadId, aim);
    if (!killed) {
      // Never expected: STATUS_RUNNING says this thread runs the task. Releasing its slot
      // without a kill would break a live thread, so stop the run instead.
      this.#killing.delete(cpu);
      this.problems.push(`cpu ${cpu}: no worker with threadId ${threadId} to kill`);
      return undefined;
    }
    await this.#tasks.get(cpu);
    this.#killing.delete(cpu);
    const d = this.deaths;
    d.kills++;
    d.cpus.add(cpu);
    if (aimedAt) this.killSites.aimed++;
    // The thread has exited: where it died is exact until releaseThread (space-probe.ts).
    const site = this.#probe.deathSite(slot, threadId);
    const diedIn: DeathPlace[] = [];
    for (const k of Object.keys(site) as (keyof DeathSite)[])
      if (site[k]) {
        this.killSites[k]++;
        diedIn.push(k);
      }
    if (diedIn.length === 0) diedIn.push('elsewhere');
    const oracle = cpuOracleBase(cpu);
    const held = Atomics.load(this.#check, oracle + CPU_HELD);
    const plan = this.#plans[cpu]!;
    if (plan.role === 'ops') d.heldBound += held + 1; // + an alloc in flight
    const scratch = Atomics.load(this.#check, oracle + CPU_SCRATCH);
    if (scratch === SCRATCH_CREATING) d.diedCreating++;
    else if (scratch > 0) d.scratchSets.add(scratch - 1);
    // The dead thread's RCU slot (and a grace period it led), its private record batch, a
    // set or SPID lock it held and any half-done alloc, reclaim or setAlloc: the space
    // recovers them all. Its ids stay live until the end (verify-at-end.ts).
    this.#space.releaseThread(slot);
    // What it published half way about the event streams (stress/notify/verify-events.ts).
    const cg = plan.checkGeometry;
    if (plan.role === 'subscriber')
      settleKilledReader(this.#check, cg, plan.subscriptions, plan.reader, this.#probe);
    else if ((cg.subs ?? 0) > 0) settleKilledFreer(this.#space, this.#check, cg, cpu);
    Atomics.store(run, base + CPU_PARKED, 0);
    Atomics.store(this.#check, oracle + CPU_SCRATCH, 0);
    Atomics.store(this.#check, oracle + CPU_HELD, 0);
    Atomics.store(run, base + CPU_STATUS, STATUS_DEAD);
    this.#start(cpu); // the scenario goes on with a fresh CPU in its place
    return { t, kind: 'kill', cpu, aimedAt, diedIn, held };
  }

  /**
   * Wait for every CPU's task to return (after the harness stored STATE_STOP).
   *
   * @param ms - how long to wait
   *
   * Context: main thread.
   * @returns true when all returned; otherwise each CPU still running is a problem
   */
  async stopped(ms: number): Promise<boolean> {
    const ok = await withTimeout(Promise.all(this.#tasks.values()), ms);
    if (!ok)
      for (let c = 0; c < this.#g.cpus; c++)
        if (this.#alive[c])
          this.problems.push(
            `CPU ${c} did not stop within ${ms / 1000} s: it is ` +
              `${CPU_PHASES[Atomics.load(this.#run, cpuBase(this.#g, c) + CPU_PHASE)]}`,
          );
    return ok;
  }

  /**
   * Stop the worker threads.
   *
   * @returns when they are gone
   */
  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
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
