/**
 * Run one workload on N worker threads at once and measure its throughput.
 *
 * Every worker warms up, arrives at a SharedArrayBuffer barrier and sleeps on the start
 * word; the main thread releases them all with one store + notify, lets them run for a fixed
 * time, then raises the stop word. Each worker counts the operations it completed between
 * its own start and stop timestamps (`process.hrtime`, one monotonic clock for all threads)
 * and posts them. Throughput = total ops / (last stop - first start).
 *
 * Each worker also reads its own thread's CPU time and run-queue wait (Linux
 * /proc/thread-self/schedstat) around the timed loop. Operations per CPU-second do not depend
 * on how much of the machine other processes take: per-CPU-second throughput at N CPUs over
 * that at 1 CPU is the code's own scaling efficiency (1.0: two CPUs running at once slow
 * each other down not at all), and CPU time over wall time says how much CPU the workers got.
 *
 * The main thread never blocks while workers run (it polls and sleeps on the event loop), so
 * it can serve the postMessage baseline's requests at the same time.
 *
 * Control words (Int32Array over `ctrl`, one 64-byte line):
 *
 * ```text
 * word  name     writer              reader     access
 * 0     READY    workers (+1 each)   main       Atomics.add / load
 * 1     START    main (0 -> 1)       workers    Atomics.store + notify / wait
 * 2     STOP     main (0 -> 1)       workers    Atomics.store / load every chunk of ops
 * ```
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, type Transferable, Worker, workerData } from 'node:worker_threads';

const CTRL_READY = 0;
const CTRL_START = 1;
const CTRL_STOP = 2;
const CTRL_WORDS = 16;

/** What each worker posts when it is done. */
export interface WorkerReport {
  ops: number;
  /** hrtime ns (as a number; < 2^53 for centuries of uptime) */
  t0: number;
  t1: number;
  /** operations that returned an unexpected error (e.g. -ENOMEM) */
  fails: number;
  /** this thread's CPU time and run-queue wait between t0 and t1, ns (NaN: not on Linux) */
  cpuNs: number;
  runqNs: number;
  /** allocations that found no free record (-ENOMEM) and waited for a grace period */
  gpWaits?: number;
  /** ns per load+CAS on this thread's own line, probed next to the window (timed-loop.ts) */
  casNs?: number;
}

/** One measured run. */
export interface ParallelRun {
  cpus: number;
  ops: number;
  wallNs: number;
  opsPerSec: number;
  fails: number;
  /** allocations that found no free record and waited for a grace period, summed */
  gpWaits: number;
  /** the workers' CPU time, summed, ns (NaN where schedstat is missing) */
  cpuNs: number;
  /** operations per CPU-second of the workers' threads (NaN where schedstat is missing) */
  opsPerCpuSec: number;
  /** the workers' CPU time over wall time, summed: at most `cpus` */
  busy: number;
  /** the workers' run-queue wait over wall time, summed: CPU they wanted and did not get */
  runqWait: number;
  /**
   * ns per load+CAS on a worker's own line, probed by each worker next to its window, mean
   * over the workers (NaN: workers that do not probe). The machine's price of one locked op.
   */
  casNs: number;
  /** the workers' CPU time per operation over casNs: the operation in load+CAS units */
  opCas: number;
  /**
   * CPUs' worth of time, over the timed window (main thread's view: start store to last
   * report): this whole process (workers, main thread, V8's compiler and GC threads), and
   * the whole machine (every process, from /proc/stat) and its steal (time the hypervisor
   * gave to other guests). machine - process = other processes. NaN off Linux.
   */
  processBusy: number;
  machineBusy: number;
  steal: number;
  /** the workers missed the deadline and were terminated; the figures are 0 */
  hung: boolean;
}

/** Warm-up plus run must end within `ms` + this, or the run counts as hung. */
const DEADLINE_SLACK_MS = 20_000;

export interface WorkerInit {
  workerData: Record<string, unknown>;
  transferList?: Transferable[];
}

/**
 * Start `cpus` workers from `url`, run them together for `ms` milliseconds after the barrier.
 *
 * @param init - the workerData (and transfers) of worker `i`; `ctrl` is added to it
 */
