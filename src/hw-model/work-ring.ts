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
  ringIsPublished,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import type { HwContext } from './hw-context.js';
import {
  RING_HEAD,
  RING_TAIL,
  VM_WORK_META,
  WK_ARG,
  WK_AUX,
  WK_AUX2,
  WK_GEN,
  WK_KIND,
  WK_PASID,
  WK_SUB,
  WORK_ENTRIES,
  WORK_IOMMU_TEARDOWN,
  WORK_KVM_ACK,
  WORK_VDCM_CLEAR,
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

/**
 * Call `fn` for every published item behind the head (not started: only the head item runs),
 * in queue order, with its slot word and its index behind the head (1, 2, ...).
 *
 * Context: the VM's kernel (its lock held: HEAD does not move; producers only append, and an
 * item appended during the walk may be missed).
 */
function forEachNotStarted(hw: HwContext, vm: number, fn: (w: number, i: number) => void): void {
  const r = workRing(hw, vm);
  const head = Atomics.load(r.i32, r.meta + RING_HEAD);
  const tail = Atomics.load(r.i32, r.meta + RING_TAIL);
  for (let i = 1; i < ((tail - head) | 0); i++) {
    const pos = (head + i) | 0;
    if (ringIsPublished(r, pos)) fn(ringSlot(r, pos), i);
  }
}

/**
 * The (pasid, gen) teardowns whose VDCM and IOMMU items are queued and not started: a
 * PASID-quiescing VDCM item followed by an IOMMU item, with no KVM item for the same PASID
 * after the VDCM item (KVM's P0 must come first). Not started, they compute their work when
 * they run, from the state then, so a rescan queuing that pair again would only add items
 * that find nothing to do (vm-kernel.ts rescanConsumers).
 *
 * Context: the VM's kernel (its lock held).
 * @returns keys `pasid:gen` of the covered teardowns
 */
export function workQueuedTeardowns(hw: HwContext, vm: number): Set<string> {
  // Per key: the index of its last VDCM item and whether an IOMMU item followed it; per
  // PASID (any generation, to be safe): the index of its last KVM item.
  const vdcm = new Map<string, { at: number; iommu: boolean }>();
  const kvm = new Map<number, number>();
  forEachNotStarted(hw, vm, (w, i) => {
    const kind = hw.ld(w + WK_KIND);
    const pasid = hw.ld(w + WK_PASID);
    const key = `${pasid}:${hw.ld(w + WK_GEN)}`;
    if (kind === WORK_KVM_ACK) kvm.set(pasid, i);
    else if (kind === WORK_VDCM_CLEAR && hw.ld(w + WK_ARG) < 0)
      vdcm.set(key, { at: i, iommu: false });
    else if (kind === WORK_IOMMU_TEARDOWN) {
      const v = vdcm.get(key);
      if (v) v.iommu = true;
    }
  });
  const covered = new Set<string>();
  for (const [key, v] of vdcm) {
    const pasid = Number(key.slice(0, key.indexOf(':')));
    if (v.iommu && (kvm.get(pasid) ?? -1) < v.at) covered.add(key);
  }
  return covered;
}

/**
 * The (pasid, gen) keys of KVM drop items queued and not started: a rescan need not queue
 * them again (kvm.ts kvmRescan).
 *
 * Context: the VM's kernel (its lock held).
 * @returns keys `pasid:gen`
 */
export function workQueuedKvmAcks(hw: HwContext, vm: number): Set<string> {
  const acks = new Set<string>();
  forEachNotStarted(hw, vm, (w) => {
    if (hw.ld(w + WK_KIND) === WORK_KVM_ACK)
      acks.add(`${hw.ld(w + WK_PASID)}:${hw.ld(w + WK_GEN)}`);
  });
  return acks;
}
