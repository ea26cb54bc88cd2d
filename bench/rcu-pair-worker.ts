/**
 * Read-side cost of one RCU flavor, measured in a worker of its own so that the JIT sees only
 * that flavor's read side (a process that runs three flavors through one call site would
 * measure a polymorphic call): ns per readLock + readUnlock pair, best of 5 timed loops, as
 * liburcu's urcu-bench measures its pairs; for the qsbr flavor also ns per quiescentState();
 * and ns per iteration of the same loop with an empty body (what the loop itself costs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rcu, type RcuFlavor } from '../src/core/rcu/rcu.js';
import { consume } from './harness.js';

/** What the worker posts. */
export interface PairFigures {
  pair: number;
  quiescentState: number;
  emptyLoop: number;
}

const { flavor, iterations } = workerData as { flavor: RcuFlavor; iterations: number };

/** Best of 5 timed calls of `body(iterations)`, after 2 warm-up calls: ns per iteration. */
function best(body: (n: number) => void): number {
  body(iterations);
  body(iterations);
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    body(iterations);
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / iterations);
  }
  return min;
}

const rcu = Rcu.create({ maxThreads: 4, flavor });
rcu.registerThread();
const pair = best((n) => {
  for (let i = 0; i < n; i++) {
    rcu.readLock();
    rcu.readUnlock();
  }
});
const quiescentState = best((n) => {
  for (let i = 0; i < n; i++) rcu.quiescentState();
});
let sink = 0;
const emptyLoop = best((n) => {
  for (let i = 0; i < n; i++) sink = (sink + i) | 0;
});
consume(sink);
rcu.threadOffline();
rcu.unregisterThread();
parentPort?.postMessage({ pair, quiescentState, emptyLoop } satisfies PairFigures);
