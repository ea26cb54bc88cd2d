/**
 * A threaded model run: the platform's actors on real worker threads (one per CPU hosting
 * its processes, one IOMMU engine, one device engine per PF, the PRQ thread with the IOMMU
 * driver's workqueue) and a checker thread reading the event log, steered from the main
 * thread through a control buffer (hw-fleet-layout.ts): periodic pauses for quiescent scans,
 * stutter, kills of CPU workers with recovery, then a wind-down (every process exits, the
 * engines drain) and the end checks.
 *
 * ```ts
 * const r = await runThreaded({ scenario: 'host-sva', seed: 7, seconds: 5 });
 * r.verdict; r.invariants; r.hardware;
 * ```
 *
 * ## Developer notes
 * Plain `worker_threads` workers, one long-lived task each: a kill is `terminate()`, the
 * recovery runs once 'exit' fired, and a replacement worker takes the same processes (which
 * the reaper has just exited, so they start as new mms). piscina's queueing would add nothing
 * here; the stress harness's CPU pool keeps it for its many short tasks.
 * Kills take CPU workers (kill-cpu), a guest's thread (kill-vcpu) or the VMMs' (kill-vmm),
 * never the engines: they stand for hardware and kernel threads, which a process's death
 * does not stop. A VM that loses a thread is destroyed as a crash (vm-recovery.ts) and its
 * VMM boots it again. The main thread is attached too (row 0): it reaps dead
 * processes and reads the counters at the end.
 */
import { Worker } from 'node:worker_threads';
import { WORD_BYTES } from '../core/cache-line.js';
import { IoasidSpace } from '../core/ioasid/ioasid-space.js';
import type { ActorSet } from '../hw-model/actors/fleet.js';
import { effectiveScenario } from '../hw-model/deterministic.js';
import { Platform } from '../hw-model/platform.js';
import { busyParts } from '../hw-model/quiesce.js';
import { ModelRng } from '../hw-model/rng.js';
import {
  type ModelRunConfig,
  type ModelRunResult,
  threadedReplayCommand,
} from '../hw-model/run-result.js';
import { reapVms, recoveryLockWait } from '../hw-model/vm-recovery.js';
import type { HwWorkerData } from './hw-actor-worker.js';
import type { HwCheckerData, HwCheckerReport } from './hw-checker-worker.js';
import {
  F_CHECK_DONE,
  F_CHECK_REQ,
  F_CHECKER_READY,
  F_END_REQ,
  F_STATE,
  F_VIOLATIONS,
  F_VMS_IDLE,
  FS_FINISH,
  FS_PAUSE,
  FS_RUN,
  FS_STOP,
  fleetWords,
  W_GUEST_RCU_SLOT,
  W_ITERS,
  W_PARKED,
  W_QUIET,
  W_RCU_SLOT,
  W_ROW,
  W_STATUS,
  W_STEPS,
  W_STUTTER,
  WS_RUNNING,
  workerSlot,
} from './hw-fleet-layout.js';
import { untilStarted } from './start-wait.js';
import { vmLifecycle } from './vm-debug.js';
import { recoveryMark } from './vm-recovery-progress.js';
import { workerModuleUrl } from './worker-url.js';

const EPOCH_MS = 100;
const CHECK_EVERY_MS = 1000;
const KILL_EVERY_MS = 700;
/** A bound on a wind-down that keeps making progress (a livelock), not on a slow one. */
const WIND_DOWN_MS = 60_000;
/**
 * A stuck wind-down: no progress while every worker ran this many loop iterations (it looked
 * at all its actors that often and found nothing to do). Judged by iterations, not by time:
 * on a loaded machine a worker may not run for seconds, and the teardown it owes is then
 * slow, not stuck.
 */
const STALL_ITERS = 8 * 256;
/** untilEveryVmWorked: the least work (worker steps) it waits for the VMs before giving up. */
const MIN_WORK_STEPS = 200_000;
/** untilEveryVmWorked: the most work it waits, in bounds, however the teardowns advance. */
const HARD_CAP_BOUNDS = 20;

