/**
 * The body of a CPU's piscina task, for any op table: attach the space once per worker
 * thread, publish the thread's RCU slot and threadId, run the caller's loop, then hand the
 * thread's privately batched records to the shared pool. The task module that piscina loads
 * is the caller's (the stress harness's is stress/cpu/cpu-worker.ts): it knows the ops.
 *
 * ## Developer notes
 * RCU_SLOT and THREAD are published before STATUS_RUNNING: from that store on the harness
 * may terminate this worker at any point and hand that slot to `releaseThread`. The PHASE
 * word says where a CPU that never returns is stuck.
 */
import { threadId } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace } from '../core/ioasid/ioasid-space.js';
import {
  CPU_PHASE,
  CPU_RCU_SLOT,
  CPU_STATUS,
  CPU_TASKS,
  CPU_THREAD,
  type CpuGeometry,
  cpuBase,
  PHASE_DONE,
  PHASE_FLUSHING,
  PHASE_RUNNING,
  STATUS_DONE,
  STATUS_RUNNING,
} from './run-layout.js';

/** What every CPU task carries; `plan` is the op table's own business. Structured-cloneable. */
export interface CpuTask<P> {
  space: IoasidHandle;
  run: SharedArrayBuffer;
  geometry: CpuGeometry;
  cpu: number;
  plan: P;
}

/** What a CPU task returns when its loop stopped. */
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

/**
 * Run one CPU task.
 *
 * @param task - the space, the run buffer and which CPU this is
 * @param body - runs the CPU's loop until the harness stops it and gives back what the CPU
 *   holds; returns how many operations ran
 *
 * Context: a pool worker thread (one task at a time); blocks for the whole run.
 * @returns the CPU, its operation count and this thread's id
 */
export function runCpuTask<P>(
  task: CpuTask<P>,
  body: (space: IoasidSpace) => number,
): CpuTaskResult {
  const space = spaceFor(task.space);
  // qsbr: online for the task, offline between tasks (a pool thread idles between them).
  space.rcu.threadOnline();
  const w = new Int32Array(task.run);
  const base = cpuBase(task.geometry, task.cpu);
  Atomics.store(w, base + CPU_RCU_SLOT, space.rcu.slot);
  Atomics.store(w, base + CPU_THREAD, threadId);
  Atomics.add(w, base + CPU_TASKS, 1);
  // Publishes RCU_SLOT and THREAD for this task; pairs with the harness's load before a kill.
  Atomics.store(w, base + CPU_STATUS, STATUS_RUNNING);
  Atomics.store(w, base + CPU_PHASE, PHASE_RUNNING);
  const ops = body(space);
  // Hand this thread's privately batched retired records to the shared pool (after a grace
  // period), so the harness's end-of-run census sees every record.
  Atomics.store(w, base + CPU_PHASE, PHASE_FLUSHING);
  space.flushRecords();
  space.rcu.threadOffline();
  Atomics.store(w, base + CPU_PHASE, PHASE_DONE);
  Atomics.store(w, base + CPU_STATUS, STATUS_DONE);
  return { cpu: task.cpu, ops, threadId };
}
