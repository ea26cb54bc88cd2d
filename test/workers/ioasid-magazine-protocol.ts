/**
 * What test/ioasid_cached_ids_are_free_for_every_thread_4_workers.test.ts and its worker
 * (ioasid-magazine-worker.ts) exchange. Kept apart so the test can import it without running
 * the worker.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** workerData of one magazine worker. */
export interface MagazineWorkerData {
  handle: IoasidHandle;
  set: number;
  /** Highest id of the range every alloc uses ([1, hi]). */
  hi: number;
  /** Ids to allocate, then free (each free caches its id in the worker's magazine). */
  count: number;
  /** Int32 word 0: the test stores 1 (and notifies) when the worker may detach and exit. */
  ctl: SharedArrayBuffer;
}

/** The worker's message once its ids are freed: its Rcu slot and the ids it got. */
export interface MagazineWorkerReady {
  slot: number;
  ids: number[];
}
