/**
 * The body of every synchronous bench worker: warm up, meet the others at the barrier, run
 * chunks of operations until the main thread says stop, report.
 */
import {
  arriveAndWait,
  nowNs,
  report,
  stopRequested,
  threadCpuNs,
  workerCtrl,
} from './parallel.js';

/**
 * A probe is the fastest of CAS_PROBE_ROUNDS rounds of CAS_PROBE_OPS load+CAS pairs (about
 * 0.1-0.3 ms each): the fastest, so that a preemption inside one round (a loaded machine)
 * does not count as the price of the operation; the phases it detects last seconds.
 */
const CAS_PROBE_OPS = 8_000;
const CAS_PROBE_ROUNDS = 8;
/** A word of this thread's own, on its own 64-byte line (nothing else touches this buffer). */
const probeWord = new Int32Array(new SharedArrayBuffer(128));

/**
 * ns per Atomics.load + successful compareExchange on this thread's own line, now.
 *
 * Why: on this machine (a KVM guest) the cost of a locked operation on a private, L1-resident
 * line changes by 1.6-3x per vCPU for seconds at a time while a pure-ALU loop does not change
 * (bench/FINDINGS.md, "Why the scaling rows were bimodal"). Every allocator figure moves with
 * it, so each worker measures it next to its timed window and the tables can show the
 * operation's cost in units of it.
 */
export function probeCasNs(): number {
  const w = probeWord;
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < CAS_PROBE_ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CAS_PROBE_OPS; i++) {
      const v = Atomics.load(w, 16);
      Atomics.compareExchange(w, 16, v, (v + 1) | 0);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / CAS_PROBE_OPS);
  }
  return best;
}

/**
 * @param chunk - operations between two looks at the stop word (keep a chunk well under 1 ms)
 * @param warmup - operations run before the barrier, so every worker measures optimized code
 * @param body - runs `n` operations and returns how many failed unexpectedly
 * @param gpWaits - how many allocations so far waited for a grace period (reported)
 */
export function timedLoop(
  chunk: number,
  warmup: number,
  body: (n: number) => number,
  gpWaits: () => number = () => 0,
): void {
  const ctrl = workerCtrl();
  // Warm up in the same chunks as the timed loop, so `body` itself is optimized (not only
  // on-stack-replaced inside one long call).
  let fails = 0;
  for (let done = 0; done < warmup; done += chunk) fails += body(chunk);
  for (let k = 0; k < 4; k++) probeCasNs(); // warm: the probe itself must run optimized
  arriveAndWait(ctrl);
  // Right before the window and right after it, outside both timestamps and CPU readings.
  const casBefore = probeCasNs();
  const waits0 = gpWaits();
  const [cpu0, runq0] = threadCpuNs();
  const t0 = nowNs();
  let ops = 0;
  while (!stopRequested(ctrl)) {
    fails += body(chunk);
    ops += chunk;
  }
  const t1 = nowNs();
  const [cpu1, runq1] = threadCpuNs();
  const casAfter = probeCasNs();
  report({
    ops,
    t0,
    t1,
    fails,
    cpuNs: cpu1 - cpu0,
    runqNs: runq1 - runq0,
    gpWaits: gpWaits() - waits0,
    casNs: (casBefore + casAfter) / 2,
  });
}
