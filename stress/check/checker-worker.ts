/**
 * The checker thread: attaches the space, runs Checker passes every few ms until the run
 * stops (plus an exact capacity check whenever every running CPU is parked), then a final
 * pass, and posts its statistics.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import {
  CPU_PARKED,
  type CpuGeometry,
  cpuBase,
  RUN_STATE,
  STATE_PAUSE,
  STATE_STOP,
} from '../../src/workers/run-layout.js';
import type { CheckGeometry } from './check-layout.js';
import { Checker } from './checker.js';

/** workerData of the checker thread. */
export interface CheckerData {
  space: IoasidHandle;
  run: SharedArrayBuffer;
  runGeometry: CpuGeometry;
  check: SharedArrayBuffer;
  checkGeometry: CheckGeometry;
  intervalMs: number;
  /** One word: how many CPUs are running (for the parked test). */
  runningCpus: SharedArrayBuffer;
}

const d = workerData as CheckerData;
const space = IoasidSpace.attach(d.space);
const w = new Int32Array(d.run);
const running = new Int32Array(d.runningCpus);
const checker = new Checker(space, d.run, d.runGeometry, d.check, d.checkGeometry);
const nap = new Int32Array(new SharedArrayBuffer(4));
let checkedThisPause = false;

/** CPUs parked in the current stutter (each flags itself; the harness clears a dead one's). */
function parkedCpus(): number {
  let n = 0;
  for (let c = 0; c < d.runGeometry.cpus; c++)
    n += Atomics.load(w, cpuBase(d.runGeometry, c) + CPU_PARKED);
  return n;
}

// qsbr: offline while it sleeps between passes, so grace periods never wait for the checker.
space.rcu.threadOffline();
while (Atomics.load(w, RUN_STATE) !== STATE_STOP) {
  space.rcu.threadOnline();
  checker.pass();
  const paused = Atomics.load(w, RUN_STATE) === STATE_PAUSE;
  if (!paused) checkedThisPause = false;
  else if (!checkedThisPause && parkedCpus() === Atomics.load(running, 0)) {
    checker.quiescentCheck();
    checkedThisPause = true;
  }
  space.rcu.threadOffline();
  Atomics.wait(nap, 0, 0, d.intervalMs);
}
space.rcu.threadOnline();
checker.pass();
// Detach before posting: the harness terminates this thread once it has the statistics, and a
// qsbr thread terminated online (its slot attached) would hold up every later grace period,
// the end-of-run flushRecords' included.
space.detach();
parentPort?.postMessage(checker.stats);
