/**
 * A CPU of the hardware-model bench (bench/hw-model.ts): one process's thread submitting with
 * ENQCMD (`enq`), or binding and unbinding its process (`bind`: bindSva, then the unbind
 * teardown driven to its end while the engine workers answer), until the main thread says
 * stop. Counts accepted submissions / completed bind+unbind pairs.
 */
import { workerData } from 'node:worker_threads';
import { enqcmd } from '../src/hw-model/cpu.js';
import { bindSva, unbindStart } from '../src/hw-model/iommu-driver.js';
import { Platform, type PlatformHandle } from '../src/hw-model/platform.js';
import { TD_BLOCKED, TD_DONE, teardownStep } from '../src/hw-model/teardown.js';
import {
  arriveAndWait,
  nowNs,
  report,
  stopRequested,
  threadCpuNs,
  workerCtrl,
} from './parallel.js';

interface Data {
  platform: PlatformHandle;
  mode: 'enq' | 'bind';
  pid: number;
  pf: number;
}

const d = workerData as Data;
const platform = Platform.attach(d.platform);
const hw = platform.context;
hw.log.actor = d.pid + 1;
const tid = d.pid * hw.g.shape.threadsPerProcess;
const CHUNK = d.mode === 'enq' ? 256 : 4;
const nap = new Int32Array(new SharedArrayBuffer(4));

/** One operation; true when it counted (an accepted submission, a completed pair). */
function op(i: number): boolean {
  if (d.mode === 'enq') return enqcmd(hw, tid, d.pf, 0, i & 63, 0) === 0;
  if (bindSva(hw, d.pf, d.pid) <= 0) return false;
  const b = unbindStart(hw, d.pf, d.pid, d.pid + 1);
  if (b < 0) return false;
  // Waiting for the engines: back off after a few blocked steps, so that on a machine with
  // fewer cores than threads the engine workers get the CPU this one would spin on.
  for (let blocked = 0; ; ) {
    const r = teardownStep(hw, b);
    if (r === TD_DONE) return true;
    if (r !== TD_BLOCKED) blocked = 0;
    else if (++blocked > 16) Atomics.wait(nap, 0, 0, 0.05);
  }
}

const ctrl = workerCtrl();
// Warm-up: the same operations, not counted.
for (let i = 0; i < 4 * CHUNK; i++) op(i);
arriveAndWait(ctrl);
const [cpu0, runq0] = threadCpuNs();
const t0 = nowNs();
let ops = 0;
let i = 0;
while (!stopRequested(ctrl)) {
  for (let k = 0; k < CHUNK; k++, i++) if (op(i)) ops++;
}
const t1 = nowNs();
const [cpu1, runq1] = threadCpuNs();
report({ ops, t0, t1, fails: 0, cpuNs: cpu1 - cpu0, runqNs: runq1 - runq0 });
platform.detach();
