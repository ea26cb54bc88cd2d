/**
 * What the multi-worker IOASID tests (test/ioasid_*_workers.test.ts, through run-stress.ts and
 * check-log.ts) and their worker (ioasid-stress-worker.ts) exchange. Kept apart so the tests
 * can import it without running the worker.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';
import type { CpuGeometry } from '../../src/workers/run-layout.js';
import type { CheckGeometry } from '../../stress/check/check-layout.js';

/** workerData of one stress worker. */
export interface StressWorkerData {
  handle: IoasidHandle;
  worker: number;
  seed: number;
  ops: number;
  /** Sets this worker allocates from (the harness stored their quotas in the check buffer). */
  sets: number[];
  /** Weight of each stress op (STRESS_OPS order). */
  mix: number[];
  /** The shadow oracle and the violations (stress/check/check-layout.ts). */
  check: SharedArrayBuffer;
  checkGeometry: CheckGeometry;
  /** The workers' log rings (written, not read). */
  run: SharedArrayBuffer;
  runGeometry: CpuGeometry;
  /** One word: the clock of the event logs. */
  clock: SharedArrayBuffer;
  /** Most ids held at once. */
  maxHold: number;
}

/** Event log entry kinds (4 Int32 words each: kind, id, clockBefore, clockAfter). */
export const EV_ALLOC = 1;
export const EV_FREE = 2;

/** What a worker posts back when done. */
export interface StressResult {
  worker: number;
  log: Int32Array;
  /** Results per op: `alloc`, and `alloc-28` for each errno. */
  counts: Record<string, number>;
}
