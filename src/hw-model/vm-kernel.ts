/**
 * A VM's host-kernel side, one step at a time: the notifier handlers of its three consumers
 * (KVM, the VDCM, the IOMMU driver's guest side) fed from the VM's chains in chain order, and
 * the VM's ordered workqueue the handlers defer their real work to (spec e: handlers run in
 * atomic context; the work items run one at a time, in queue order, so the order the chain
 * delivered an event in is the order its teardown steps run in: P0 by KVM, P1 by the VDCM,
 * P2..P7 by the IOMMU driver).
 *
 * Whoever holds the VM's kernel lock (a try-lock: never waits) steps it; every piece of work
 * is a resumable state machine (work-ring.ts), so any thread can continue another's.
 *
 * @internal
 */

import { bf } from './bonds.js';
import { Ev } from './event-log.js';
import { IOMMU_RESCANNED, iommuGuestHandle, iommuTeardownStep } from './guest-iommu.js';
import type { HwContext } from './hw-context.js';
import {
  B_STATE,
  BS_DYING,
  VM_KERNEL_LOCK,
  VM_RESCAN,
  VP_GEN,
  VP_PASID,
  VP_STATE,
  VPS_FREE,
  VPS_LIVE,
  WK_KIND,
  WORK_IOMMU_TEARDOWN,
  WORK_KVM_ACK,
  WORK_KVM_PROGRAM,
  WORK_VDCM_CLEAR,
} from './hw-layout.js';
import { kvmAckStep, kvmHandle, kvmProgramStep, kvmRescan } from './kvm.js';
import { lockGive, lockTry } from './owner-lock.js';
import { TD_BLOCKED, TD_DONE } from './teardown.js';
import { vdcmHandle, vdcmStep } from './vdcm.js';
import { recordBond, vmField, vpField } from './vm.js';
import { IOMMU, KVM, VDCM, type VmNotification } from './vm-chain.js';
import {
  wk,
  workDone,
  workHead,
  workQueue,
  workQueuedKvmAcks,
  workQueuedTeardowns,
} from './work-ring.js';

/** Steps of the head work item a kernel step runs at most (it yields when blocked). */
const ITEM_STEPS = 8;

/**
 * One step of VM `vm`'s kernel: hand what its consumers may read to their handlers, then
 * advance its workqueue's head item.
 *
 * Context: any attached thread; a try-lock (returns 0 when another thread holds it).
 * @returns events handled plus work steps that made progress (0: idle or blocked)
 */
export function vmKernelStep(hw: HwContext, vm: number): number {
  const lock = vmField(hw, vm, VM_KERNEL_LOCK);
  if (!lockTry(hw.i32, lock, hw.tag)) return 0;
  try {
    let n = hw.vmChains.poll(vm, (c, e) => dispatch(hw, vm, c, e));
    if (hw.ld(vmField(hw, vm, VM_RESCAN)) !== 0) {
      hw.st(vmField(hw, vm, VM_RESCAN), 0);
      if (rescanConsumers(hw, vm)) hw.st(vmField(hw, vm, VM_RESCAN), 1);
      n++;
    }
    for (let i = 0; i < ITEM_STEPS; i++) {
      const head = workHead(hw, vm);
      if (head === null) break;
      const r = runItem(hw, vm, head.w);
      if (r === TD_BLOCKED) break;
      n++;
      if (r === TD_DONE) workDone(hw, vm, head.pos);
    }
    return n;
  } finally {
    lockGive(hw.i32, lock);
  }
}

/**
 * After lost events (a consumer's queue overflowed, or a VMM died with events read but not
 * handled): each consumer rescans, in chain order. KVM its entries (kvmRescan); then, for
 * every record being torn down (FREED by the VMM, or with a dying bond: a lost FREE or
 * UNBIND), the VDCM's quiescing and the IOMMU driver's teardown, as the events would have
 * queued them. A live record with live bonds is left alone (its programmed mdevs stay).
 * A record whose VDCM and IOMMU items are queued and not started yet is skipped
 * (workQueuedTeardowns): they run later than a new pair would and see the same state. Before,
 * every rescan queued the pair again: in threaded vm-crash runs with kill-vmm (a rescan per
 * VMM death, each over 500+ freed records of the destroyed VM) the duplicates filled the
 * 8192-entry ring, after which every kernel step rescanned and failed (14.8 items per freed
 * PASID against 3.8 without kills; measured with scratch counters).
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns true when the workqueue filled up before the scan ended (rescan later)
 */
export function rescanConsumers(hw: HwContext, vm: number): boolean {
  if (kvmRescan(hw, vm, workQueuedKvmAcks(hw, vm))) return true;
  // After KVM's items: a teardown KVM just queued an item for gets a VDCM and IOMMU pair behind it.
  const queued = workQueuedTeardowns(hw, vm);
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    const st = hw.ld(vpField(hw, vm, r, VP_STATE));
    if (st === VPS_FREE || (st === VPS_LIVE && !hasDyingBond(hw, vm, r))) continue;
    const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
    const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
    if (queued.has(`${pasid}:${gen}`)) continue;
    if (!workQueue(hw, vm, WORK_VDCM_CLEAR, pasid, gen, -1)) return true;
    if (!workQueue(hw, vm, WORK_IOMMU_TEARDOWN, pasid, gen, IOMMU_RESCANNED)) return true;
  }
  return false;
}

function hasDyingBond(hw: HwContext, vm: number, r: number): boolean {
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = recordBond(hw, vm, r, pf);
    if (b >= 0 && hw.ld(bf(hw, b, B_STATE)) === BS_DYING) return true;
  }
  return false;
}

function dispatch(hw: HwContext, vm: number, consumer: number, e: VmNotification): void {
  hw.log.emit(Ev.NOTIFY, e.id, 0, -1, consumer, e.event, vm);
  let rescan = false;
  if (consumer === KVM) rescan = kvmHandle(hw, vm, e);
  else if (consumer === VDCM) rescan = vdcmHandle(hw, vm, e);
  else if (consumer === IOMMU) rescan = iommuGuestHandle(hw, vm, e);
  if (rescan) hw.st(vmField(hw, vm, VM_RESCAN), 1);
}

function runItem(hw: HwContext, vm: number, w: number): number {
  switch (wk(hw, w, WK_KIND)) {
    case WORK_KVM_PROGRAM:
      return kvmProgramStep(hw, vm, w);
    case WORK_KVM_ACK:
      return kvmAckStep(hw, vm, w);
    case WORK_VDCM_CLEAR:
      return vdcmStep(hw, vm, w);
    case WORK_IOMMU_TEARDOWN:
      return iommuTeardownStep(hw, vm, w);
    default:
      return TD_DONE;
  }
}

/**
 * True when VM `vm`'s kernel has nothing queued (stale on return).
 *
 * Context: any thread.
 */
export function vmKernelIdle(hw: HwContext, vm: number): boolean {
  return workHead(hw, vm) === null;
}
