/**
 * What test/ioasid_quota_with_magazines_2_workers.test.ts and its worker
 * (ioasid-quota-worker.ts) exchange. Kept apart so the test can import it without running the
 * worker.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** workerData of one quota worker. */
export interface QuotaWorkerData {
  handle: IoasidHandle;
  set: number;
  /** Ids to allocate in [1, warmHi] and free first: they park in the worker's magazine. */
  warm: number;
  warmHi: number;
  /** The range of the allocs made until -EDQUOT. */
  lo: number;
  hi: number;
  /** Int32 words: [0] the test stores 1 when the allocs may start, [1] when the worker may
   * detach and exit (each notified). */
  ctl: SharedArrayBuffer;
}

/** The worker's messages: its slot once warm, then the ids it holds and any other result. */
export type QuotaWorkerMessage =
  | { phase: 'warm'; slot: number; warmed: number[] }
  | { phase: 'done'; ids: number[]; errors: number[] };
