/**
 * What test/ioasid_killed_worker_leaks_nothing.test.ts and its worker
 * (ioasid-kill-worker.ts) exchange. Kept apart so the test can import it without running the
 * worker's loop.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** workerData of one kill worker. */
export interface KillWorkerData {
  handle: IoasidHandle;
  seed: number;
  /** Distinct per worker incarnation: makes MM tokens unique. */
  incarnation: number;
  /** A set created for this incarnation alone; the test empties and frees it after the kill. */
  privateSet: number;
  /** Sets shared by every worker (contention; recovery while others use them). */
  sharedSets: number[];
  /** Int32 words the test reads after the kill (see NB_*). */
  notebook: SharedArrayBuffer;
  /** Skip the operations that take a space lock (for the broken twin, which does not release
   * dead threads' locks and would otherwise hang on one). */
  noLocks?: boolean;
}

/** First message: the worker's Rcu slot, for releaseThread. */
export interface KillWorkerReady {
  slot: number;
}

/** Notebook: [NB_OWN_SET] own MM set + 1 (0 none), then NB_SHARED pairs (id, set) of ids held
 * in shared sets (id 0 = empty). Written after the call that took the thing and cleared
 * before the call that gives it back, so an entry is never stale in the harmful direction
 * (a kill in between only leaks, into a set the final sweep frees). */
export const NB_OWN_SET = 0;
export const NB_SHARED = 4;
/**
 * Then the run gate. A worker attaches, posts its slot and waits (Atomics.wait) until the test
 * stores 1 in NB_GO, so that it can be started ahead of its turn without adding to the
 * workers that run. NB_RUN_OPS (stored before NB_GO) is how many loop iterations it runs
 * before it posts {@link KillWorkerReached}; it keeps running after that until it is
 * terminated, so a kill that waits for that message lands after that much work, in the middle
 * of whatever operation the worker is in, however slowly the machine runs it.
 */
export const NB_GO = 1 + 2 * NB_SHARED;
export const NB_RUN_OPS = NB_GO + 1;
export const NB_WORDS = NB_GO + 2;

/** Second message: the worker ran its NB_RUN_OPS iterations (and runs on). */
export interface KillWorkerReached {
  reached: number;
}
