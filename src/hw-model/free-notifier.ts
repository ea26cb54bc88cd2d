/**
 * The seam between the IOMMU driver and the core's global notifier chain: the driver learns
 * here that an mm's PASID went free-pending while it still had bonds (spec e: "VT-d IOMMU
 * driver (global chain): FREE"), and tears those bonds down from its workqueue.
 *
 * ## Developer notes
 * The core does not have notifier chains yet (issue 10). Until it does, `ShimFreeChain`
 * stands in: the mm's exit path, right after its `free`, posts the FREE the core would have
 * emitted (the driver still held its reference, so the free left the PASID free-pending and
 * the core emits FREE exactly once) into a claim ring of the log buffer, and the driver reads
 * it from there. When the core's chain lands, `CoreFreeChain` registers the driver on the
 * global chain with `NotifierPriority.IOMMU` and reads it with `readNotifications`; the shim's
 * `afterFree` becomes a no-op and nothing else in the model changes.
 *
 * @internal
 */
import {
  RING_FULL,
  type Ring,
  ringClaim,
  ringInit,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import {
  L_ENTRIES,
  L_ROWS,
  L_SHIM_LOCK,
  L_SHIM_META,
  SH_DATA,
  SH_PASID,
  SHIM_ENTRIES,
  SHIM_WORDS,
  shimRingBase,
} from './hw-layout.js';
import { lockGive, lockTry } from './owner-lock.js';

/** Where FREE notifications come from. */
export interface FreeChain {
  /** Whether the events come from the core (false: the shim). */
  readonly fromCore: boolean;
  /**
   * Called by the mm exit path right after its `free(set, pasid)` returned 0.
   * @param pending - the driver still held a reference, so the PASID is now free-pending
   */
  afterFree(pasid: number, data: number, pending: boolean): void;
  /**
   * Hand up to `max` FREE notifications to `fn` (non-blocking).
   * @returns how many
   */
  read(fn: (pasid: number, data: number) => void, max: number): number;
}

/** The shim ring of a log buffer. */
export function shimRing(log: Int32Array<SharedArrayBuffer>): Ring {
  return {
    i32: log,
    meta: L_SHIM_META,
    slots: shimRingBase(Atomics.load(log, L_ROWS), Atomics.load(log, L_ENTRIES)),
    slotWords: SHIM_WORDS,
    size: SHIM_ENTRIES,
  };
}

/** Set up the shim ring of a new log buffer. Context: create() only. */
export function shimInit(log: Int32Array<SharedArrayBuffer>): void {
  ringInit(shimRing(log));
}

/**
 * The stand-in chain, in the log buffer.
 *
 * @internal
 */
export class ShimFreeChain implements FreeChain {
  readonly fromCore = false;
  readonly #ring: Ring;
  readonly #tag: number;

  constructor(log: Int32Array<SharedArrayBuffer>, tag: number) {
    this.#ring = shimRing(log);
    this.#tag = tag;
  }

  afterFree(pasid: number, data: number, pending: boolean): void {
    if (!pending) return;
    const r = this.#ring;
    // Never full in practice: one entry per exiting mm with bonds, read by the workqueue.
    let pos = ringClaim(r, r.size, this.#tag);
    while (pos === RING_FULL) {
      Atomics.wait(r.i32, r.meta, Atomics.load(r.i32, r.meta), 1);
      pos = ringClaim(r, r.size, this.#tag);
    }
    const w = ringSlot(r, pos);
    Atomics.store(r.i32, w + SH_PASID, pasid);
    Atomics.store(r.i32, w + SH_DATA, data);
    ringPublish(r, pos, this.#tag);
  }

  read(fn: (pasid: number, data: number) => void, max: number): number {
    const r = this.#ring;
    if (!lockTry(r.i32, L_SHIM_LOCK, this.#tag)) return 0;
    let n = 0;
    while (n < max) {
      const pos = ringPeek(r);
      if (pos < 0) break;
      const w = ringSlot(r, pos);
      const pasid = Atomics.load(r.i32, w + SH_PASID);
      const data = Atomics.load(r.i32, w + SH_DATA);
      ringRelease(r, pos);
      n++;
      fn(pasid, data);
    }
    lockGive(r.i32, L_SHIM_LOCK);
    return n;
  }
}