interface Hosted {
  worker: Worker;
  index: number;
  set: ActorSet;
  exited: Promise<void>;
  generation: number;
  /** Its thread exited ('exit' fired): a lock it holds is never given back. */
  gone: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Run a scenario on worker threads.
 *
 * Context: the main thread (or any thread with an event loop); resolves after the run's
 * wind-down; never rejects for a broken model: the verdict says it.
 * @returns the run's result
 */
export async function runThreaded(cfg: ModelRunConfig): Promise<ModelRunResult> {
  const sc = effectiveScenario(cfg);
  const t0 = Date.now();
  const platform = Platform.create(sc.profile);
  const hw = platform.context;
  const processes = hw.g.shape.processes;
  const npf = hw.g.pf.length;
  const vms = hw.g.shape.vm.vms;
  const cpus = sc.faults.includes('oversubscribe') ? 2 * sc.cpus : sc.cpus;
  const sets: ActorSet[] = [];
  for (let c = 0; c < cpus; c++)
    sets.push({
      pids: [...Array(processes).keys()].filter((p) => p % cpus === c),
      iommu: false,
      devices: [],
      prq: false,
      workqueue: false,
    });
  sets.push({ pids: [], iommu: true, devices: [], prq: false, workqueue: false });
  for (let pf = 0; pf < npf; pf++)
    sets.push({ pids: [], iommu: false, devices: [pf], prq: false, workqueue: false });
  sets.push({ pids: [], iommu: false, devices: [], prq: true, workqueue: true });
  // Each VM's guest (its processes and vCPUs) on a thread of its own, and the VMMs with the
  // VMs' host kernels on one more (the host's QEMUs and kworkers). kill-cpu picks among the
  // host's CPU workers; kill-vcpu and kill-vmm among these (the VM is destroyed as a crash).
  for (let vm = 0; vm < vms; vm++)
    sets.push({ pids: [], iommu: false, devices: [], prq: false, workqueue: false, guests: [vm] });
  if (vms > 0)
    sets.push({
      pids: [],
      iommu: false,
      devices: [],
      prq: false,
      workqueue: false,
      vmms: [...Array(vms).keys()],
    });
  const control = new SharedArrayBuffer(fleetWords(sets.length) * WORD_BYTES);
  const ctl = new Int32Array(control);
  const replay = threadedReplayCommand(cfg);

  const checkerData: HwCheckerData = {
    platform: platform.handle,
    control,
    replay,
    livenessBound: cfg.livenessBound,
  };
  const checker = new Worker(workerModuleUrl(import.meta.url, './hw-checker-worker.js'), {
    workerData: checkerData,
  });
  const report = new Promise<HwCheckerReport>((resolve, reject) => {
    checker.once('message', resolve);
    checker.once('error', (e) => {
      console.error(`hw checker crashed: ${(e as Error).stack ?? e}`);
      reject(e);
    });
  });
  let crashed = false;
  checker.once('error', () => {
    crashed = true;
  });
  await started(1, () => Atomics.load(ctl, F_CHECKER_READY) === 1, 'the checker thread');

  /**
   * Wait for `count` threads to start (`is(i)`); a crash or one that never starts is an
   * internal error of the run (a signal ends the wait, the busy loop then stops at once).
   */
  async function started(count: number, is: (i: number) => boolean, what: string) {
    const problem = await untilStarted({
      count,
      started: is,
      failed: () => crashed,
      signal: cfg.signal,
      name: (i) => (count === 1 ? what : `${what} ${i}`),
    });
    if (problem || crashed) throw new Error(problem ?? `${what}: a thread crashed at start`);
  }

  const rng = new ModelRng(cfg.seed, 0xf1ee7);
  const hosted: Hosted[] = sets.map((set, index) => start(set, index, 0));
  function start(set: ActorSet, index: number, generation: number): Hosted {
    Atomics.store(ctl, workerSlot(index) + W_STATUS, 0);
    const data: HwWorkerData = {
      platform: platform.handle,
      control,
      index,
      set,
      scenario: sc,
      seed: cfg.seed,
      generation,
    };
    const worker = new Worker(workerModuleUrl(import.meta.url, './hw-actor-worker.js'), {
      workerData: data,
    });
    const exited = new Promise<void>((resolve) =>
      worker.once('exit', () => {
        h.gone = true;
        resolve();
      }),
    );
    worker.on('error', (e) => {
      crashed = true;
      console.error(`hw worker ${index} crashed: ${(e as Error).stack ?? e}`);
    });
    const h: Hosted = { worker, index, set, exited, generation, gone: false };
    return h;
  }
  const running = (h: Hosted) => Atomics.load(ctl, workerSlot(h.index) + W_STATUS) === WS_RUNNING;
  // The busy part's clock starts once every worker steps its actors (start-wait.ts).
  await started(hosted.length, (i) => running(hosted[i]!), 'hw worker');

  // Who kills may take: the host's CPU workers (kill-cpu), the guests' threads (kill-vcpu),
  // the VMMs' thread (kill-vmm).
  const victims = hosted
    .filter(
      (h) =>
        (sc.faults.includes('kill-cpu') && h.index < cpus) ||
        (sc.faults.includes('kill-vcpu') && (h.set.guests?.length ?? 0) > 0) ||
        (sc.faults.includes('kill-vmm') && (h.set.vmms?.length ?? 0) > 0),
    )
    .map((h) => h.index);
  // The main thread's attachments to the guest kernel spaces (a killed guest's slot there).
  const guestSpaces = new Map<number, IoasidSpace>();
  const guestSpace = (vm: number) => {
    let s = guestSpaces.get(vm);
    if (!s) {
      s = IoasidSpace.attach(platform.handle.guests[vm]!);
      guestSpaces.set(vm, s);
    }
    return s;
  };
  let kills = 0;
  let stutters = 0;
  const stop = cfg.stopOnViolation !== false;
  // The busy part is timed from here: starting the workers does not eat into it.
  const deadline = Date.now() + cfg.seconds * 1000;
  let lastCheck = Date.now();
  // The first kill comes half a period in, so every run of a few hundred ms has one.
  let lastKill = Date.now() - KILL_EVERY_MS / 2;
  const workerWord = (h: Hosted, f: number) => Atomics.load(ctl, workerSlot(h.index) + f);
  /** Steps all workers made (each flushes its count every 256 iterations). */
  const totalSteps = () => hosted.reduce((n, h) => n + workerWord(h, W_STEPS), 0);
  /**
   * The stall rule (STALL_ITERS): a function to call once per pass of a wait, true once every
   * worker ran STALL_ITERS loop iterations since the steps last moved, none making a step.
   */
  const stallWatch = (): (() => boolean) => {
    let lastSteps = -1;
    let itersAtChange: number[] = [];
    return () => {
      const s = totalSteps();
      if (s !== lastSteps) {
        lastSteps = s;
        itersAtChange = hosted.map((h) => workerWord(h, W_ITERS));
        return false;
      }
      return hosted.every(
        (h, i) => ((workerWord(h, W_ITERS) - itersAtChange[i]!) | 0) >= STALL_ITERS,
      );
    };
  };

  let interrupted: ModelRunResult['interrupted'] = null;
  // Past its time, the busy part goes on while the workers owe steps (cfg.minSteps), unless
  // none makes a step any more (the stall rule) or one crashed.
  const minSteps = cfg.minSteps ?? 0;
  const busyStalled = stallWatch();
  const timeLeft = () =>
    Date.now() < deadline || (totalSteps() < minSteps && !crashed && !busyStalled());
  while (timeLeft()) {
    await sleep(EPOCH_MS);
    if (stop && Atomics.load(ctl, F_VIOLATIONS) > 0) break;
    if (cfg.signal?.aborted) {
      interrupted = { signal: String(cfg.signal.reason), atSeconds: (Date.now() - t0) / 1000 };
      break;
    }
    if (sc.faults.includes('stutter')) {
      const h = hosted[rng.below(hosted.length)]!;
      Atomics.store(ctl, workerSlot(h.index) + W_STUTTER, 5 + rng.below(40));
      stutters++;
    }
    if (victims.length > 0 && Date.now() - lastKill >= KILL_EVERY_MS) {
      lastKill = Date.now();
      const victim = victims[rng.below(victims.length)]!;
      hosted[victim] = await kill(hosted[victim]!);
      kills++;
    }
    if (Date.now() - lastCheck >= CHECK_EVERY_MS) {
      lastCheck = Date.now();
      await quiescentCheck();
    }
  }

  // A run asked to kill kills, even when a loaded machine's late wake-ups left no kill in its
  // time (the first comes due KILL_EVERY_MS / 2 in): one now, as steering.ts does for the
  // stress run.
  const caught = stop && Atomics.load(ctl, F_VIOLATIONS) > 0;
  if (kills === 0 && victims.length > 0 && interrupted === null && !caught && !crashed) {
    const victim = victims[rng.below(victims.length)]!;
    hosted[victim] = await kill(hosted[victim]!);
    kills++;
  }

  async function kill(h: Hosted): Promise<Hosted> {
    // A replacement may still be starting: its ROW and RCU_SLOT are published with RUNNING.
    await started(1, () => running(h), `hw worker ${h.index}`);
    const row = Atomics.load(ctl, workerSlot(h.index) + W_ROW);
    const rcuSlot = Atomics.load(ctl, workerSlot(h.index) + W_RCU_SLOT);
    const guestSlot = Atomics.load(ctl, workerSlot(h.index) + W_GUEST_RCU_SLOT);
    await h.worker.terminate();
    await h.exited;
    hw.log.actor = 0;
    // A VM's thread: the VM goes first (marked dying before the dead thread's locks break).
    // The reaper's VM locks are taken over from any thread that exited (a crashed worker's
    // too, which nobody reaps) and waited for, within a bound, from a live one.
    const wait = recoveryLockWait(hw, row + 1, (holder) =>
      hosted.some((x) => x.gone && Atomics.load(ctl, workerSlot(x.index) + W_ROW) + 1 === holder),
    );
    if (process.env.IOASID_DEBUG_KILLS)
      wait.tookOver = (word, holder) => console.error(`lock ${word} taken over from ${holder}`);
    if (h.set.guests?.length) reapVms(hw, h.set.guests, row + 1, false, wait);
    if (h.set.vmms?.length) reapVms(hw, h.set.vmms, row + 1, true, wait);
    if (process.env.IOASID_DEBUG_KILLS)
      console.error(`kill worker ${h.index}`, h.set, vmLifecycle(hw));
    platform.releaseThread(row, rcuSlot);
    for (const vm of h.set.guests ?? [])
      if (guestSlot >= 0) guestSpace(vm).releaseThread(guestSlot);
    for (const pid of h.set.pids) platform.reapProcess(pid);
    return start(h.set, h.index, h.generation + 1);
  }

  async function quiescentCheck(): Promise<void> {
    Atomics.store(ctl, F_STATE, FS_PAUSE);
    const t = Date.now();
    while (
      !hosted.every((h) => Atomics.load(ctl, workerSlot(h.index) + W_PARKED) === 1) &&
      Date.now() - t < 5000
    )
      await sleep(1);
    const req = Atomics.add(ctl, F_CHECK_REQ, 1) + 1;
    // A crashed checker never answers: the run ends (its report's promise rejects).
    while (Atomics.load(ctl, F_CHECK_DONE) < req && !crashed) await sleep(1);
    Atomics.store(ctl, F_STATE, FS_RUN);
    Atomics.notify(ctl, F_STATE);
  }

  let vmsIdleAtBusyEnd: number | undefined;
  if (cfg.untilEveryVmWorked) {
    if (interrupted === null) await untilEveryVmWorked();
    vmsIdleAtBusyEnd = Atomics.load(ctl, F_VMS_IDLE);
    if (process.env.IOASID_DEBUG_KILLS && vmsIdleAtBusyEnd > 0) console.error(vmLifecycle(hw));
  }

  /**
   * No more kills; run on until every VM submitted in its current life, bounded by work, not
   * by time: on a loaded machine a VM that spent the busy part in destroys may not have got
   * going yet. The bound (as many worker steps again as the busy part made, at least
   * MIN_WORK_STEPS) restarts whenever a VM that is not running moved on (recoveryMark: its
   * teardown finished work items, or it changed state): a vm-crash teardown of hundreds of
   * PASIDs runs thousands of kernel work items behind device drains and IOTLB flushes. A
   * hard cap (HARD_CAP_BOUNDS bounds in all) ends the wait even then: a run must end. The
   * bounds count steps, so a platform where no worker makes a step any more (every worker
   * kept looking at its actors: the wind-down's stall rule) or a crashed thread ends it too.
   */
  async function untilEveryVmWorked(): Promise<void> {
    const start = totalSteps();
    const bound = Math.max(start, MIN_WORK_STEPS);
    let base = start;
    let mark = recoveryMark(hw);
    const stalled = stallWatch();
    while (Atomics.load(ctl, F_VMS_IDLE) > 0 && totalSteps() - base < bound) {
      if (crashed || (stop && Atomics.load(ctl, F_VIOLATIONS) > 0)) return;
      if (cfg.signal?.aborted) {
        interrupted = { signal: String(cfg.signal.reason), atSeconds: (Date.now() - t0) / 1000 };
        return;
      }
      if (totalSteps() - start >= HARD_CAP_BOUNDS * bound) return;
      await sleep(EPOCH_MS);
      const now = recoveryMark(hw);
      if (now !== mark) {
        mark = now;
        base = totalSteps();
      }
      if (Date.now() - lastCheck >= CHECK_EVERY_MS) {
        lastCheck = Date.now();
        await quiescentCheck();
      }
      if (stalled()) return;
    }
  }

  const early = stop && Atomics.load(ctl, F_VIOLATIONS) > 0;
  let leftBusy: string[] = [];
  if (!early) {
    Atomics.store(ctl, F_STATE, FS_FINISH);
    Atomics.notify(ctl, F_STATE);
    const t = Date.now();
    const stalled = stallWatch();
    for (;;) {
      await sleep(10);
      const quiet = hosted.every((h) => workerWord(h, W_QUIET) === 1);
      leftBusy = busyParts(hw);
      if ((quiet && leftBusy.length === 0) || Date.now() - t > WIND_DOWN_MS) break;
      if (stop && Atomics.load(ctl, F_VIOLATIONS) > 0) break;
      // Stuck (every worker kept looking and none made progress): leave what is left to the
      // end checks.
      if (stalled()) break;
    }
  }
  Atomics.store(ctl, F_STATE, FS_STOP);
  Atomics.notify(ctl, F_STATE);
  await Promise.all(hosted.map((h) => h.exited));
  const steps = totalSteps();
  const rested = !early && Atomics.load(ctl, F_VIOLATIONS) === 0;
  Atomics.store(ctl, F_END_REQ, rested ? 1 : 2);
  const r = await report;
  await checker.terminate();
  const hardware = platform.counters();
  cfg.atEnd?.(platform);
  for (const s of guestSpaces.values()) s.detach();
  platform.detach();
  return {
    scenario: cfg.scenario,
    mode: 'threads',
    seed: cfg.seed,
    mutation: cfg.mutation,
    verdict: r.violationCount === 0 ? 'pass' : 'fail',
    steps,
    busySteps: 0,
    interrupted,
    events: r.events,
    elapsedSeconds: (Date.now() - t0) / 1000,
    invariants: r.invariants,
    violations: r.violationCount,
    firstViolation: r.first,
    hardware,
    timelines: r.timelines,
    vms: r.vms,
    refWalk: r.refWalk,
    vmsIdleAtBusyEnd,
    kills,
    stutters,
    leftBusy,
    replay,
  };
}
