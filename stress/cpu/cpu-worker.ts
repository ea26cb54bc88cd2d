/**
 * The piscina task module of a stress CPU: a CpuLoop (src/workers) over the stress
 * operations (stress/ops), on a CpuView that keeps the shadow oracle, run until the harness
 * stops it; then the CPU gives back what it holds. Nothing crosses postMessage while it runs.
 */
import { CpuLoop } from '../../src/workers/cpu-loop.js';
import { type CpuTask, type CpuTaskResult, runCpuTask } from '../../src/workers/cpu-task.js';
import { OpLog } from '../../src/workers/op-log.js';
import { Prng } from '../../src/workers/prng.js';
import { CPU_PHASE, cpuBase, PHASE_RELEASING } from '../../src/workers/run-layout.js';
import { brokenTwin } from '../broken-twins.js';
import type { CheckGeometry } from '../check/check-layout.js';
import { SpaceProbe } from '../space-probe.js';
import { cpuOps } from './cpu-ops.js';
import { CpuView } from './cpu-view.js';

/** What a stress CPU is told for one run (CpuTask.plan). Structured-cloneable. */
export interface StressCpuPlan {
  seed: number;
  /** Distinct per task (a replacement CPU gets a new one), so SPIDs never collide with a dead CPU's. */
  generation: number;
  /** Weight of each op, in STRESS_OPS order. */
  mix: number[];
  /** Shared sets (never destroyed during the run). */
  sets: number[];
  idMin: number;
  idMax: number;
  maxSets: number;
  maxHeld: number;
  scratchQuota: number;
  getterSleepOneIn: number;
  check: SharedArrayBuffer;
  checkGeometry: CheckGeometry;
  /** The run's broken twin, if it is one (stress/broken-twins.ts). */
  broken: string | undefined;
}

/**
 * Run one stress CPU until the harness stops it.
 *
 * @param task - the space, the run buffer and the plan
 *
 * Context: a pool worker thread; blocks for the whole run.
 * @returns its operation count
 */
export default function runStressCpu(task: CpuTask<StressCpuPlan>): CpuTaskResult {
  return runCpuTask(task, (space) => {
    const p = task.plan;
    const rng = new Prng(p.seed, task.cpu);
    const view = new CpuView(
      {
        complete: false,
        cpu: task.cpu,
        generation: p.generation,
        rng,
        idMin: p.idMin,
        idMax: p.idMax,
        maxSets: p.maxSets,
        capacity: space.capacity(),
        cyclic: false,
        shared: p.sets,
        subRangeOneIn: 0,
        maxHeld: p.maxHeld,
        scratchQuota: p.scratchQuota,
        getterSleepOneIn: p.getterSleepOneIn,
      },
      p.check,
      p.checkGeometry,
      new OpLog(task.run, task.geometry, task.cpu),
      new SpaceProbe(space),
    );
    const twin = brokenTwin(p.broken);
    const api = twin?.double ? twin.double(space, new Prng(p.seed, 1000 + task.cpu)) : space;
    const loop = new CpuLoop(cpuOps(api), view, rng, task.run, task.geometry, {
      cpu: task.cpu,
      mix: p.mix,
      rcu: space.rcu,
    });
    const ops = loop.run();
    Atomics.store(
      new Int32Array(task.run),
      cpuBase(task.geometry, task.cpu) + CPU_PHASE,
      PHASE_RELEASING,
    );
    view.releaseAll(api);
    loop.flush();
    return ops;
  });
}
