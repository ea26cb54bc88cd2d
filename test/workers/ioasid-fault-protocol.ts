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
  /**
   * Int32 [0]: the test sets 1 to stop the worker; [1]: the largest count any quota worker
   * saw; [2]: getter naps (reader mode); [3]: allocs tried (churn and quota modes); [4]: busy
   * naps, those during which some alloc was tried. [3] and [4] are the work the test bounds a
   * run by (not wall-clock time: a loaded machine may not run a worker for seconds).
   */
  stop: SharedArrayBuffer;
}

/** What a fault worker posts when stopped. */
export interface FaultWorkerResult {
  worker: number;
  ops: number;
  /** quota mode: the largest set count seen right after an alloc. */
  maxCountSeen: number;
  /** reader mode: getter calls (finds that hit a live id and slept inside the section). */
  getterCalls: number;
}
