/**
 * A VM's ordered kernel workqueue (spec e: `ioasid_queue_work`, the ordered workqueue the
 * notifier handlers defer their work to, "preserving order across users"): a claim ring of
 * work items in the VM region, run strictly one at a time in queue order by whoever holds the
 * VM's kernel lock (vm-kernel.ts). Each item is a small resumable state machine: WK_SUB says
 * where it is, so any thread that takes the lock next continues it.
 *
 * @internal
 */
import {
  RING_FULL,
  type Ring,
  ringClaim,
  ringCount,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import type { HwContext } from './hw-context.js';
import {
  RING_HEAD,
  VM_WORK_META,
  WK_ARG,
  WK_AUX,
  WK_AUX2,
  WK_GEN,
  WK_KIND,
  WK_PASID,
  WK_SUB,
  WORK_ENTRIES,
  WORK_WORDS,
} from './hw-layout.js';

/** The work ring of VM `vm`. */
export function workRing(hw: HwContext, vm: number): Ring {
  const g = hw.g.vm[vm]!;
  return {
    i32: hw.i32,
    meta: g.base + VM_WORK_META,
    slots: g.workBase,
    slotWords: WORK_WORDS,
    size: WORK_ENTRIES,
  };
}

/**
 * Queue one work item.
 *
 * Context: any attached thread; lock-free.
 * @returns true when queued; false when the ring is full (nothing queued)
 */
export function workQueue(
  hw: HwContext,
  vm: number,
  kind: number,
  pasid: number,
  gen: number,
  arg: number,
): boolean {
  const r = workRing(hw, vm);
  const pos = ringClaim(r, r.size, hw.tag);
  if (pos === RING_FULL) return false;
  const w = ringSlot(r, pos);
  hw.st(w + WK_KIND, kind);
  hw.st(w + WK_PASID, pasid);
  hw.st(w + WK_GEN, gen);
  hw.st(w + WK_ARG, arg);
  hw.st(w + WK_SUB, 0);
  hw.st(w + WK_AUX, 0);
  hw.st(w + WK_AUX2, 0);
  ringPublish(r, pos, hw.tag);
  return true;
}

/** Room left in the ring (stale on return). */
export function workRoom(hw: HwContext, vm: number): number {
  return WORK_ENTRIES - ringCount(workRing(hw, vm));
}

/** Items queued and not finished (stale on return). */
export function workPending(hw: HwContext, vm: number): number {
  return ringCount(workRing(hw, vm));
}

/**
 * Items finished since boot of the platform (the ring's HEAD, which only moves on): a
 * measure of the VM kernel's progress, e.g. through a long teardown.
 *
 * Context: any thread; stale on return.
 */
export function workFinished(hw: HwContext, vm: number): number {
  const r = workRing(hw, vm);
  return hw.ld(r.meta + RING_HEAD);
}

/** The item at the head: its slot word index and position, or null. Context: the lock holder. */
export function workHead(hw: HwContext, vm: number): { w: number; pos: number } | null {
  const r = workRing(hw, vm);
  const pos = ringPeek(r);
  return pos < 0 ? null : { w: ringSlot(r, pos), pos };
}

/** The head item is finished. Context: the lock holder. */
export function workDone(hw: HwContext, vm: number, pos: number): void {
  ringRelease(workRing(hw, vm), pos);
}

/** Field `f` (WK_*) of the item at word `w`. */
export function wk(hw: HwContext, w: number, f: number): number {
  return hw.ld(w + f);
}

/** Set field `f` of the item at word `w`. */
export function wkSet(hw: HwContext, w: number, f: number, v: number): void {
  hw.st(w + f, v);
}
