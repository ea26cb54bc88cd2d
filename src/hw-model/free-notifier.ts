/**
 * The seam between the IOMMU driver and the core's global notifier chain: the driver learns
 * here that an mm's PASID went free-pending while it still had bonds (spec e: "VT-d IOMMU
 * driver (global chain): FREE"), and tears those bonds down from its workqueue.
 *
 * ## Developer notes
 * `CoreFreeChain` subscribes the driver to the core's global chain with priority IOMMU
 * (`registerNotifier(null, NotifierPriority.IOMMU)`, once, when the platform is created; the
 * subscriber id is in the hardware header so that every thread reads the same subscriber) and
 * reads FREE with `readNotifications`. An overflow entry (events the bounded queue dropped)
 * is passed on as pasid -1: the driver then looks for the bonds it was not told about.
 * A core without notifier chains (before issue 10) gets `ShimFreeChain`: the mm's exit path,
 * right after its `free`, posts the FREE the core would have emitted (the driver still held
 * its reference, so the free left the PASID free-pending and the core emits FREE exactly
 * once) into a claim ring of the log buffer, and the driver reads it from there. Which one a
 * platform uses is decided once, at create, by whether the space has `registerNotifier`.
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
  FREE_SUB_SHIM,
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
   * Hand up to `max` FREE notifications to `fn` (non-blocking); pasid -1 means some were
   * lost (a queue overflow): look for the teardowns nobody was told about.
   * @returns how many
   */
  read(fn: (pasid: number, data: number) => void, max: number): number;
}

/** What the driver needs of a core with notifier chains (issue 10's public API). */
interface NotifierApi {
  registerNotifier(set: number | null, priority: number): number;
  readNotifications(
    sub: number,
    max?: number,
  ): ReadonlyArray<{ event: number | 'overflow'; id?: number; data?: number }>;
}

/** NotifyEvent.FREE and NotifierPriority.IOMMU, with the kernel's numbering. */
const NOTIFY_FREE = 2;
const PRIORITY_IOMMU = 2;

/** True when `space` has notifier chains. */
export function hasNotifierChains(space: object): boolean {
  return typeof (space as Partial<NotifierApi>).registerNotifier === 'function';
}

/**
 * Subscribe the IOMMU driver to the global chain of `space`. No owner tag and no adoption
 * (unlike a VM's consumers, vm-chain.ts): create() is not resumed, a create killed here leaves
 * no platform, and its space, made by that create and shared with no one yet, goes with it.
 *
 * Context: create() only.
 * @returns the subscriber id (>= 0), or FREE_SUB_SHIM when the core has no chains
 */
export function subscribeDriver(space: object): number {
  if (!hasNotifierChains(space)) return FREE_SUB_SHIM;
  const sub = (space as NotifierApi).registerNotifier(null, PRIORITY_IOMMU);
  return sub >= 0 ? sub : FREE_SUB_SHIM;
}

/**
 * The core's global chain.
 *
 * @internal
 */
export class CoreFreeChain implements FreeChain {
  readonly fromCore = true;
  readonly #space: NotifierApi;
  readonly #sub: number;

  constructor(space: object, sub: number) {
    this.#space = space as NotifierApi;
    this.#sub = sub;
  }

  /** The core emits FREE itself. */
  afterFree(): void {}

  read(fn: (pasid: number, data: number) => void, max: number): number {
    let n = 0;
    for (const e of this.#space.readNotifications(this.#sub, max)) {
      if (e.event === 'overflow') fn(-1, 0);
      else if (e.event === NOTIFY_FREE) fn(e.id ?? 0, e.data ?? 0);
      n++;
    }
    return n;
  }
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
