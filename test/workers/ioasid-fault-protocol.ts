/**
 * What test/ioasid_fault_injection_is_detectable.test.ts and its worker
 * (ioasid-fault-worker.ts) exchange. Kept apart so the test can import it without running the
 * worker.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** workerData of one fault worker. */
export interface FaultWorkerData {
  handle: IoasidHandle;
  seed: number;
  worker: number;
  /**
   * `churn`: alloc/free on `set`, holding a few ids; `reader`: find random ids with a getter
   * that sleeps 0.05 ms inside the read-side section; `quota`: alloc/free on `set`, and
   * after each alloc compare the set's count with `quota`.
   */
  mode: 'churn' | 'reader' | 'quota';
  set: number;
  quota: number;
  /** FAULT_WORDS Int32 words, indexed by the FAULT_* constants below. */
  stop: SharedArrayBuffer;
}

/** The test stores 1 to stop the workers. */
export const FAULT_STOP = 0;
/** The largest set count any quota worker saw. */
export const FAULT_MAX_COUNT = 1;
/** Getter naps (reader mode). */
export const FAULT_NAPS = 2;
/**
 * Allocs tried (churn and quota modes). With FAULT_BUSY_NAPS, the work the test bounds a run
 * by (not wall-clock time: a loaded machine may not run a worker for seconds).
 */
export const FAULT_ALLOCS = 3;
/** Busy naps: getter naps during which some alloc was tried. */
export const FAULT_BUSY_NAPS = 4;
/** Words of the `stop` buffer. */
export const FAULT_WORDS = 5;

/** What a fault worker posts when stopped. */
export interface FaultWorkerResult {
  worker: number;
  ops: number;
  /** quota mode: the largest set count seen right after an alloc. */
  maxCountSeen: number;
}
