/**
 * The piscina task module of a stress CPU. Its role is chosen per task, from its plan:
 * - 'ops': a CpuLoop (src/workers) over the stress operations (stress/ops), on a CpuView that
 *   keeps the shadow oracle, run until the harness stops it; then the CPU gives back what it
 *   holds. With a custom allocator, the CPU registers its own member of the host's group
 *   (on its own mailbox to the hypervisor thread) first and unregisters it last.
 * - 'subscriber': it reads notifier subscriptions and checks their streams
 *   (subscriber-cpu.ts).
 * Nothing crosses postMessage while it runs.
 */
import { CpuLoop } from '../../src/workers/cpu-loop.js';
import { type CpuTask, type CpuTaskResult, runCpuTask } from '../../src/workers/cpu-task.js';
import { OpLog } from '../../src/workers/op-log.js';
import { Prng } from '../../src/workers/prng.js';
import { CPU_PHASE, cpuBase, PHASE_RELEASING } from '../../src/workers/run-layout.js';
import { slowStartForTests } from '../../src/workers/start-wait.js';
import { brokenTwin } from '../broken-twins.js';
import type { CheckGeometry } from '../check/check-layout.js';
import { CustomHost, HOST_GROUP } from '../custom-host.js';
import type { Subscription } from '../notify/subscriptions.js';
import { SpaceProbe } from '../space-probe.js';
import { cpuOps } from './cpu-ops.js';
import { CpuView } from './cpu-view.js';
import { runSubscriberCpu } from './subscriber-cpu.js';

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
  /** What this task does: run operations, or read notifier subscriptions. */
  role: 'ops' | 'subscriber';
  /** The run's subscriptions (empty without subscriber CPUs). */
  subscriptions: Subscription[];
  /** A subscriber CPU's reader index: it reads the subscriptions dealt to it. */
  reader: number;
  /** This task replaces a killed one. */
  replacement: boolean;
  /** The custom allocator host's buffer (`--custom-allocator`), or undefined. */
  customHost: SharedArrayBuffer | undefined;
}

/**
 * Run one stress CPU until the harness stops it.
 *
 * @param task - the space, the run buffer and the plan
 *
 * Context: a pool worker thread; blocks for the whole run.
 * @returns its operation count
 */
// A loaded machine's slow module load, on demand (IOASID_SLOW_START_MS; start-wait.ts).
slowStartForTests();

export default function runStressCpu(task: CpuTask<StressCpuPlan>): CpuTaskResult {
  return runCpuTask(task, (space) => {
    const p = task.plan;
    if (p.role === 'subscriber') return runSubscriberCpu(task, space);
    const rng = new Prng(p.seed, task.cpu);
    const host = p.customHost && new CustomHost(p.customHost);
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
        customAllocator: host !== undefined,
      },
      p.check,
      p.checkGeometry,
      new OpLog(task.run, task.geometry, task.cpu),
      new SpaceProbe(space),
      host,
    );
    const twin = brokenTwin(p.broken);
    const api = twin?.double ? twin.double(space, new Prng(p.seed, 1000 + task.cpu)) : space;
    const mine = host?.ops(task.cpu); // CPU k calls through mailbox k
    const member = mine && (twin?.hostDouble?.(mine) ?? mine);
    if (member) expectMember(view, space.registerAllocator(member), 'registerAllocator');
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
    // The harness keeps a member of the group: this one is never the last (no -EBUSY).
    if (member) expectMember(view, space.unregisterAllocator(member), 'unregisterAllocator');
    loop.flush();
    return ops;
  });
}

/** A CPU's registration or unregistration of its member must return 0. */
function expectMember(view: CpuView, r: number, call: string): void {
  if (r !== 0)
    view.breach(
      call,
      {
        kind: 'bad-result',
        why: `${call} of this CPU's member of group '${HOST_GROUP}' returned ${r}, not 0`,
      },
      null,
      null,
    );
}
