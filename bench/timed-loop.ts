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
  arriveAndWait(ctrl);
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
  report({
    ops,
    t0,
    t1,
    fails,
    cpuNs: cpu1 - cpu0,
    runqNs: runq1 - runq0,
    gpWaits: gpWaits() - waits0,
  });
}
