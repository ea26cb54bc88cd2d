/**
 * The piscina task module of a CPU: attach the space once per worker thread, then run one
 * long CpuLoop per task, steered through the run buffer (nothing crosses postMessage while it
 * runs). The thread's RCU slot and threadId are published in the CPU's stats line, then
 * STATUS_RUNNING: from that store on the harness may terminate this worker at any point and
 * hand that slot to `releaseThread`.
 */
import { threadId } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace } from '../core/ioasid/ioasid-space.js';
import { CpuLoop, type CpuPlan } from './cpu-loop.js';
import {
  CPU_PHASE,
  CPU_RCU_SLOT,
  CPU_STATUS,
  CPU_TASKS,
  CPU_THREAD,
  cpuBase,
  STATUS_DONE,
  STATUS_RUNNING,
} from './run-layout.js';

export interface CpuTask {
  space: IoasidHandle;
  run: SharedArrayBuffer;
  plan: CpuPlan;
}

export interface CpuTaskResult {
  cpu: number;
  ops: number;
  threadId: number;
}

let attached: { buffer: SharedArrayBuffer; space: IoasidSpace } | undefined;

function spaceFor(handle: IoasidHandle): IoasidSpace {
  if (attached?.buffer !== handle.buffer) {
    attached?.space.detach();
    attached = { buffer: handle.buffer, space: IoasidSpace.attach(handle) };
  }
  return attached.space;
}

export default function runCpuTask(task: CpuTask): CpuTaskResult {
  const space = spaceFor(task.space);
  const w = new Int32Array(task.run);
  const base = cpuBase(task.plan.cpu);
  Atomics.store(w, base + CPU_RCU_SLOT, space.rcu.slot);
  Atomics.store(w, base + CPU_THREAD, threadId);
  Atomics.add(w, base + CPU_TASKS, 1);
  // Publishes RCU_SLOT and THREAD for this task; pairs with the harness's load before a kill.
  Atomics.store(w, base + CPU_STATUS, STATUS_RUNNING);
  const ops = new CpuLoop(space, task.run, task.plan).run();
  // Hand this thread's privately batched retired records to the shared pool (after a grace
  // period), so the harness's end-of-run census sees every record.
  Atomics.store(w, base + CPU_PHASE, 3);
  space.flushRecords();
  Atomics.store(w, base + CPU_PHASE, 4);
  Atomics.store(w, base + CPU_STATUS, STATUS_DONE);
  return { cpu: task.plan.cpu, ops, threadId };
}
