/**
 * What the multi-worker IOASID tests (test/ioasid_*_workers.test.ts, through run-stress.ts and
 * check-log.ts) and their worker (ioasid-stress-worker.ts) exchange. Kept apart so the tests
 * can import it without running the worker.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** workerData of one stress worker. */
export interface StressWorkerData {
  handle: IoasidHandle;
  worker: number;
  seed: number;
  ops: number;
  /** Sets this worker allocates from. */
  sets: number[];
  /** Quota of each set in `sets` (same order). */
  quotas: number[];
  /** Int32 words: [0] clock, [1..] owner per id, then holders per set id. */
  shared: SharedArrayBuffer;
  maxId: number;
  maxSets: number;
  /** Most ids held at once. */
  maxHold: number;
}

/** Event log entry kinds (4 Int32 words each: kind, id, clockBefore, clockAfter). */
export const EV_ALLOC = 1;
export const EV_FREE = 2;

/** What a worker posts back when done. */
export interface StressResult {
  worker: number;
  violations: string[];
  log: Int32Array;
  counts: Record<string, number>;
}