export async function runParallel(
  url: URL,
  cpus: number,
  ms: number,
  init: (i: number) => WorkerInit,
): Promise<ParallelRun> {
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  let failed: Error | undefined;
  const workers: Worker[] = [];
  const reports = Array.from({ length: cpus }, (_, i) => {
    const { workerData: data, transferList } = init(i);
    const w = new Worker(url, { workerData: { ...data, ctrl: ctrl.buffer }, transferList });
    workers.push(w);
    return new Promise<WorkerReport>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', (e) => {
        failed = e;
        reject(e);
      });
      w.once('exit', (code) => reject(new Error(`bench worker exited with ${code} early`)));
    });
  });
  // Handled below through `failed` and Promise.all; avoid unhandled-rejection noise meanwhile.
  for (const r of reports) r.catch(() => {});
  // A watchdog, not a measurement: a run that hangs (a livelock in the code under test) is
  // terminated and reported as hung instead of stalling the whole bench.
  const deadline = Date.now() + ms + DEADLINE_SLACK_MS;
  const hung = async (): Promise<ParallelRun> => {
    await Promise.all(workers.map((w) => w.terminate()));
    return {
      cpus,
      ops: 0,
      wallNs: 0,
      opsPerSec: 0,
      fails: 0,
      gpWaits: 0,
      cpuNs: 0,
      opsPerCpuSec: 0,
      busy: 0,
      runqWait: 0,
      casNs: Number.NaN,
      opCas: Number.NaN,
      processBusy: 0,
      machineBusy: 0,
      steal: 0,
      hung: true,
    };
  };
  while (Atomics.load(ctrl, CTRL_READY) < cpus) {
    if (failed) throw failed;
    if (Date.now() > deadline) return hung();
    await sleep(1);
  }
  const proc0 = process.cpuUsage();
  const stat0 = machineCpuTicks();
  const wall0 = nowNs();
  // Releases every worker parked in `arriveAndWait`; pairs with their Atomics.wait.
  Atomics.store(ctrl, CTRL_START, 1);
  Atomics.notify(ctrl, CTRL_START);
  await sleep(ms);
  // Seen by `stopRequested` within one chunk of operations.
  Atomics.store(ctrl, CTRL_STOP, 1);
  const timer = sleep(Math.max(0, deadline - Date.now()), 'timeout' as const, { ref: false });
  const rs = await Promise.race([Promise.all(reports), timer]);
  if (rs === 'timeout') return hung();
  const procUs = process.cpuUsage(proc0);
  const stat1 = machineCpuTicks();
  const windowNs = nowNs() - wall0;
  const t0 = Math.min(...rs.map((r) => r.t0));
  const t1 = Math.max(...rs.map((r) => r.t1));
  const ops = rs.reduce((s, r) => s + r.ops, 0);
  const wallNs = t1 - t0;
  const cpuNs = rs.reduce((s, r) => s + r.cpuNs, 0);
  const casNs = rs.reduce((s, r) => s + (r.casNs ?? Number.NaN), 0) / rs.length;
  return {
    cpus,
    ops,
    wallNs,
    opsPerSec: (ops * 1e9) / wallNs,
    fails: rs.reduce((s, r) => s + r.fails, 0),
    gpWaits: rs.reduce((s, r) => s + (r.gpWaits ?? 0), 0),
    cpuNs,
    opsPerCpuSec: (ops * 1e9) / cpuNs,
    busy: rs.reduce((s, r) => s + r.cpuNs / (r.t1 - r.t0), 0),
    runqWait: rs.reduce((s, r) => s + r.runqNs / (r.t1 - r.t0), 0),
    casNs,
    opCas: cpuNs / ops / casNs,
    processBusy: ((procUs.user + procUs.system) * 1e3) / windowNs,
    machineBusy: ticksToCpus(stat1.busy - stat0.busy, windowNs),
    steal: ticksToCpus(stat1.steal - stat0.steal, windowNs),
    hung: false,
  };
}

/**
 * This thread's CPU time and run-queue wait so far, ns, from /proc/thread-self/schedstat
 * (Linux with schedstats; [NaN, NaN] elsewhere).
 *
 * Context: any thread; a small synchronous file read (call it outside timed regions).
 * @returns [on-CPU ns, waiting-to-run ns]
 */
export function threadCpuNs(): [cpu: number, runq: number] {
  try {
    const [cpu, runq] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(cpu), Number(runq)];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

/** Clock ticks per second of /proc/stat (USER_HZ: 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;

/**
 * The machine's CPU time so far from /proc/stat's first line, in USER_HZ ticks: busy (user,
 * nice, system, irq, softirq) and steal; NaN off Linux.
 *
 * Context: main thread; a small synchronous file read.
 * @returns busy and steal ticks
 */
export function machineCpuTicks(): { busy: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = f.slice(1, 9).map(Number) as number[];
    return { busy: user! + nice! + system! + irq! + softirq!, steal: steal! };
  } catch {
    return { busy: Number.NaN, steal: Number.NaN };
  }
}

function ticksToCpus(ticks: number, windowNs: number): number {
  return (ticks * (1e9 / USER_HZ)) / windowNs;
}

/** In a bench worker: the control words passed by `runParallel`. */
export function workerCtrl(): Int32Array<SharedArrayBuffer> {
  return new Int32Array((workerData as { ctrl: SharedArrayBuffer }).ctrl);
}

/** In a bench worker, after warm-up: arrive at the barrier and sleep until the start store. */
export function arriveAndWait(ctrl: Int32Array<SharedArrayBuffer>): void {
  Atomics.add(ctrl, CTRL_READY, 1); // polled by runParallel
  Atomics.wait(ctrl, CTRL_START, 0); // pairs with the START store + notify
}

/** In a bench worker: has the main thread asked to stop? (one Atomics.load) */
export function stopRequested(ctrl: Int32Array<SharedArrayBuffer>): boolean {
  return Atomics.load(ctrl, CTRL_STOP) !== 0;
}

/** Current hrtime in ns as a number. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** In a bench worker: post the result; the worker should exit afterwards. */
export function report(r: WorkerReport): void {
  parentPort?.postMessage(r);
}

/**
 * The median (by throughput) of several runs of one configuration, over the runs that did
 * not hang, with every sample; failures and hangs are summed. The per-CPU-second, casNs and
 * opCas figures are each the median of their own samples (they do not follow the wall-clock
 * median).
 */
export function medianOf(
  runs: ParallelRun[],
): ParallelRun & { samples: number[]; hungRuns: number } {
  const ok = runs.filter((r) => !r.hung).sort((a, b) => a.opsPerSec - b.opsPerSec);
  const mid = ok[ok.length >> 1] ?? runs[0]!;
  const own = (f: (r: ParallelRun) => number) => {
    const xs = ok.map(f).sort((a, b) => a - b);
    return xs[xs.length >> 1] ?? Number.NaN;
  };
  return {
    ...mid,
    opsPerCpuSec: own((r) => r.opsPerCpuSec),
    casNs: own((r) => r.casNs),
    opCas: own((r) => r.opCas),
    fails: runs.reduce((s, r) => s + r.fails, 0),
    gpWaits: runs.reduce((s, r) => s + r.gpWaits, 0),
    hungRuns: runs.length - ok.length,
    samples: ok.map((r) => r.opsPerSec),
  };
}
